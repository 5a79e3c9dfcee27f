"""``taoke inspect``: read a release and say exactly what it is.

Files, size, family, the role of every tensor, tokenizer, licence and the findings of the architecture
and claims analyzers, from one Model view (the release is resolved once, by :func:`taoke.model.load`,
or handed in already resolved).

>>> from taoke import inspect
>>> report = inspect("path/to/release")                  # doctest: +SKIP
>>> report.family["label"], report.n_params             # doctest: +SKIP
('llama family', 134515008)
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.analyzers import architecture, claims
from taoke.analyzers import tokenizer as tok_analyzer
from taoke.analyzers.architecture import block_pattern
from taoke.analyzers.license import identify_text
from taoke.errors import TaokeError
from taoke.evidence import Evidence
from taoke.limits import Limits
from taoke.model import Model, load
from taoke.release import Release
from taoke.release.bounded import read_text
from taoke.tokenizers import load_tokenizer

__all__ = ["InspectResult", "inspect", "verify_model"]

_TEXT_HEAD = 4096  # bytes of a licence file read to show its first line


@dataclass
class InspectResult:
    """Everything ``taoke inspect`` reports about one release (renderers draw it, never compute)."""

    source: str
    name: str
    kind: str
    format: str | None
    files: list[dict[str, Any]]
    n_tensors: int
    n_params: int
    dtypes: dict[str, int]
    family: dict[str, Any]
    hparams: dict[str, Any]
    tensors: list[dict[str, Any]]  # every stored tensor with its role
    tensor_groups: list[dict[str, Any]]  # the same, grouped per block pattern
    tokenizer: dict[str, Any]
    licence: list[dict[str, Any]]
    code_files: list[str]
    tokenizer_files: list[str]
    license_files: list[str]
    architecture: dict[str, Any]
    claims: dict[str, Any]
    evidence: list[Evidence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    verify: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None  # inspect(metadata=True): every key/value, bounded
    experts: dict[str, Any] | None = None  # mixture of experts (taoke.moe.MoELayout), None when dense

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "kind": self.kind,
            "format": self.format,
            "files": self.files,
            "n_tensors": self.n_tensors,
            "n_params": self.n_params,
            "dtypes": self.dtypes,
            "family": self.family,
            "hparams": self.hparams,
            "tokenizer": self.tokenizer,
            "licence": self.licence,
            "code_files": self.code_files,
            "tokenizer_files": self.tokenizer_files,
            "license_files": self.license_files,
            "alternatives": self.alternatives,
            "architecture": self.architecture,
            "claims": self.claims,
            "evidence": [e.to_dict() for e in self.evidence],
            "warnings": self.warnings,
            "verify": self.verify,
            "experts": self.experts,
            **({"metadata": self.metadata} if self.metadata is not None else {}),
            "tensor_groups": self.tensor_groups,
            "tensors": self.tensors,
        }


def inspect(
    source: Release | str | Path, limits: Limits | None = None, verify: bool = False, metadata: bool = False
) -> InspectResult:
    """Read a release and say exactly what it is: files, size, family, roles, tokenizer, licence, findings.

    ``verify=True`` also reads every tensor (dequantizing quantized ones) through the canonical view and
    checks that all values are finite: a full read of the weights, not just their headers.
    ``metadata=True`` also lists every GGUF key/value, safetensors ``__metadata__``, config.json field
    and model-card field, and every stored tensor's shape with its axis order (see :func:`metadata_of`).
    """
    model = load(source, limits)
    try:
        arch = architecture.analyze(model)
        clm = claims.analyze(model)
        tok, tok_evidence = _tokenizer(model)
        tensors, groups = _tensor_table(model)
        files = [
            {
                "path": model.release.relative(Path(f.path)),
                "format": f.format,
                "size": f.size,
                "n_tensors": f.n_tensors,
                "dtypes": f.dtypes,
            }
            for f in model.files
        ]
        weight_paths = {Path(f.path) for f in model.files}
        for p in model.release.files:
            if p not in weight_paths:
                try:
                    size = p.stat().st_size
                except OSError:
                    size = None
                files.append(
                    {"path": model.release.relative(p), "format": _side_format(model, p), "size": size}
                )
        result = InspectResult(
            source=model.release.spec,
            name=model.name,
            kind=model.release.kind,
            format=model.format,
            files=files,
            n_tensors=len(model.tensor_infos),
            n_params=model.n_params,
            dtypes=model.dtypes(),
            family=model.family.to_dict(),
            hparams=model.hparams.to_dict(),
            tensors=tensors,
            tensor_groups=groups,
            tokenizer=tok,
            licence=_licence(model),
            code_files=list(model.code_files),
            tokenizer_files=list(model.tokenizer_files),
            license_files=list(model.license_files),
            architecture=arch.to_dict(),
            claims=clm.to_dict(),
            evidence=list(arch.evidence) + list(clm.evidence) + tok_evidence,
            warnings=list(model.warnings),
            alternatives=list(model.alternatives),
            experts=_experts(model),
        )
        if model.code_files:
            result.evidence.append(
                Evidence(
                    "architecture",
                    "custom-code",
                    f"{len(model.code_files)} Python file(s) ship with the release "
                    f"({', '.join(model.code_files[:5])}); taoke never imports them",
                    "info",
                    detail={"files": model.code_files},
                )
            )
        if metadata:
            result.metadata = metadata_of(model)
        if verify:
            result.verify = verify_model(model)
            if result.verify["nonfinite"]:
                result.evidence.append(
                    Evidence(
                        "architecture",
                        "nonfinite-weights",
                        f"{len(result.verify['nonfinite'])} tensor(s) hold NaN/inf values",
                        "high",
                        detail={"tensors": result.verify["nonfinite"][:20]},
                    )
                )
        return result
    finally:
        model.close()


METADATA_ITEMS = 8  # items of a long array shown
METADATA_CHARS = 240  # characters of a long string shown
METADATA_ENTRIES = 5000  # entries listed per section at most (a hostile file may hold millions)


def summarise(value: Any) -> dict[str, Any]:
    """A metadata value made small enough to show: ``{"value": ..., "count"?: n, "truncated"?: True}``.

    Strings longer than ``METADATA_CHARS`` are cut; arrays show their first ``METADATA_ITEMS`` items
    (summarised in turn) and their length; bytes show as their length and a hex prefix.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return {"value": bytes(value[:16]).hex(), "count": len(value), "truncated": len(value) > 16}
    if isinstance(value, str):
        if len(value) > METADATA_CHARS:
            return {"value": value[:METADATA_CHARS], "count": len(value), "truncated": True}
        return {"value": value}
    if isinstance(value, (list, tuple)):
        items = [summarise(v)["value"] for v in value[:METADATA_ITEMS]]
        return {"value": items, "count": len(value), "truncated": len(value) > METADATA_ITEMS}
    if isinstance(value, dict):
        keys = list(value)[:METADATA_ITEMS]
        return {
            "value": {str(k): summarise(value[k])["value"] for k in keys},
            "count": len(value),
            "truncated": len(value) > METADATA_ITEMS,
        }
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"value": str(value)}
    return {"value": value}


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as dotted keys (lists stay values: they are summarised, not walked)."""
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict) and d:
        for k, v in d.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out.append((prefix, d))
    return out


def _entries(pairs: list[tuple[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    rows = [{"key": key, **summarise(value)} for key, value in pairs[:METADATA_ENTRIES]]
    return rows, max(0, len(pairs) - METADATA_ENTRIES)


def metadata_of(model: Model) -> dict[str, Any]:
    """Every key/value a release carries, bounded (``taoke inspect --metadata``, after gguf-dump).

    ``gguf``: per GGUF file, each metadata key with its GGUF type and its value summarised (long arrays:
    length and first items); ``safetensors``: each file's ``__metadata__``; ``config``: config.json
    flattened to dotted keys; ``card``: the model card's YAML fields; ``tensors``: every stored tensor
    with its shape in row-major order (slowest axis first, as numpy and PyTorch index it) and, for
    GGUF, GGML's ``ne`` order (fastest axis first, as the file stores it).
    """
    out: dict[str, Any] = {"gguf": [], "safetensors": [], "config": [], "card": [], "tensors": []}
    for rel, handle in model.gguf_files():
        keys = handle.keys()
        rows = [  # one full value in memory at a time
            {"key": k, **summarise(handle.field(k)), "type": handle.field_type(k)}
            for k in keys[:METADATA_ENTRIES]
        ]
        out["gguf"].append({"file": rel, "entries": rows, "not_shown": max(0, len(keys) - METADATA_ENTRIES)})
    for f in model.files:
        if f.format == "safetensors" and f.metadata:
            rows, more = _entries(_flatten(f.metadata))
            out["safetensors"].append(
                {"file": model.release.relative(Path(f.path)), "entries": rows, "not_shown": more}
            )
    out["config"], out["config_not_shown"] = _entries(_flatten(model.config)) if model.config else ([], 0)
    card = model.card.metadata if model.card is not None else {}
    out["card"], out["card_not_shown"] = _entries(_flatten(card)) if card else ([], 0)
    gguf_files = {rel for rel, _ in model.gguf_files()}
    for name, info in list(model.tensor_infos.items())[:METADATA_ENTRIES]:
        rel = model.release.relative(Path(info.file))
        row: dict[str, Any] = {"file": rel, "name": name, "dtype": info.dtype, "shape": list(info.shape)}
        if rel in gguf_files:
            row["ggml_ne"] = list(reversed(info.shape))
        out["tensors"].append(row)
    out["tensors_not_shown"] = max(0, len(model.tensor_infos) - METADATA_ENTRIES)
    return out


def verify_model(model: Model) -> dict[str, Any]:
    """Read every canonical tensor (and every stored tensor without a role) and check finiteness."""
    start = time.perf_counter()
    nonfinite: list[str] = []
    n_values = 0
    keys = model.canonical_keys()
    for key in keys:
        arr = model.canonical(key)
        n_values += arr.size
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            nonfinite.append(key)
        del arr
    unmapped = [n for n in model.tensor_infos if n not in model.roles]
    for name in unmapped:
        arr = model.read(name)
        n_values += arr.size
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            nonfinite.append(name)
    return {
        "canonical_tensors": len(keys),
        "other_tensors": len(unmapped),
        "values": int(n_values),
        "nonfinite": nonfinite,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _side_format(model: Model, path: Path) -> str:
    rel = model.release.relative(path)
    if rel in model.tokenizer_files:
        return "tokenizer"
    if rel in model.code_files:
        return "code (not executed)"
    if rel in model.license_files:
        return "licence"
    if model.card is not None and str(model.card.path) == str(path):
        return "model card"
    if path.name == "config.json":
        return "config"
    return path.suffix.lstrip(".") or "file"


def _tensor_table(model: Model) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    order: Counter[tuple[Any, ...]] = Counter()
    relative: dict[str, str] = {}  # one path resolution per file, not per tensor
    for name, info in model.tensor_infos.items():
        role = model.roles.get(name)
        rel = relative.get(info.file)
        if rel is None:
            rel = relative[info.file] = model.release.relative(Path(info.file))
        row = {
            "name": name,
            "dtype": info.dtype,
            "shape": list(info.shape),
            "numel": info.numel,
            "file": rel,
        }
        if role is not None:
            row.update(role.to_dict())
        rows.append(row)
        block = role.block if role is not None else None
        stored_pat = block_pattern(name, block)
        canon_pat = block_pattern(role.canonical, block) if role is not None else None
        parts = [block_pattern(p, block) for p in role.parts] if role is not None and role.parts else None
        hf_pat = block_pattern(role.hf_name, block) if role is not None and role.hf_name else None
        key = (stored_pat, canon_pat, info.dtype, tuple(info.shape))
        if key not in groups:
            groups[key] = {
                "stored": stored_pat,
                "canonical": canon_pat,
                "hf_name": hf_pat,
                "parts": parts,
                "dtype": info.dtype,
                "shape": list(info.shape),
                "count": 0,
                "tensor_type": role.tensor_type if role is not None else None,
            }
            order[key] = len(groups)
        groups[key]["count"] += 1
    return rows, [groups[k] for k in sorted(groups, key=lambda k: order[k])]


def _embedding_rows(model: Model) -> int | None:
    """Rows of the token embedding (what every token id must index), from the headers."""
    key = "token_embd.weight"
    if key in model.canonical_keys():
        return int(model.canonical_shape(key)[0])
    return None


def _tokenizer(model: Model) -> tuple[dict[str, Any], list[Evidence]]:
    """Tokenizer kind and size via taoke.tokenizers and its analyzer (identification, vocab vs embedding);
    GGUF metadata or the config's vocab_size when no tokenizer file can be read."""
    info: dict[str, Any] = {}
    evidence: list[Evidence] = []
    view = None
    if model.tokenizer_files or model.is_gguf:
        try:
            view = load_tokenizer(model.release, model.limits)
        except TaokeError as exc:  # an unreadable tokenizer is a finding, not the end of the inspection
            info["error"] = str(exc)
            evidence.append(Evidence("tokenizer", "tokenizer-unreadable", str(exc), "medium"))
    rows = _embedding_rows(model)
    if view is not None:
        info.update(
            {
                "kind": view.kind,
                "size": view.size,
                "container": view.container,
                "files": [model.release.relative(Path(p)) for p in view.source_files],
                "merges": len(view.merges),
                "source": "taoke.tokenizers",
            }
        )
        for key in ("pre", "tokenizer.ggml.pre"):
            if key in view.extra:
                info["pre"] = view.extra[key]
        try:
            analysis = tok_analyzer.analyze(view)
            evidence += list(analysis.evidence)
            best = analysis.identify.best if analysis.identify is not None else None
            if best is not None:
                info["nearest"] = {"name": best.name, "relation": best.relation}
            if rows is not None:
                evidence += tok_analyzer.check_vocab_vs_embeddings(view, rows)
        except TaokeError as exc:
            info["analysis_error"] = str(exc)
    else:
        md = model.gguf_metadata
        if "tokenizer.ggml.model" in md:
            tokens = md.get("tokenizer.ggml.tokens")
            info.update(
                {
                    "kind": md["tokenizer.ggml.model"],
                    "pre": md.get("tokenizer.ggml.pre"),
                    "size": tokens if isinstance(tokens, int) else (len(tokens) if tokens else None),
                    "source": "gguf metadata",
                }
            )
        elif model.hparams.vocab_size:
            info.update(
                {
                    "kind": None,
                    "size": model.hparams.vocab_size,
                    "source": model.hparams.source.get("vocab_size"),
                }
            )
    return info, evidence


