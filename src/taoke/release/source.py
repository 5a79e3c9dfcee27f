"""Where a release's bytes are: a local folder, a single file, a Hugging Face cache entry or a hub id.

:func:`resolve` turns what the user typed into a :class:`Release`: a root folder plus the exact list of
files taoke may read. Every path is checked once here, so readers downstream never follow a path the
release chose (a symlink or a shard-index entry) out of the release: symlinks may only point inside
the release, except in an HF cache snapshot, where they may point into that same repo's ``blobs/``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from taoke.errors import (
    CorruptFile,
    HubUnreachable,
    LimitExceeded,
    SourceNotFound,
    UnsafeContent,
    UnsupportedFormat,
)
from taoke.limits import Limits, current_limits
from taoke.release.bounded import read_json, sniff_format
from taoke.release.hub import select_files

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth")
# Folders that tools put beside a release but that are not part of it (git metadata, hub download state).
_SKIP_DIRS = {".git", ".cache", ".huggingface", "__pycache__"}
_HUB_ID = re.compile(
    r"^(?P<repo>[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95})"
    r"(?:@(?P<rev>[\w.\-/]{1,255}))?"
    r"(?::(?P<include>[\w.\-*?\[\]]{1,128}))?$"  # org/name:Q4_K_M - one GGUF quantization (or a glob)
)
_SPLIT_GGUF = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
_HUB_TIMEOUT_S = 5.0


@dataclass
class Release:
    """A model release: its root folder and every file of it that taoke may read.

    ``files`` holds absolute paths under ``root``; in an HF cache snapshot they are the snapshot's
    symlinks (whose names matter), already checked to point into the repo's ``blobs/``.
    """

    spec: str
    kind: str  # "folder" | "file" | "hf-cache" | "hub"
    root: Path
    files: list[Path]
    name: str
    revision: str | None = None
    limits: Limits = field(default_factory=current_limits, repr=False)

    @property
    def path(self) -> Path:
        """What a message about the whole release names: the file of a single-file release (its folder
        is not the release), else the root folder."""
        return self.files[0] if self.kind == "file" and self.files else self.root

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, POSIX style (how shard indexes and hubs name files)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.name

    def find(self, *names: str) -> Path | None:
        """The first of ``names`` (relative to the root) that is a file of this release."""
        by_name = {self.relative(p): p for p in self.files}
        for name in names:
            if name in by_name:
                return by_name[name]
        return None

    def weight_files(self) -> list[Path]:
        """The weight files, ordered, resolved through shard indexes; ``[]`` when there are none.

        Preference: safetensors (index or root-level files), then ``pytorch_model*.bin`` (index or
        files) or other root-level ``.pt``/``.pth``, then GGUF, then a single file given directly.
        Callers that need weights decide whether ``[]`` is an error (:meth:`require_weight_files`);
        a tokenizer-only folder is still a release worth inspecting.
        """
        if self.kind == "file":
            return list(self.files)
        top = {self.relative(p): p for p in self.files if p.parent == self.root}
        for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
            if index_name in top:
                return self._from_index(top[index_name])
        safetensors = [p for n, p in sorted(top.items()) if n.endswith(".safetensors")]
        if safetensors:
            return safetensors
        indexes = [p for n, p in sorted(top.items()) if n.endswith(".safetensors.index.json")]
        if indexes:
            return self._from_index(indexes[0])
        bins = [p for n, p in sorted(top.items()) if n.startswith("pytorch_model") and n.endswith(".bin")]
        if bins:
            return bins
        checkpoints = [p for n, p in sorted(top.items()) if n.endswith((".pt", ".pth"))]
        if checkpoints:
            return checkpoints
        ggufs = [p for n, p in sorted(top.items()) if n.endswith(".gguf")]
        split = [p for p in ggufs if _SPLIT_GGUF.search(p.name)]
        # A split GGUF is one model in several files; several unsplit GGUFs are alternative
        # quantizations of the same model: all are returned, in name order, for the caller to choose.
        return split or ggufs

    def require_weight_files(self) -> list[Path]:
        """:meth:`weight_files`, or a one-line :class:`SourceNotFound` when the release has none."""
        files = self.weight_files()
        if not files:
            raise SourceNotFound(
                "no weight files (looked for *.safetensors, pytorch_model*.bin, *.pt, *.pth, *.gguf)",
                self.path,
            )
        return files

    def _from_index(self, index: Path) -> list[Path]:
        """Shards named by a ``*.index.json``; every name is checked before it becomes a path."""
        data = read_json(index, self.limits)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise CorruptFile("shard index has no weight_map object", index)
        if len(weight_map) > self.limits.max_tensors:
            raise LimitExceeded(
                f"shard index lists {len(weight_map)} tensors, more than "
                f"{self.limits.max_tensors} (TAOKE_MAX_TENSORS)",
                index,
            )
        shards: list[str] = []
        seen: set[str] = set()
        for tensor, shard in weight_map.items():
            if not isinstance(shard, str) or not shard:
                raise CorruptFile(f"weight_map entry {tensor!r} is not a file name", index)
            if shard not in seen:
                seen.add(shard)
                shards.append(_safe_relative(shard, index))
        by_name = {self.relative(p): p for p in self.files}
        base = index.parent.relative_to(self.root) if index.parent != self.root else None
        out = []
        for shard in sorted(set(shards)):
            rel = (PurePosixPath(base.as_posix()) / shard).as_posix() if base else shard
            if rel not in by_name:
                raise CorruptFile(f"missing shard {shard} listed in {index.name}", index)
            out.append(by_name[rel])
        return out


def _safe_relative(name: str, where: Path) -> str:
    """A file name from an untrusted index, refused unless it is a plain relative path in the release."""
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeContent(f"shard name {name!r} is absolute: it points outside the release", where)
    parts = PurePosixPath(name).parts
    if any(p in ("..", "") for p in parts) or not parts:
        raise UnsafeContent(f"shard name {name!r} points outside the release", where)
    return PurePosixPath(*parts).as_posix()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


MAX_FOLDER_DEPTH = 128
"""Fixed bound on folder nesting in a release (real ones nest a few levels)."""


def _walk(root: Path, limits: Limits, blobs: Path | None = None) -> list[Path]:
    """Every regular file under ``root`` (real path), refusing symlinks that leave it.

    ``blobs`` is the HF cache blob store that snapshot symlinks may point into. Symlinked folders
    inside the release are not followed (no loops, no double counting); ones leaving it are refused.
    """
    files: list[Path] = []
    # WHY our own walk: os.walk recurses once per folder level, so a release nesting 1,100 folders
    # ended in a RecursionError; this one keeps an explicit stack and refuses absurd depths
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        here, depth = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:  # unreadable folder: skipped, as os.walk does
            continue
        for entry in entries:
            path = here / entry.name
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                if target.is_dir():  # a symlinked folder: never followed, refused when it leaves
                    if not _inside(target, root):
                        raise UnsafeContent(
                            f"symlinked folder {entry.name} points outside the release ({target})", path
                        )
                    continue
                if not (_inside(target, root) or (blobs is not None and _inside(target, blobs))):
                    raise UnsafeContent(f"symlink points outside the release ({target})", path)
                if not target.is_file():
                    raise CorruptFile(f"symlink target is missing or not a file ({target})", path)
            elif entry.is_dir(follow_symlinks=False):
                if entry.name in _SKIP_DIRS:
                    continue
                if depth + 1 > MAX_FOLDER_DEPTH:
                    raise LimitExceeded(f"folders nested deeper than {MAX_FOLDER_DEPTH} levels", root)
                stack.append((path, depth + 1))
                continue
            elif not entry.is_file(follow_symlinks=False):
                continue  # sockets, fifos, devices: never read
            files.append(path)
            if len(files) > limits.max_files:
                raise LimitExceeded(f"more than {limits.max_files} files (TAOKE_MAX_FILES)", root)
    return sorted(files)


def _hf_repo_of(snapshot: Path) -> tuple[Path, str] | None:
    """(repo dir, "org/name") when ``snapshot`` is ``.../models--org--name/snapshots/REV``."""
    if snapshot.parent.name != "snapshots":
        return None
    repo = snapshot.parent.parent
    if not repo.name.startswith("models--"):
        return None
    return repo, repo.name[len("models--") :].replace("--", "/")


def _read_ref(ref: Path) -> str | None:
    try:
        with open(ref, "rb") as fh:
            raw = fh.read(256)
    except OSError:
        return None
    text = raw.decode("ascii", "replace").strip()
    return text if re.fullmatch(r"[\w.\-]{1,128}", text) else None


def _snapshot_of_repo(repo: Path, revision: str | None = None) -> Path:
    """The snapshot a ``models--org--name`` folder points at: ``refs/<rev>`` or the newest one."""
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        raise SourceNotFound("HF cache entry has no snapshots/ folder", repo)
    if revision and (snapshots / revision).is_dir() and "/" not in revision:
        return snapshots / revision
    ref_name = revision or "main"
    ref = repo / "refs" / _safe_relative(ref_name, repo)
    if ref.is_file():
        commit = _read_ref(ref)
        if commit and (snapshots / commit).is_dir():
            return snapshots / commit
        raise CorruptFile(f"refs/{ref_name} names a snapshot that is not in the cache", repo)
    if revision:
        raise SourceNotFound(f"revision {revision!r} is not in the HF cache", repo)
    candidates = [p for p in snapshots.iterdir() if p.is_dir() and not p.is_symlink()]
    if not candidates:
        raise SourceNotFound("HF cache entry has no snapshot", repo)
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def _from_snapshot(spec: str, snapshot: Path, kind: str, limits: Limits) -> Release:
    snapshot = Path(os.path.realpath(snapshot))
    found = _hf_repo_of(snapshot)
    if found is None:
        raise SourceNotFound("not an HF cache snapshot (models--org--name/snapshots/REV)", snapshot)
    repo, name = found
    blobs = Path(os.path.realpath(repo / "blobs"))
    # the blob store is where snapshot links may point: it must itself be the repo's own folder, or a
    # ``blobs -> /elsewhere`` link would make every file of /elsewhere part of the release
    if (repo / "blobs").is_symlink() or not _inside(blobs, Path(os.path.realpath(repo))):
        raise UnsafeContent("the HF cache entry's blobs/ folder is a link leaving the entry", repo / "blobs")
    files = _walk(snapshot, limits, blobs=blobs)
    return Release(spec, kind, snapshot, files, name, snapshot.name, limits)


def _hub_cache_dir() -> Path:
    """The HF hub cache in force now (env read at call time, so tests and users can redirect it)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _pick_weights(release: Release, include: str | None, repo_id: str) -> Release:
    """Keep the weight files of one format (one GGUF quantization: ``include``) and every other file;
    see :func:`taoke.release.hub.select_files`. A snapshot may hold several quantizations."""
    names = [release.relative(p) for p in release.files]
    chosen = set(select_files(names, include, repo_id).weights)
    release.files = [
        p
        for p in release.files
        if not p.name.lower().endswith(WEIGHT_SUFFIXES) or release.relative(p) in chosen
    ]
    return release


