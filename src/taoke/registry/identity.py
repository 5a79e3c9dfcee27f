"""Who a model is: name, revision, content hashes of its weight files, family, size, declared parents.

WHY content hashes: a registry entry must be recognisable however the files were obtained (a hub
download, a copy in another folder, a re-upload under another name), and re-indexing the same bytes
must be a no-op. The identity is therefore sha256 over the sorted sha256 of each weight file (streamed
1 MiB at a time, never loaded), not a path or a name.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """sha256 of a file, streamed (a 70 GB shard costs 1 MiB of memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def content_id(file_hashes: list[str]) -> str:
    """The model's identity: sha256 of its weight files' sorted hashes (names and order do not count)."""
    return hashlib.sha256("\n".join(sorted(file_hashes)).encode()).hexdigest()


@dataclass
class WeightFile:
    path: str  # relative to the release root
    size: int
    sha256: str


@dataclass
class Identity:
    """What the registry stores about a model besides its fingerprint."""

    content_id: str
    name: str
    source: str
    revision: str | None
    files: list[WeightFile]
    family: str | None = None
    hf_class: str | None = None
    n_params: int | None = None
    n_layers: int | None = None
    d_model: int | None = None
    vocab_size: int | None = None
    declared_base: list[str] = field(default_factory=list)
    license: str | None = None

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["size_bytes"] = self.size_bytes
        return out


def weight_hashes(release: Any) -> tuple[list[WeightFile], str]:
    """Hash the release's weight files; returns them and the content id (cheap to call before loading)."""
    from taoke.errors import SourceNotFound

    paths = release.weight_files()
    if not paths:
        raise SourceNotFound("no weight files in this release", release.path)
    out = [WeightFile(release.relative(p), p.stat().st_size, sha256_file(p)) for p in paths]
    return out, content_id([f.sha256 for f in out])


def describe(model: Any, files: list[WeightFile], cid: str) -> Identity:
    """The identity of a loaded :class:`taoke.model.Model` whose weight files were hashed."""
    from taoke.analyzers.declared import declared_lineage

    release = model.release
    card = getattr(model, "card", None)
    gmeta = getattr(model, "gguf_metadata", None) or {}
    declared = declared_lineage(card.metadata if card else {}, card.text if card else "", gmeta)
    lic = card.license if card is not None else None
    if lic is None and gmeta.get("general.license"):
        lic = str(gmeta["general.license"]).strip().lower()
    hp = model.hparams
    fam = model.family
    bases = [p.name for p in declared.structured] or [p.name for p in declared.parents]
    # a `taoke llamafy` output names its source in config.json: that is a declared parent, so a scan
    # holding both reads the copy as derived from the original, never the original from its copy
    made_from = (model.config or {}).get("taoke_llamafy") if isinstance(model.config, dict) else None
    if isinstance(made_from, dict) and isinstance(made_from.get("source"), str) and made_from["source"]:
        bases.append(made_from["source"])
    return Identity(
        content_id=cid,
        name=release.name,
        source=str(release.spec),
        revision=release.revision,
        files=files,
        family=fam.arch or fam.family,
        hf_class=fam.hf_class,
        n_params=int(model.n_params),
        n_layers=hp.n_layers,
        d_model=hp.d_model,
        vocab_size=hp.vocab_size,
        declared_base=bases,
        license=lic,
    )
