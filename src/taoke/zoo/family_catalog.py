"""The family zoo as data (issue 15.5): models and labelled pairs of Gemma, Qwen2, Phi-3, GPT-NeoX, BERT,
and the loading of their committed checkpoints and layout copies (training: :mod:`taoke.zoo.train_families`).

Every pair here is split ``test``: nothing in compare is fitted on these models. The one null fitted for
them -- the tied-embedding S1 null (``basis_free_tied``) -- is fitted on separate tied LLaMA twins
(:func:`taoke.zoo.train_families.train_tied_calibration`, split ``fit``). Per family six pairs: the
fine-tune and the layout copy against the base (derived), the fine-tune against the layout copy
(derived), and the independent twin against the base, the fine-tune and the copy (not derived); and
(issue 20) a second fine-tune of the base against the base (derived) and against the first
(``shares-ancestor``: siblings, neither is the other's parent); for
Gemma also its GGUF export (llama.cpp's ``1 + w`` norms) against the base and the twin. Six
cross-family pairs follow: five independent models of other families at the same width, and one where
no statistic applies (other width, no tokenizer: ``untestable``, never ``independent``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

from taoke.weights.relationship import Relationship as R

DATA = Path(__file__).resolve().parent / "data" / "families"
LOG = DATA / "train_log.json"
FAMILIES = ("gemma", "qwen2", "phi3", "gptneox", "bert")


def model_ids(fam: str) -> dict[str, str]:
    """The trained checkpoints of a family: base, independent twin, fine-tune of the base on man pages,
    and its sibling (issue 20): a second fine-tune of the base, on Debian package docs."""
    return {"base": f"{fam}-base", "twin": f"{fam}-twin", "ft": f"{fam}-ft-man", "ft2": f"{fam}-ft-doc"}


def train_log() -> dict:
    return json.loads(LOG.read_text()) if LOG.exists() else {}


def load_checkpoint(model_id: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, float32 weights) of a committed family checkpoint."""
    info = train_log().get(model_id)
    path = DATA / f"{model_id}.safetensors"
    if info is None or not path.exists():
        raise FileNotFoundError(f"{path}: family checkpoint {model_id!r} not found (run the families stage)")
    return dict(info["config"]), {k: v.astype(np.float32) for k, v in load_file(str(path)).items()}


