"""``taoke llamafy``: rewrite a renamed or fused LLaMA-family release as canonical HF Llama, verified.

The job owns the output folder: everything is written into a temporary folder beside OUT, verified
(bit for bit, and by logits with the ``torch`` extra), and only then renamed to OUT, so OUT is never
half-written. The rewriting itself is :mod:`taoke.rewrite`.

>>> from taoke import llamafy
>>> llamafy("path/to/yi-like", "out/")              # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taoke.errors import AnalysisError, SourceNotFound, TaokeError
from taoke.limits import Limits
from taoke.model import load
from taoke.release import Release
from taoke.rewrite import (
    COPY_FILES,
    DEFAULT_SHARD_BYTES,
    check_convertible,
    compare_logits,
    llama_config,
    llama_plan,
    verify_bitwise,
    write_shards,
)

__all__ = ["LlamafyResult", "llamafy"]


@dataclass
class LlamafyResult:
    """What was written and how it was verified."""

    source: str
    out: str
    family: str
    n_tensors: int
    n_params: int
    shards: list[str]
    renamed: int  # output tensors whose name differs from the stored name
    split: int  # output tensors cut out of a fused stored tensor
    mapping: list[dict[str, Any]]  # {name, source, part, dtype, shape}
    copied: list[str]
    verify: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "family": self.family,
            "n_tensors": self.n_tensors,
            "n_params": self.n_params,
            "shards": self.shards,
            "renamed": self.renamed,
            "split": self.split,
            "copied": self.copied,
            "verify": self.verify,
            "notes": self.notes,
            "mapping": self.mapping,
        }


def llamafy(
    source: Release | str | Path,
    out: str | Path,
    force: bool = False,
    limits: Limits | None = None,
    verify_logits: bool | None = None,
    shard_bytes: int | None = None,
) -> LlamafyResult:
    """Rewrite ``source`` as a canonical HF Llama release in ``out``, verified; nothing half-written.

    ``verify_logits``: None = when torch is installed, True = required (error without torch), False = skip.
    ``shard_bytes``: the largest safetensors shard (None: ``DEFAULT_SHARD_BYTES``).
    Raises a one-line :class:`TaokeError` when ``out`` exists (unless ``force``), when the release is not
    a LLaMA-layout family, or when verification fails (``out`` is then left untouched).
    """
    shard_bytes = DEFAULT_SHARD_BYTES if shard_bytes is None else shard_bytes
    out = Path(out).expanduser()
    if out.exists() and not force:
        raise TaokeError("output exists; pass --force to replace it", out)
    if out.exists() and not out.is_dir():
        raise TaokeError("output exists and is not a folder", out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise SourceNotFound("parent folder of the output does not exist", parent)
    model = load(source, limits)
    limits = model.limits
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.taoke-", dir=parent))
    try:
        notes = check_convertible(model)
        plan = llama_plan(model)
        shards = write_shards(model, plan, tmp, shard_bytes)
        dtypes = {item["dtype"] for item in plan}
        main_dtype = "F32" if "F32" in dtypes else sorted(dtypes)[0]
        (tmp / "config.json").write_text(json.dumps(llama_config(model, main_dtype), indent=1))
        copied: list[str] = []
        for rel in list(COPY_FILES) + list(model.license_files) + ["README.md"]:
            path = model.release.find(rel)
            if path is not None and "/" not in rel and not (tmp / rel).exists():
                shutil.copyfile(path, tmp / rel)
                copied.append(rel)
        bitwise = verify_bitwise(model, plan, tmp, limits)
        if bitwise["mismatched"]:
            raise AnalysisError(
                f"verification failed: {len(bitwise['mismatched'])} written tensor(s) differ from "
                f"their source (e.g. {bitwise['mismatched'][0]}); nothing written",
                out,
            )
        verify: dict[str, Any] = {"bitwise": bitwise, "logits": None}
        if verify_logits is not False:
            logits = compare_logits(model, tmp)
            if logits.get("skipped") and verify_logits:
                raise TaokeError(f"logits check requested but {logits['skipped']}", out)
            if not logits.get("skipped") and not logits["passed"]:
                raise AnalysisError(
                    f"verification failed: logits differ by {logits['max_abs_diff']:.3g} "
                    f"(tolerance {logits['tolerance']:.3g}); nothing written",
                    out,
                )
            verify["logits"] = logits
        result = LlamafyResult(
            source=model.release.spec,
            out=str(out),
            family=model.family.label,
            n_tensors=len(plan),
            n_params=int(sum(int(np.prod(p["shape"], dtype=np.int64)) for p in plan)),
            shards=shards,
            renamed=sum(1 for p in plan if p["name"] != p["source"]),
            split=sum(1 for p in plan if p["part"] is not None),
            mapping=[{k: p[k] for k in ("name", "source", "part", "dtype", "shape")} for p in plan],
            copied=copied,
            verify=verify,
            notes=notes,
        )
        if model.is_gguf and not any(c in copied for c in ("tokenizer.json", "tokenizer.model")):
            result.notes.append(
                "the GGUF's embedded tokenizer is not converted: OUT has weights and config only"
            )
        model.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private; OUT is an ordinary folder
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.taoke-old-", dir=parent))
            os.replace(out, trash / "old")
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
        return result
    except BaseException:
        model.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