def _licence(model: Model) -> list[dict[str, Any]]:
    """Licences the release states: licence files (first line), the card's ``license:``, GGUF metadata."""
    out: list[dict[str, Any]] = []
    for rel in model.license_files:
        path = model.release.find(rel)
        if path is None:
            continue
        try:
            with open(path, "rb") as fh:
                head = fh.read(_TEXT_HEAD).decode("utf-8", "replace")
        except OSError:
            continue
        first = next((ln.strip() for ln in _strip_markup(head).splitlines() if ln.strip()), "")
        entry: dict[str, Any] = {"source": rel, "value": first[:160]}
        try:
            matches = identify_text(read_text(path, model.limits))
            if matches and matches[0].f1 >= 0.5:
                entry["identified"] = matches[0].licence
                entry["f1"] = round(float(matches[0].f1), 3)
        except (TaokeError, OSError, ValueError, KeyError):
            pass
        out.append(entry)
    if model.card is not None and model.card.metadata.get("license") is not None:
        out.append({"source": "card license:", "value": str(model.card.metadata.get("license"))})
    lic = model.gguf_metadata.get("general.license")
    if lic:
        out.append({"source": "gguf general.license", "value": str(lic)})
    return out


def _strip_markup(text: str) -> str:
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", "\n", text)
    return re.sub(r"^[#>*\s-]+", "", text, flags=re.M)


def _experts(model: Model) -> dict[str, Any] | None:
    """The MoE layout (experts, active per token, shared experts) with its one-line summary."""
    from taoke.moe import moe_layout

    try:
        layout = moe_layout(model)
    except (TaokeError, ValueError, KeyError) as exc:
        return {"error": str(exc)}
    return None if layout is None else {**layout.to_dict(), "summary": layout.describe()}
