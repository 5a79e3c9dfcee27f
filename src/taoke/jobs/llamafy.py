"""``taoke llamafy``: rewrite a renamed or fused LLaMA-family release as canonical HF Llama, verified.

The job owns the output folder: everything is written into a temporary folder beside OUT, verified
(bit for bit, and by logits with the ``torch`` extra), and only then renamed to OUT, so OUT is never
half-written. The rewriting itself is :mod:`taoke.rewrite`.

WHY the output carries a manifest (:data:`MANIFEST`): ``--force`` replaces an OUT only when taoke wrote
it, file for file; a folder holding anything else (the user's files, the source itself, the working
directory) is refused, never deleted. OUT may not contain SOURCE nor lie inside a SOURCE folder.

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

from taoke._version import __version__
from taoke.errors import AnalysisError, SourceNotFound, TaokeError
from taoke.limits import Limits
from taoke.model import Model, load
from taoke.progress import Progress, no_progress
from taoke.release import Release
from taoke.rewrite import (
    COPY_FILES,
    DEFAULT_SHARD_BYTES,
    OUT_DTYPES,
    check_convertible,
    compare_logits,
    gguf_tokenizer_files,
    llama_config,
    llama_plan,
    verify_bitwise,
    write_shards,
)

__all__ = ["DTYPES", "MANIFEST", "LlamafyResult", "llamafy"]

MANIFEST = ".taoke-llamafy.json"
"""The file llamafy writes into OUT listing what it wrote: what ``--force`` may replace."""
DTYPES = ("auto", *OUT_DTYPES)
"""``--dtype`` choices: ``auto`` keeps each stored float type and writes quantized tensors as float32."""


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
    dtype: str = "F32"  # the (main) safetensors dtype written

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
            "dtype": self.dtype,
            "mapping": self.mapping,
        }


def llamafy(
    source: Release | str | Path,
    out: str | Path,
    force: bool = False,
    limits: Limits | None = None,
    verify_logits: bool | None = None,
    shard_bytes: int | None = None,
    dtype: str = "auto",
    progress: Progress = no_progress,
) -> LlamafyResult:
    """Rewrite ``source`` as a canonical HF Llama release in ``out``, verified; nothing half-written.

    ``verify_logits``: None = when torch is installed, True = required (error without torch), False = skip.
    ``shard_bytes``: the largest safetensors shard (None: ``DEFAULT_SHARD_BYTES``).
    ``dtype``: one of :data:`DTYPES`; a narrower type than the source's is verified against the source
    rounded to it. The tokenizer (converted from GGUF metadata when the release has no tokenizer files)
    and the licence files are carried over. Raises a one-line :class:`TaokeError` when ``out`` exists
    (unless ``force`` and taoke wrote it), contains the source or lies inside it, when the release is not
    a LLaMA-layout family, or when verification fails (``out`` is then left untouched).
    """
    if dtype not in DTYPES:
        raise TaokeError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    shard_bytes = DEFAULT_SHARD_BYTES if shard_bytes is None else shard_bytes
    out = Path(os.path.abspath(Path(out).expanduser()))
    if out.exists() and not out.is_dir():
        raise TaokeError("output exists and is not a folder", out)
    if out.exists() and not force:
        raise TaokeError("output exists; pass --force to replace it", out)
    parent = out.parent
    if not parent.is_dir():
        raise SourceNotFound("parent folder of the output does not exist", parent)
    model = load(source, limits)
    try:
        _check_out(out, model.release)
    except BaseException:
        model.close()
        raise
    limits = model.limits
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.taoke-", dir=parent))
    try:
        notes = check_convertible(model)
        want = OUT_DTYPES.get(dtype)
        plan = llama_plan(model, want)
        progress("read source", 1, 1, item=model.release.name)
        shards = write_shards(model, plan, tmp, shard_bytes, progress)
        dtypes = {item["dtype"] for item in plan}
        main_dtype = "F32" if "F32" in dtypes else sorted(dtypes)[0]
        (tmp / "config.json").write_text(json.dumps(llama_config(model, main_dtype), indent=1))
        copied = _carry_files(model, tmp, notes)
        bitwise = verify_bitwise(model, plan, tmp, limits, progress)
        if bitwise["mismatched"]:
            raise AnalysisError(
                f"verification failed: {len(bitwise['mismatched'])} written tensor(s) differ from "
                f"their source (e.g. {bitwise['mismatched'][0]}); nothing written",
                out,
            )
        verify: dict[str, Any] = {"bitwise": bitwise, "logits": None}
        if verify_logits is not False:
            progress("compare logits", 0, 1)
            logits = compare_logits(model, tmp, main_dtype if want else None)
            progress("compare logits", 1, 1)
            if logits.get("skipped") and verify_logits:
                raise TaokeError(f"logits check requested but {logits['skipped']}", out)
            if not logits.get("skipped") and not logits["passed"]:
                raise AnalysisError(
                    f"verification failed: logits differ by {logits['max_abs_diff']:.3g} "
                    f"(tolerance {logits['tolerance']:.3g}); nothing written",
                    out,
                )
            verify["logits"] = logits
        if want is not None:
            verify["rounded_to"] = main_dtype
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
            dtype=main_dtype,
        )
        model.close()
        manifest = sorted(p.name for p in tmp.iterdir()) + [MANIFEST]
        (tmp / MANIFEST).write_text(
            json.dumps({"taoke_version": __version__, "source": result.source, "files": manifest}, indent=1)
        )
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


def _check_out(out: Path, release: Release) -> None:
    """Refuse an OUT that holds the source, lies inside a source folder, or (when it exists) holds
    anything llamafy did not write: ``--force`` replaces llamafy's own output only."""
    real_out = Path(os.path.realpath(out))
    sources = [Path(os.path.realpath(p)) for p in release.files] or [Path(os.path.realpath(release.path))]
    if release.kind != "file":
        sources.append(Path(os.path.realpath(release.root)))
    for src in sources:
        if src == real_out or real_out in src.parents:
            raise TaokeError(f"the output folder contains the source ({src}); choose another OUT", out)
    if release.kind != "file":
        root = Path(os.path.realpath(release.root))
        if root in real_out.parents:
            raise TaokeError(f"the output folder lies inside the source release {root}", out)
    if not out.exists():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    listed: set[str] = set()
    try:
        doc = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        listed = {str(n) for n in doc.get("files", [])} if isinstance(doc, dict) else set()
    except (OSError, ValueError):
        listed = set()
    foreign = [e for e in entries if e not in listed]
    if not listed or foreign:
        example = foreign[0] if foreign else entries[0]
        raise TaokeError(
            f"--force replaces only a folder llamafy wrote, and this one holds {example!r} that taoke "
            "did not write; nothing deleted",
            out,
        )


