"""Never fingerprint the same weights twice: a cache of fingerprints keyed by content.

``compare``, ``search``, ``index``, ``audit`` and ``scan`` each stream a release once to fingerprint it;
a 7B checkpoint costs tens of seconds to a minute. The same release is often looked at again (a
compare, then an audit, then a scan of the folder that holds it), so the fingerprint is kept under
taoke's cache home (``fingerprints/``, see :mod:`taoke.paths`) and reused when the *content* is the
same.

The key is never the path alone (a folder is rewritten in place, a file is replaced by a fine-tune of
the same name). It is a SHA-256 over, for every file the fingerprint reads:

- a weight file's size, its first MiB (the header: tensor names, dtypes, shapes, offsets) and
  :data:`SAMPLES` blocks of 64 KiB at evenly spaced offsets — hashing every byte would cost as much as
  the read we are trying to skip; a change that keeps the size and the header and avoids all the
  sampled blocks is possible (an edit aimed at the cache), so ``--no-cache`` exists for a hostile
  setting, and the registry's content id (:func:`taoke.registry.identity.weight_hashes`) still hashes
  every byte;
- every other file of the release that is small (config, tokenizer, card) in full: the fingerprint
  depends on the tokenizer's token strings and on the config's hyper-parameters;
- taoke's version and the fingerprint format version, so an upgrade never reads an older layout.

Entries are fingerprint files (:func:`taoke.weights.load_fingerprint` reads them with its bounds),
written atomically; the folder is capped (:data:`DEFAULT_CAP_BYTES`, ``TAOKE_FINGERPRINT_CACHE_MB``),
least recently used first out. ``TAOKE_NO_CACHE=1`` (or ``--no-cache`` on the commands) turns it off.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taoke._version import __version__
from taoke.errors import TaokeError
from taoke.paths import cache_dir

__all__ = ["FingerprintCache", "content_key", "default_cache"]

SAMPLES = 16
BLOCK = 64 * 1024
HEADER = 1024 * 1024
SMALL_FILE = 64 * 1024 * 1024  # non-weight files up to this size are hashed whole
DEFAULT_CAP_BYTES = 2 * 1024**3
# 2: Gemma gains 1 + w, BERT post-norm gains, ungated FFN invariant (issue 15.5): older entries differ
FORMAT = "fingerprint-cache/2"


def _hash_sampled(h: Any, path: Path) -> None:
    size = path.stat().st_size
    h.update(f"{size}\0".encode())
    with path.open("rb") as f:
        h.update(f.read(HEADER))
        rest = size - HEADER
        if rest <= 0:
            return
        if rest <= SAMPLES * BLOCK:  # small enough: the rest whole
            h.update(f.read(rest))
            return
        for i in range(SAMPLES):  # first and last block included
            f.seek(HEADER + (rest - BLOCK) * i // (SAMPLES - 1))
            h.update(f.read(BLOCK))


def _hash_whole(h: Any, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def content_key(release: Any, weights_digest: str | None = None) -> str | None:
    """The cache key of a :class:`taoke.release.Release` (hex SHA-256), or None when it cannot be keyed
    (no weight files, a file that vanished): such a release is simply not cached. ``weights_digest``:
    a hash of every weight byte already computed (the registry's content id), used instead of sampling."""
    try:
        weights = {Path(p) for p in release.weight_files()}
    except (TaokeError, OSError):
        return None
    if not weights:
        return None
    h = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    try:
        for p in sorted(release.files, key=lambda x: release.relative(x)):
            p = Path(p)
            h.update(release.relative(p).encode("utf-8", "surrogateescape") + b"\0")
            if p in weights:
                if weights_digest is None:
                    _hash_sampled(h, p)
            elif p.stat().st_size <= SMALL_FILE:
                _hash_whole(h, p)
            else:  # a big file the fingerprint does not read (another weight format): its size only
                h.update(f"{p.stat().st_size}\0".encode())
    except OSError:
        return None
    if weights_digest is not None:
        h.update(f"all-bytes\0{weights_digest}".encode())
    return h.hexdigest()


@dataclass
class FingerprintCache:
    """Fingerprint files under ``root``, at most ``cap_bytes`` in all (least recently used out first)."""

    root: Path
    cap_bytes: int = DEFAULT_CAP_BYTES

    def key(self, release: Any) -> str | None:
        """:func:`content_key` of ``release`` (what :func:`taoke.weights.fingerprint` looks up; a
        method, so the fingerprint module needs no import of this one)."""
        return content_key(release)

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.taoke.npz"

    def get(self, key: str) -> Any | None:
        """The cached :class:`~taoke.weights.Fingerprint` of ``key``, or None. An unreadable entry
        (a truncated write from a killed process, a file someone put there) is removed and missed."""
        from taoke.weights.fingerprint import load_fingerprint

        path = self._path(key)
        if not path.is_file():
            return None
        try:
            fp = load_fingerprint(path)
        except (TaokeError, OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        os.utime(path)  # recently used: evicted last
        return fp

    def put(self, key: str, fp: Any) -> None:
        """Store ``fp`` atomically (write a temporary file, then rename), then trim to the cap. A cache
        that cannot be written (read-only home, full disk) is skipped silently: it is an optimisation."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp.npz")
            os.close(fd)
            try:
                fp.save(tmp)
                os.replace(tmp, self._path(key))
            finally:
                Path(tmp).unlink(missing_ok=True)
            self.trim()
        except OSError:
            return

    def trim(self) -> None:
        entries = []
        for p in self.root.glob("*.taoke.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        total = sum(s for _, s, _ in entries)
        for _, size, p in sorted(entries):
            if total <= self.cap_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size


def default_cache() -> FingerprintCache | None:
    """The user's cache (``$TAOKE_HOME/fingerprints`` or ``TAOKE_FINGERPRINT_CACHE``), or None when
    ``TAOKE_NO_CACHE`` is set."""
    if os.environ.get("TAOKE_NO_CACHE", "").lower() in {"1", "true", "yes"}:
        return None
    cap = os.environ.get("TAOKE_FINGERPRINT_CACHE_MB")
    cap_bytes = int(float(cap) * 1024**2) if cap and cap.replace(".", "", 1).isdigit() else DEFAULT_CAP_BYTES
    return FingerprintCache(cache_dir("fingerprints", "TAOKE_FINGERPRINT_CACHE"), cap_bytes)
