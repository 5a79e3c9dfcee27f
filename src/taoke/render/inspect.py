"""Renderers for ``taoke inspect`` and ``taoke llamafy`` results: rich text and JSON. They never compute."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from taoke.model import HParams
from taoke.render.common import fmt_count, json_report
from taoke.render.svg import clean

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


# rows of the tensor-role table shown as text: a release of 100,000 distinct names made 100,000 rows,
# and laying them out cost rich more CPU than the whole analysis (issue 16); JSON keeps every group
ROLE_ROWS = 500
WIDTH = 200  # columns in a pipe or a file: tensor names are long and must not be cut


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _shape(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def inspect_renderables(result: Any) -> list[Any]:
    """The rich renderables of an InspectResult, top to bottom."""
    d = result.to_dict()
    out: list[Any] = []
    fam = d["family"]
    title = Text.assemble(
        (f"{d['name']}", "bold"),
        "  ",
        (fam.get("label") or "unknown family", "bold green"),
        f"  (confidence {fam.get('confidence', 0):.2f})",
    )
    out.append(title)
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("source", f"{d['source']} ({d['kind']})")
    summary.add_row(
        "parameters", f"{d['n_params']:,} ({fmt_count(d['n_params'])}) in {d['n_tensors']} tensors"
    )
    summary.add_row(
        "dtypes", ", ".join(f"{k} x{v}" for k, v in sorted(d["dtypes"].items(), key=lambda kv: -kv[1]))
    )
    hp = d["hparams"]
    hp_text = ", ".join(
        f"{k}={hp[k]}"
        for k in (*HParams.INT_FIELDS, "rope_theta", "tied_embeddings")
        if hp.get(k) is not None
    )
    if hp.get("rope_scaling"):
        hp_text += f", rope_scaling={hp['rope_scaling']}"
    summary.add_row("hyper-params", hp_text)
    if d.get("experts"):
        summary.add_row("experts", d["experts"].get("summary") or d["experts"].get("error", ""))
    if fam.get("hf_class") or fam.get("model_type"):
        summary.add_row("config class", f"{fam.get('hf_class')} / model_type {fam.get('model_type')}")
    if fam.get("gguf_arch"):
        summary.add_row("gguf arch", str(fam["gguf_arch"]))
    tok = d["tokenizer"]
    if tok:
        tok_text = f"{tok.get('kind') or '?'}, {tok.get('size') or '?'} ids"
        if tok.get("pre"):
            tok_text += f", pre={tok['pre']}"
        if tok.get("merges"):
            tok_text += f", {tok['merges']} merges"
        tok_text += f" ({tok.get('container') or tok.get('source')})"
        if tok.get("nearest"):
            tok_text += f"; nearest known: {tok['nearest']['name']} ({tok['nearest']['relation']})"
        if tok.get("error"):
            tok_text += f" [unreadable: {tok['error']}]"
        summary.add_row("tokenizer", tok_text)
    else:
        summary.add_row("tokenizer", "none found")
    lic = d["licence"]
    summary.add_row(
        "licence",
        "; ".join(
            f"{x['source']}: {x['value']}" + (f" (= {x['identified']})" if x.get("identified") else "")
            for x in lic
        )
        if lic
        else "none found",
    )
    summary.add_row(
        "custom code", ", ".join(d["code_files"]) + " (never imported)" if d["code_files"] else "none"
    )
    if d.get("alternatives"):
        summary.add_row("also in folder", ", ".join(d["alternatives"]) + " (not read)")
    if d.get("verify"):
        v = d["verify"]
        summary.add_row(
            "verified",
            f"read all {v['canonical_tensors'] + v['other_tensors']} tensors "
            f"({v['values']:,} values) in {v['seconds']} s; non-finite: {len(v['nonfinite'])}",
        )
    out.append(summary)

    files = Table(title="files", title_justify="left", show_edge=False)
    files.add_column("path")
    files.add_column("format")
    files.add_column("size", justify="right")
    files.add_column("tensors", justify="right")
    for f in d["files"]:
        files.add_row(f["path"], str(f.get("format")), _size(f.get("size")), str(f.get("n_tensors", "")))
    out.append(files)

    roles = Table(
        title="tensor roles (canonical <- stored / family HF name)", title_justify="left", show_edge=False
    )
    roles.add_column("canonical", no_wrap=True)
    roles.add_column("<-", no_wrap=True)
    roles.add_column("n", justify="right")
    roles.add_column("dtype")
    roles.add_column("shape")
    groups = d["tensor_groups"]
    for g in groups[:ROLE_ROWS]:
        canon = g["canonical"] or "(no role)"
        if g.get("parts"):
            canon += " = " + " + ".join(p.split(".")[-2] for p in g["parts"])
        if g["canonical"] is None:
            source = g["stored"]
        elif g["stored"] != g["canonical"]:
            source = g["stored"]
        else:
            source = f"(HF) {g['hf_name']}" if g.get("hf_name") else ""
        roles.add_row(canon, source, f"{g['count']}x", g["dtype"], _shape(g["shape"]))
    if len(groups) > ROLE_ROWS:
        hidden = sum(g["count"] for g in groups[ROLE_ROWS:])
        roles.caption = (
            f"... and {len(groups) - ROLE_ROWS} more groups ({hidden} tensors) not shown; "
            "--format json lists every tensor"
        )
    out.append(roles)

    findings = sorted(d["evidence"], key=lambda e: _SEVERITY_ORDER.get(e.get("severity", "info"), 9))
    ftable = Table(title="findings", title_justify="left", show_edge=False)
    ftable.add_column("severity")
    ftable.add_column("analyzer")
    ftable.add_column("finding")
    for e in findings:
        sev = e.get("severity", "info")
        ftable.add_row(Text(sev, style=_SEVERITY_STYLE.get(sev, "")), e["analyzer"], e["message"])
    out.append(ftable)
    for w in d.get("warnings") or []:
        out.append(Text(f"warning: {w}", style="yellow"))
    if d.get("metadata") is not None:
        out.extend(metadata_renderables(d["metadata"]))
    return out


def _value(row: dict[str, Any]) -> Text:
    """A summarised metadata value as one literal line: control characters shown, never rich markup."""
    v = row.get("value")
    text = clean(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v))
    if row.get("count") is not None:
        if isinstance(v, str):
            text += f" ... ({row['count']} characters)"
        elif row.get("truncated"):
            text += f" ... ({row['count']} items)"
    return Text(text)


def _kv_table(title: str, rows: list[dict[str, Any]], not_shown: int = 0, typed: bool = False) -> Table:
    t = Table(title=clean(title), title_justify="left", show_edge=False)
    t.add_column("key", no_wrap=True)
    if typed:
        t.add_column("type")
    t.add_column("value", overflow="fold")
    for r in rows:
        cells = [Text(clean(r["key"]))] + ([Text(clean(r.get("type", "")))] if typed else []) + [_value(r)]
        t.add_row(*cells)
    if not_shown:
        t.caption = f"... and {not_shown} more not shown"
    return t


def metadata_renderables(m: dict[str, Any]) -> list[Any]:
    """``taoke inspect --metadata``: every GGUF key/value, safetensors metadata, config.json and card
    fields (long values summarised), and every tensor's shape with its axis order labelled."""
    out: list[Any] = []
    for g in m.get("gguf") or []:
        out.append(_kv_table(f"GGUF metadata: {g['file']}", g["entries"], g.get("not_shown", 0), typed=True))
    for g in m.get("safetensors") or []:
        out.append(_kv_table(f"safetensors __metadata__: {g['file']}", g["entries"], g.get("not_shown", 0)))
    if m.get("config"):
        out.append(_kv_table("config.json", m["config"], m.get("config_not_shown", 0)))
    if m.get("card"):
        out.append(_kv_table("model card (YAML front matter)", m["card"], m.get("card_not_shown", 0)))
    if m.get("tensors"):
        t = Table(
            title="tensors: shape in row-major order (slowest axis first, as numpy/PyTorch index it); "
            "GGML ne: the GGUF file's order (fastest axis first)",
            title_justify="left",
            show_edge=False,
        )
        for col in ("file", "tensor", "dtype", "shape [row-major]", "GGML ne [fastest first]"):
            t.add_column(col)
        for r in m["tensors"]:
            t.add_row(
                Text(clean(r["file"])),
                Text(clean(r["name"])),
                Text(clean(r["dtype"])),
                "[" + ", ".join(map(str, r["shape"])) + "]",
                "[" + ", ".join(map(str, r["ggml_ne"])) + "]" if r.get("ggml_ne") is not None else "-",
            )
        if m.get("tensors_not_shown"):
            t.caption = f"... and {m['tensors_not_shown']} more not shown"
        out.append(t)
    return out