def _resolve_hub(
    spec: str, repo_id: str, revision: str | None, limits: Limits, include: str | None = None
) -> Release:
    """A hub id: the local HF cache first; only when it is not cached, one bounded online attempt that
    downloads only what taoke reads (:func:`taoke.release.hub.select_files`: config, tokenizer, card,
    licence, code and the weights of one format; for GGUF one quantization, ``include``)."""
    cache = _hub_cache_dir()
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    if repo_dir.is_dir():
        try:
            cached = _from_snapshot(spec, _snapshot_of_repo(repo_dir, revision), "hub", limits)
        except SourceNotFound:
            cached = None  # this revision is not cached: try the hub below
        if cached is not None:
            try:
                return _pick_weights(cached, include, repo_id)
            except SourceNotFound:
                if not include:
                    raise  # several quantizations and none chosen: downloading would not help
                # the chosen quantization is not in the cache: fetch it below
    if _offline():
        raise HubUnreachable(
            f"no local folder or file of that name, {repo_id} is not in the HF cache "
            f"({cache}) and HF_HUB_OFFLINE is set; download it first or pass a local folder",
            spec,
        )
    try:
        import huggingface_hub
        from huggingface_hub import errors as hf_errors
    except ImportError:  # pragma: no cover - a declared dependency
        raise HubUnreachable("huggingface_hub is not installed", spec) from None
    try:
        # A metadata call with a short timeout first: it fails fast when there is no network, where a
        # download would retry; only a reachable hub gets the (possibly long) snapshot download.
        info = huggingface_hub.HfApi().model_info(repo_id, revision=revision, timeout=_HUB_TIMEOUT_S)
        # a repo without weights (a tokenizer repo) still gets its side files
        wanted = select_files([s.rfilename for s in info.siblings or []], include, repo_id)
        path = huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=str(cache),
            etag_timeout=_HUB_TIMEOUT_S,
            allow_patterns=[glob.escape(n) for n in wanted.names],  # exact names: nothing else is fetched
        )
    except SourceNotFound:
        raise
    except (
        hf_errors.RepositoryNotFoundError,
        hf_errors.RevisionNotFoundError,
        hf_errors.GatedRepoError,
    ) as exc:
        raise SourceNotFound(f"{repo_id} not found on the hub: {type(exc).__name__}", spec) from None
    except Exception as exc:  # noqa: BLE001 - any transport failure is "unreachable", reported as one line
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise HubUnreachable(
            f"no local folder or file of that name, {repo_id} is not in the HF cache "
            f"({cache}) and the hub is unreachable ({type(exc).__name__}: {reason})",
            spec,
        ) from None
    return _pick_weights(_from_snapshot(spec, Path(str(path)), "hub", limits), include, repo_id)


