"""The registry: fingerprints and identities of known models in SQLite or PostgreSQL (SQLAlchemy 2).

One class, :class:`Registry`, for both backends: the URL decides (a path or ``sqlite:///...`` for an
embedded file, ``postgresql://...`` for a server, driven by psycopg 3). WHY each model is committed in
its own transaction: an interrupted ``taoke index`` or ``taoke scan`` keeps every model it finished,
and the next run skips them by content hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from sqlalchemy import create_engine, delete, event, func, insert, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from taoke._version import __version__
from taoke.errors import CorruptFile, TaokeError
from taoke.paths import home
from taoke.progress import Progress, no_progress
from taoke.registry import schema
from taoke.registry.ann import AnnIndex, make_stamp
from taoke.registry.identity import Identity
from taoke.registry.vector import DIM, STORED_DIM, VECTOR_VERSION, stored_vector
from taoke.release.bounded import parse_json
from taoke.weights import Fingerprint, load_fingerprint

# An ANN rebuild of REBUILD_PROGRESS_FROM rows or more reports its progress; rows are added
# REBUILD_CHUNK at a time so that progress moves.
REBUILD_PROGRESS_FROM = 20_000
REBUILD_CHUNK = 10_000


class RegistryError(TaokeError):
    """The registry database cannot be opened, read or written (one line; exit code 2)."""


def cache_root() -> Path:
    """taoke's cache home (:func:`taoke.paths.home`): the default registry and its ANN index live there."""
    return home()


def default_url() -> str:
    """``TAOKE_REGISTRY`` (a path or a database URL), else ``registry.sqlite`` in taoke's cache home."""
    env = os.environ.get("TAOKE_REGISTRY")
    return normalize_url(env) if env else normalize_url(str(cache_root() / "registry.sqlite"))