def render_inspect(result: Any, fmt: str = "text") -> str | list[Any]:
    """An InspectResult as JSON text, or the rich renderables to draw (text, html)."""
    if fmt == "json":
        return json_report("inspect", result, str((result.family or {}).get("family") or "unknown"))
    return inspect_renderables(result)


def render_llamafy(result: Any, fmt: str = "text") -> str | list[Any]:
    """A LlamafyResult as JSON text, or the rich renderables to draw (text, html)."""
    if fmt == "json":
        return json_report("llamafy", result, "verified")
    d = result.to_dict()
    head = Text.assemble(
        ("llamafy ", "bold"),
        f"{d['source']} -> {d['out']}  ",
        (f"({d['family']} -> LlamaForCausalLM)", "green"),
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row(
        "tensors", f"{d['n_tensors']} written in {len(d['shards'])} shard(s), {d['n_params']:,} parameters"
    )
    grid.add_row("renamed", f"{d['renamed']}; split from fused: {d['split']}")
    bits = d["verify"]["bitwise"]
    grid.add_row(
        "bit-for-bit",
        f"{bits['equal']}/{bits['checked']} output tensors equal their source slice"
        + (f"; MISMATCH: {', '.join(bits['mismatched'][:5])}" if bits["mismatched"] else ""),
    )
    logits = d["verify"].get("logits")
    if logits is None:
        grid.add_row("logits", "not checked (install the torch extra: pip install 'taoke[torch]')")
    elif logits.get("skipped"):
        grid.add_row("logits", f"not checked: {logits['skipped']}")
    else:
        grid.add_row(
            "logits",
            f"transformers LlamaForCausalLM vs reference forward on {logits['batch']}x"
            f"{logits['seq_len']} probe tokens: max |diff| {logits['max_abs_diff']:.3g} "
            f"(max |logit| {logits['max_abs_logit']:.3g}), argmax agreement "
            f"{logits['argmax_agreement']:.1%} -> {'PASS' if logits['passed'] else 'FAIL'}",
        )
    for note in d.get("notes") or []:
        grid.add_row("note", note)
    return [head, grid]