def parse_hub_id(text: str) -> tuple[str, str | None, str | None] | None:
    """``(repo, revision, include)`` of a hub id ``org/name[@rev][:QUANT]``, or None when ``text`` is
    not one (a local path of that spelling is the caller's to rule out)."""
    match = _HUB_ID.match(text)
    if not match or text.startswith((".", "/", "~")):
        return None
    return match["repo"], match["rev"], match["include"]


def resolve(spec: str | os.PathLike[str], limits: Limits | None = None) -> Release:
    """Turn a folder, file, HF cache entry or hub id ``org/name[@rev][:QUANT]`` into a :class:`Release`.

    Raises :class:`SourceNotFound`, :class:`HubUnreachable` or :class:`UnsafeContent` (a symlink leaving
    the release), each one line. A local path always wins over a hub id of the same spelling.
    """
    limits = limits or current_limits()
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.exists() or path.is_symlink():
        if not path.exists():
            raise SourceNotFound("broken symlink", path)
        real = Path(os.path.realpath(path))
        if real.is_dir():
            if _hf_repo_of(real) is not None:
                return _from_snapshot(text, real, "hf-cache", limits)
            if real.name.startswith("models--") and (real / "snapshots").is_dir():
                return _from_snapshot(text, _snapshot_of_repo(real), "hf-cache", limits)
            files = _walk(real, limits)
            return Release(text, "folder", real, files, real.name, None, limits)
        if real.is_file():
            # The user named this file: it is the release, wherever a symlink to it points.
            if not real.name.lower().endswith(WEIGHT_SUFFIXES) and sniff_format(real) is None:
                raise UnsupportedFormat("not a weight file (.safetensors, .gguf, .bin, .pt, .pth)", path)
            absolute = Path(os.path.abspath(path))
            return Release(text, "file", absolute.parent, [absolute], absolute.name, None, limits)
        raise SourceNotFound("not a regular file or folder", path)
    match = _HUB_ID.match(text)
    if match and not text.startswith((".", "/", "~")):
        return _resolve_hub(text, match["repo"], match["rev"], limits, match["include"])
    raise SourceNotFound("no such file or folder, and not a hub id (org/name[@rev][:QUANT])", text)