def _carry_files(model: Model, folder: Path, notes: list[str]) -> list[str]:
    """Copy the tokenizer, licence, card and generation files into ``folder`` (top-level files only);
    a GGUF without tokenizer files gets its embedded tokenizer converted. Returns the names written."""
    from taoke.tokenizers.encode import EncoderUnavailable

    copied: list[str] = []
    licences = [rel for rel in model.license_files if "/" not in rel]
    if model.release.kind == "file":  # a single weight file: its licence may lie beside it
        for p in model.release.root.iterdir():
            if p.is_file() and p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE")):
                if p.name not in licences:
                    licences.append(p.name)
    for rel in list(COPY_FILES) + licences + ["README.md"]:
        path = model.release.find(rel)
        if path is None and model.release.kind == "file" and rel in licences:
            path = model.release.root / rel
        if path is not None and "/" not in rel and not (folder / rel).exists():
            shutil.copyfile(path, folder / rel)
            copied.append(rel)
    if model.is_gguf and not any(c in copied for c in ("tokenizer.json", "tokenizer.model")):
        try:
            made = gguf_tokenizer_files(model, folder)
            copied += [m for m in made if m not in copied]
            notes.append(f"tokenizer converted from the GGUF metadata ({', '.join(made)})")
        except (EncoderUnavailable, TaokeError) as exc:
            notes.append(f"the GGUF's embedded tokenizer is not converted ({exc}): OUT has no tokenizer")
    if model.is_gguf and not any(c in copied for c in licences):
        tag = _gguf_licence_tag(model)
        if tag:
            notes.append(f"the GGUF names its licence ({tag}) but ships no licence text; none was written")
    return copied


def _gguf_licence_tag(model: Model) -> str | None:
    meta = getattr(model, "gguf_metadata", None)
    try:
        value = meta() if callable(meta) else meta
    except Exception:  # no metadata: nothing to say
        return None
    if isinstance(value, dict):
        tag = value.get("general.license")
        return str(tag) if tag else None
    return None