def normalize_url(db: str) -> str:
    """A path becomes ``sqlite:///abs/path``; ``postgresql://`` selects the psycopg 3 driver."""
    if "://" not in db:
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def redact(url: str) -> str:
    """The URL without its password, for messages and cache keys."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@dataclass
class ModelRecord:
    """A registry row without its fingerprint blob."""

    id: int
    content_id: str
    name: str
    source: str
    revision: str | None
    family: str | None
    hf_class: str | None
    n_params: int | None
    n_layers: int | None
    d_model: int | None
    vocab_size: int | None
    size_bytes: int | None
    declared_base: list[str]
    license: str | None
    indexed_at: str
    fingerprint_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_RECORD_COLUMNS = [
    schema.models.c[name]
    for name in (
        "id",
        "content_id",
        "name",
        "source",
        "revision",
        "family",
        "hf_class",
        "n_params",
        "n_layers",
        "d_model",
        "vocab_size",
        "size_bytes",
        "declared_base",
        "license",
        "indexed_at",
        "fingerprint_bytes",
    )
]


def declared_list(raw: Any, where: str) -> list[str]:
    """The ``declared_base`` column (JSON list of names) parsed with bounded depth; anything but a
    list of strings is a :class:`~taoke.errors.CorruptFile` (a registry file may come from elsewhere)."""
    if raw is None or raw == "":
        return []
    if not isinstance(raw, str):
        raise CorruptFile("declared_base is not JSON text", where)
    value = parse_json(raw.encode("utf-8", "surrogatepass"), where, what="declared_base")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CorruptFile("declared_base is not a list of names", where)
    return value


def _record(row: Any, where: str = "registry") -> ModelRecord:
    """A model row; ``where`` (the registry's display URL) names it in an error about the row."""
    m = row._mapping
    return ModelRecord(
        id=int(m["id"]),
        content_id=m["content_id"],
        name=m["name"],
        source=m["source"],
        revision=m["revision"],
        family=m["family"],
        hf_class=m["hf_class"],
        n_params=m["n_params"],
        n_layers=m["n_layers"],
        d_model=m["d_model"],
        vocab_size=m["vocab_size"],
        size_bytes=m["size_bytes"],
        declared_base=declared_list(m["declared_base"], f"{where}#model-{m['id']}"),
        license=m["license"],
        indexed_at=m["indexed_at"].isoformat() if m["indexed_at"] else "",
        fingerprint_bytes=int(m["fingerprint_bytes"]),
    )


def fingerprint_bytes(fp: Fingerprint) -> bytes:
    """The fingerprint as the compressed ``.npz`` bytes :meth:`Fingerprint.save` writes."""
    with tempfile.TemporaryDirectory(prefix="taoke-fp-") as tmp:
        path = Path(tmp) / "fp.npz"
        fp.save(path)
        return path.read_bytes()


def fingerprint_from_bytes(data: bytes, where: str) -> Fingerprint:
    """Inverse of :func:`fingerprint_bytes` (malformed blobs raise CorruptFile naming ``where``)."""
    with tempfile.TemporaryDirectory(prefix="taoke-fp-") as tmp:
        path = Path(tmp) / "fp.npz"
        path.write_bytes(data)
        try:
            fp = load_fingerprint(path)
        except CorruptFile as exc:  # name the registry row or release, never the scratch file
            raise CorruptFile(exc.message, where) from None
    return fp


@contextlib.contextmanager
def _schema_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on ``<registry>.lock`` while the schema is created or migrated.

    WHY: two ``taoke index`` processes creating the same new SQLite registry both saw no
    ``schema_version`` table and both created it; the second failed with "table schema_version already
    exists" and lost its models. SQLite's own locking does not cover the check-then-create, so the
    processes take turns here (the lock is released when the file is closed, even by a crash). No lock
    for PostgreSQL (its DDL is transactional) or where ``fcntl`` is missing (Windows).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class Registry:
    """A registry of fingerprints. ``Registry(url)`` creates/migrates the schema on first use.

    >>> reg = Registry("/tmp/reg.sqlite")          # doctest: +SKIP
    >>> reg.add(identity, fp)                      # doctest: +SKIP

    ``progress`` hears about the long steps (a large ANN rebuild); see :mod:`taoke.progress`.
    """

    def __init__(
        self,
        url: str | None = None,
        progress: Progress = no_progress,
        create: bool = True,
        read_only: bool = False,
    ) -> None:
        """``create=False``: refuse a SQLite registry that does not exist yet (a lookup must not leave an
        empty database and its folder behind a typo'd ``--db``). ``read_only=True`` (a SQLite file only):
        open it without writing a byte — no migration, no WAL — and refuse a schema other than this
        taoke's; how ``registry import`` reads an export someone else sent."""
        self.progress = progress
        # fingerprints kept by content (taoke.weights.cache), set by the caller; None: always compute
        self.fingerprint_cache: Any = None
        self.url = normalize_url(url) if url else default_url()
        self.display_url = redact(self.url)
        path = self.sqlite_path
        if not create and path is not None and not path.is_file():
            raise RegistryError(
                f"{path}: no such registry (create one with `taoke index SOURCE --db {path}`)"
            )
        self.read_only = read_only
        try:
            self.engine: Engine = self._engine()
            if read_only:
                schema.check_readable(self.engine)
            else:
                with _schema_lock(path):
                    schema.migrate(self.engine)
        except ModuleNotFoundError as exc:
            raise RegistryError(
                f"cannot open {self.display_url}: missing driver {exc.name} (pip install 'taoke[postgres]')"
            ) from None
        except RuntimeError as exc:
            raise RegistryError(f"{self.display_url}: {exc}") from None
        except SQLAlchemyError as exc:
            raise RegistryError(f"cannot open registry {self.display_url}: {_one_line(exc)}") from None
        self._ann: AnnIndex | None = None
        self._ann_dirty = False

    # -- connection -----------------------------------------------------------------------------
    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        db = make_url(self.url).database
        return Path(db) if db and db != ":memory:" else None

    def _engine(self) -> Engine:
        if self.is_sqlite:
            path = self.sqlite_path
            if self.read_only:
                if path is None:
                    raise RuntimeError("a read-only registry must be a SQLite file")
                # SQLite's URI form: mode=ro never writes (no journal, no WAL file), immutable=1 skips
                # locking (the file is a snapshot someone sent, not a live database)
                uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
                return create_engine(
                    "sqlite://",
                    creator=lambda: sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False),
                )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # WAL: readers never block the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()

            return engine
        return create_engine(self.url, pool_pre_ping=True)

    def close(self) -> None:
        """Persist the ANN index if it changed, and release connections."""
        if self._ann is not None and self._ann_dirty:
            self._ann.save(self.ann_path(), self._stamp())
            self._ann_dirty = False
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema.current_version(self.engine)

    # -- writing --------------------------------------------------------------------------------
    def add(self, identity: Identity, fp: Fingerprint, seconds: float | None = None) -> tuple[int, bool]:
        """Store one model in its own transaction; returns (model id, created). Known content: a no-op."""
        existing = self.find_content(identity.content_id)
        if existing is not None:
            return existing.id, False
        blob = fingerprint_bytes(fp)
        vec = stored_vector(fp)
        row = {
            "content_id": identity.content_id,
            "name": identity.name,
            "source": identity.source,
            "revision": identity.revision,
            "family": identity.family,
            "hf_class": identity.hf_class,
            "n_params": identity.n_params,
            "n_layers": identity.n_layers,
            "d_model": identity.d_model,
            "vocab_size": identity.vocab_size,
            "size_bytes": identity.size_bytes,
            "declared_base": json.dumps(identity.declared_base),
            "license": identity.license,
            "indexed_at": datetime.now(timezone.utc),
            "taoke_version": __version__,
            "vector_version": VECTOR_VERSION,
            "vector": vec.astype(np.float32).tobytes(),
            "fingerprint": blob,
            "fingerprint_bytes": len(blob),
            "fingerprint_seconds": seconds,
        }
        try:
            with self.engine.begin() as conn:
                model_id = int(conn.execute(insert(schema.models).values(**row)).inserted_primary_key[0])
                if identity.files:
                    conn.execute(
                        insert(schema.files),
                        [
                            {"model_id": model_id, "path": f.path, "size": f.size, "sha256": f.sha256}
                            for f in identity.files
                        ],
                    )
        except IntegrityError:  # another writer indexed the same content meanwhile
            rec = self.find_content(identity.content_id)
            if rec is None:
                raise RegistryError(f"{self.display_url}: could not store {identity.name}") from None
            return rec.id, False
        except SQLAlchemyError as exc:
            raise RegistryError(
                f"{self.display_url}: cannot store {identity.name}: {_one_line(exc)}"
            ) from None
        if self._ann is not None:
            self._ann.add(np.asarray([model_id]), vec[None, :])
            self._ann_dirty = True
        return model_id, True

    def record_failure(self, source: str, error: str) -> None:
        """Remember a model that could not be indexed (its one-line error), for the scan report."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.failures).values(
                    source=str(source),
                    error=" ".join(str(error).split()),
                    failed_at=datetime.now(timezone.utc),
                )
            )

    def clear_failure(self, source: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(schema.failures).where(schema.failures.c.source == str(source)))

    def failures(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.failures).order_by(schema.failures.c.id)).all()
        return [{"source": r.source, "error": r.error, "failed_at": r.failed_at.isoformat()} for r in rows]

    # -- reading --------------------------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.models)).scalar() or 0)

    def content_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(schema.models.c.content_id))}

    def find_content(self, cid: str) -> ModelRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(schema.models.c.content_id == cid)).first()
        return _record(row, self.display_url) if row is not None else None

    def get(self, model_id: int) -> ModelRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(schema.models.c.id == int(model_id))).first()
        if row is None:
            raise RegistryError(f"{self.display_url}: no model with id {model_id}")
        return _record(row, self.display_url)

    def records(self) -> list[ModelRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_RECORD_COLUMNS).order_by(schema.models.c.id)).all()
        return [_record(r, self.display_url) for r in rows]

    def files(self, model_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(schema.files).where(schema.files.c.model_id == int(model_id))).all()
        return [{"path": r.path, "size": int(r.size), "sha256": r.sha256} for r in rows]

    def fingerprint(self, model_id: int) -> Fingerprint:
        """The stored fingerprint of a model (a full compare needs nothing else)."""
        with self.engine.connect() as conn:
            blob = conn.execute(
                select(schema.models.c.fingerprint).where(schema.models.c.id == int(model_id))
            ).scalar()
        if blob is None:
            raise RegistryError(f"{self.display_url}: no model with id {model_id}")
        return fingerprint_from_bytes(bytes(blob), f"{self.display_url}#model-{model_id}")

    def vectors(self, raw: bool = False, d_model: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, [n, DIM] vectors) of every model, streamed from the database in id order: the
        token-keyed vectors (what the ANN index holds), or with ``raw`` the raw-basis ones
        (:func:`taoke.registry.vector.raw_vector`), optionally of the models of one width only."""
        half = slice(DIM, STORED_DIM) if raw else slice(0, DIM)
        query = select(schema.models.c.id, schema.models.c.vector, schema.models.c.vector_version)
        if d_model is not None:
            query = query.where(schema.models.c.d_model == int(d_model))
        ids: list[int] = []
        vecs: list[np.ndarray] = []
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10000).execute(
                query.order_by(schema.models.c.id)
            )
            for mid, blob, version in result:
                v = np.frombuffer(bytes(blob), dtype=np.float32)
                if version != VECTOR_VERSION or v.size != STORED_DIM:
                    continue  # an older vector layout: recomputed by refresh_vectors (ann() calls it)
                ids.append(int(mid))
                vecs.append(v[half])
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, DIM), np.float32)
        return np.asarray(ids, dtype=np.int64), np.stack(vecs)

    def refresh_vectors(self) -> int:
        """Recompute the compact vector of rows stored with an older vector version; returns how many."""
        n = 0
        with self.engine.connect() as conn:
            stale = [
                int(r[0])
                for r in conn.execute(
                    select(schema.models.c.id).where(schema.models.c.vector_version != VECTOR_VERSION)
                )
            ]
        for mid in stale:
            vec = stored_vector(self.fingerprint(mid))
            with self.engine.begin() as conn:
                conn.execute(
                    schema.models.update()
                    .where(schema.models.c.id == mid)
                    .values(vector=vec.tobytes(), vector_version=VECTOR_VERSION)
                )
            n += 1
        if n:
            self._ann = None
        return n

    def size_bytes(self) -> int | None:
        """Bytes the registry takes on disk (SQLite file, or the PostgreSQL database), None if unknown."""
        path = self.sqlite_path
        if path is not None:
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        try:
            with self.engine.connect() as conn:
                return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())
        except SQLAlchemyError:
            return None

    # -- ANN index ------------------------------------------------------------------------------
    def ann_path(self) -> Path:
        """Next to the SQLite file; for a server database, in the user cache dir keyed by the URL."""
        path = self.sqlite_path
        if path is not None:
            return path.with_name(path.name + ".usearch")
        key = hashlib.sha256(self.display_url.encode()).hexdigest()[:16]
        return cache_root() / "ann" / f"{key}.usearch"

    def _stamp(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            n, top = conn.execute(
                select(func.count(), func.max(schema.models.c.id)).select_from(schema.models)
            ).one()
        return make_stamp(int(n or 0), int(top or 0))

    def ann(self) -> AnnIndex:
        """The ANN index: the persisted one when its stamp matches the database, else rebuilt from rows."""
        if self._ann is not None:
            return self._ann
        stamp = self._stamp()
        index = AnnIndex.load(self.ann_path(), stamp)
        if index is None:
            if self.refresh_vectors():  # rows of an older vector layout join the index, recomputed
                stamp = self._stamp()
            index = AnnIndex(DIM)
            ids, vecs = self.vectors()
            # a large rebuild (after an import, another writer, a new taoke) takes minutes: show it
            report = self.progress if len(ids) >= REBUILD_PROGRESS_FROM else no_progress
            for start in range(0, len(ids), REBUILD_CHUNK):
                index.add(ids[start : start + REBUILD_CHUNK], vecs[start : start + REBUILD_CHUNK])
                report("rebuilding the ANN index", min(start + REBUILD_CHUNK, len(ids)), len(ids))
            try:
                index.save(self.ann_path(), stamp)
            except OSError:  # a read-only location: keep the in-memory index
                pass
        self._ann = index
        return index


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return " ".join(text.split())[:300]


__all__ = [
    "ModelRecord",
    "Registry",
    "RegistryError",
    "default_url",
    "normalize_url",
]