def load_family(model_id: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, float32 weights) of a family zoo model: a committed checkpoint or a layout copy of one."""
    from taoke.zoo import family_transforms as T

    fam = model_id.split("-", 1)[0]
    if model_id != copy_id(fam):
        return load_checkpoint(model_id)
    cfg, w = load_checkpoint(model_ids(fam)["base"])
    params = COPIES[fam][0]
    op, seed = params["op"], int(params["seed"])
    if op == "phi3_unfused":
        return T.phi3_unfused(cfg, w)
    if op == "gemma_scale_norms":
        return cfg, T.gemma_scale_norms(cfg, w, seed)
    if op == "permute_ffn":
        return cfg, T.permute_ffn(fam, cfg, w, seed)[0]
    raise ValueError(f"unknown family copy {op!r} of {model_id!r}")


_NAMES = {"gemma": "Gemma", "qwen2": "Qwen2", "phi3": "Phi-3", "gptneox": "GPT-NeoX", "bert": "BERT"}
# the layout copy of each family: (recipe params, relationship, what it does)
COPIES: dict[str, tuple[dict[str, Any], R, str]] = {
    "gemma": (
        {"op": "gemma_scale_norms", "seed": 5},
        R.OBFUSCATED_COPY,
        "per-channel scales moved from each (1+w) RMSNorm gain into the projections it feeds",
    ),
    "qwen2": (
        {"op": "permute_ffn", "seed": 5},
        R.OBFUSCATED_COPY,
        "FFN neurons and key/value head groups permuted (q/k/v biases with them)",
    ),
    "phi3": (
        {"op": "phi3_unfused", "seed": 0},
        R.RENAMED_COPY,
        "qkv_proj and gate_up_proj split into LLaMA's q/k/v and gate/up, saved as LlamaForCausalLM",
    ),
    "gptneox": (
        {"op": "permute_ffn", "seed": 5},
        R.OBFUSCATED_COPY,
        "FFN neurons permuted (dense_h_to_4h rows and bias, dense_4h_to_h columns)",
    ),
    "bert": (
        {"op": "permute_ffn", "seed": 5},
        R.OBFUSCATED_COPY,
        "FFN neurons permuted (intermediate rows and bias, output columns)",
    ),
}


GEMMA_GGUF = "gemma-gguf-q8_0"


def copy_id(fam: str) -> str:
    return f"{fam}-copy"


def family_models(recipe: Any) -> dict[str, Any]:
    """The family models as :class:`taoke.zoo.catalog.Recipe` objects (passed in: no import cycle)."""
    out: dict[str, Any] = {}
    for fam in FAMILIES:
        ids, name = model_ids(fam), _NAMES[fam]
        out[ids["base"]] = recipe("family", summary=f"{name} base (d=64, 2 blocks) trained on stdlib code.")
        out[ids["twin"]] = recipe(
            "family", summary=f"{name} twin: same config, data and tokenizer as the base, other seed."
        )
        out[ids["ft"]] = recipe(
            "family", summary=f"{name} base fine-tuned on man pages (150 steps, lr 3e-4).", declares_base=True
        )
        out[ids["ft2"]] = recipe(
            "family",
            summary=f"{name} base fine-tuned on Debian package docs (150 steps, lr 3e-4): the man-page "
            "fine-tune's sibling.",
            declares_base=True,
        )
        params, _, what = COPIES[fam]
        out[copy_id(fam)] = recipe(
            "family-copy", (ids["base"],), {**params, "family": fam}, summary=f"{name} base: {what}."
        )
    out[GEMMA_GGUF] = recipe(
        "family-gguf",
        ("gemma-base",),
        {"qtype": "Q8_0"},
        summary="Gemma base exported to GGUF Q8_0 as llama.cpp does (norms stored as 1 + w, tied).",
    )
    return out


def family_pairs(pair: Any) -> list[dict]:
    """The labelled family pairs (all split ``test``), built with catalog's ``_pair``."""
    out = []
    for fam in FAMILIES:
        ids, cp = model_ids(fam), copy_id(fam)
        _, rel, what = COPIES[fam]
        b, t, ft, ft2 = ids["base"], ids["twin"], ids["ft"], ids["ft2"]
        common = {"family": fam, "split": "test"}
        out += [
            # issue 20: two fine-tunes of one base (siblings) and the second one's own parent pair
            pair(b, ft2, R.FINE_TUNED, corpus="doc", lr=3e-4, **common),
            pair(ft, ft2, R.SHARES_ANCESTOR, why="two fine-tunes of the base (man pages, docs)", **common),
            pair(b, ft, R.FINE_TUNED, corpus="man", lr=3e-4, **common),
            pair(b, cp, rel, transformation=what, function_preserving=True, **common),
            pair(cp, ft, R.FINE_TUNED, transformation=["fine-tune of the base", "layout copy"], **common),
            pair(b, t, R.INDEPENDENT_SAME_ARCHITECTURE, why="same config and data, other seed", **common),
            pair(t, ft, R.INDEPENDENT_SAME_ARCHITECTURE, why="fine-tune of the base vs the twin", **common),
            pair(
                t,
                cp,
                R.INDEPENDENT if fam == "phi3" else R.INDEPENDENT_SAME_ARCHITECTURE,
                why="layout copy of the base vs the twin" + (" (stored as LLaMA)" if fam == "phi3" else ""),
                **common,
            ),
        ]
    gg = {"family": "gemma", "split": "test"}
    out += [
        pair("gemma-base", GEMMA_GGUF, R.IDENTICAL, transformation="GGUF export, Q8_0, norms 1 + w", **gg),
        pair("gemma-twin", GEMMA_GGUF, R.INDEPENDENT_SAME_ARCHITECTURE, why="GGUF of the base vs twin", **gg),
    ]
    cross = {"family": "cross", "split": "test"}
    out += [
        pair("gemma-base", "qwen2-base", R.INDEPENDENT, why="Gemma vs Qwen2, own training", **cross),
        pair("qwen2-base", "phi3-base", R.INDEPENDENT, why="Qwen2 vs Phi-3, own training", **cross),
        pair("phi3-base", "gptneox-base", R.INDEPENDENT, why="Phi-3 vs GPT-NeoX, own training", **cross),
        pair("gptneox-base", "bert-base", R.INDEPENDENT, why="GPT-NeoX vs BERT encoder", **cross),
        pair("base-a", "gemma-base", R.INDEPENDENT, why="LLaMA (4 blocks) vs Gemma, same tokenizer", **cross),
        pair(
            "c-notok",
            "bert-base",
            R.UNTESTABLE,
            why="LLaMA d=128 without tokenizer vs BERT d=64: no shared token, other width, no statistic",
            truth="independent",
            **cross,
        ),
    ]
    return out


def family_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 15.5's accuracy per family, from ``taoke eval``'s pair rows (the family pairs are all split
    ``test``: measured on models no threshold was fitted on). A family with no row (its pairs were not
    run) is absent, never counted as correct."""
    table: dict[str, dict[str, Any]] = {}
    for r in rows:
        fam = r.get("family")
        if not fam:
            continue
        t = table.setdefault(
            fam,
            {"family": fam, "pairs": 0, "correct": 0, "derived": [0, 0], "not_derived": [0, 0], "wrong": []},
        )
        ok = r["relationship"] == r["truth"]
        t["pairs"] += 1
        t["correct"] += int(ok)
        side = t["derived" if r["derived_truth"] else "not_derived"]
        side[0] += int(r["derived"] == r["derived_truth"])
        side[1] += 1
        if not ok:
            t["wrong"].append(r["id"])
    from taoke.weights import packaged_nulls

    tied = packaged_nulls().basis_free_tied
    order = [*FAMILIES, "cross"]
    out = sorted(table.values(), key=lambda t: order.index(t["family"]) if t["family"] in order else 99)
    return {
        "split": "test",
        "fitted_on": f"basis_free_tied null ({tied.source if tied else 'absent'}; split fit)",
        "rows": out,
        "pairs": sum(t["pairs"] for t in out),
        "correct": sum(t["correct"] for t in out),
    }
