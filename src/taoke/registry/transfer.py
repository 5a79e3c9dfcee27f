"""Export a registry to one file and import it into any registry (SQLite or PostgreSQL).

WHY the exchange format is a SQLite file: it is a single portable file, self-describing (it carries
its own ``schema_version``), readable by any SQLite tool, and the same code that opens a registry
opens it, so an export is itself a registry one can ``taoke search --db`` directly. Import copies model
by model (one transaction each) and skips content already present, so importing twice, or merging the
registries of two teams, is safe.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from taoke.errors import CorruptFile
from taoke.registry import schema
from taoke.registry.store import Registry, RegistryError, declared_list, fingerprint_from_bytes

BATCH = 200


def export_registry(source: Registry, path: str | Path, *, overwrite: bool = False) -> int:
    """Write every model (fingerprint, identity, files) of ``source`` to a new SQLite file."""
    path = Path(path).expanduser().resolve()
    if path.exists():
        if not overwrite:
            raise RegistryError("export file already exists (use --force to overwrite)", path)
        path.unlink()
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            extra.unlink(missing_ok=True)
    if source.sqlite_path is not None and source.sqlite_path.resolve() == path:
        raise RegistryError("cannot export a registry onto itself", path)
    target = Registry(str(path))
    try:
        return _copy(source, target)
    finally:
        with target.engine.connect() as conn:  # fold the WAL back: the export is one file
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        target.engine.dispose()
        for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            extra.unlink(missing_ok=True)


def import_registry(target: Registry, path: str | Path) -> int:
    """Add every model of the exported file at ``path`` that ``target`` lacks; returns how many."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise RegistryError("no such registry export", path)
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise RegistryError("not a taoke registry export (expected a SQLite file)", path)
    source = Registry(str(path), read_only=True)  # never migrated or written: its triggers never fire
    try:
        return _copy(source, target)
    finally:
        source.engine.dispose()


_INT_COLUMNS = ("n_params", "n_layers", "d_model", "vocab_size", "size_bytes", "fingerprint_bytes")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_row(row: Any, file_rows: list[dict], source: Registry) -> None:
    """One model row of an export, checked before it is copied: the registry it lands in is the
    user's own, and a value that cannot be read back (a deep or NaN JSON column, a fingerprint blob
    that is not one, an integer SQLite cannot hold) would break every later search of it."""
    where = f"{source.sqlite_path or source.display_url} (model {row['id']})"
    if not isinstance(row["content_id"], str) or not isinstance(row["name"], str):
        raise CorruptFile("content_id or name is not text", where)
    declared_list(row["declared_base"], where)
    for col in _INT_COLUMNS:
        v = row[col]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 62):
            raise CorruptFile(f"{col} is not an integer in range", where)
    if not isinstance(row["fingerprint"], bytes) or not isinstance(row["vector"], bytes):
        raise CorruptFile("fingerprint or vector is not a blob", where)
    fingerprint_from_bytes(row["fingerprint"], where)  # the same checks as a fingerprint file
    for fr in file_rows:
        size = fr["size"]
        if (
            not isinstance(fr["path"], str)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or not 0 <= size < 1 << 62
            or not (isinstance(fr["sha256"], str) and _SHA256.fullmatch(fr["sha256"]))
        ):
            raise CorruptFile("a file row has a bad path, size or sha256", where)


def _copy(source: Registry, target: Registry) -> int:
    known = target.content_ids()
    m, f = schema.models, schema.files
    added = 0
    with source.engine.connect() as src:
        ids = [int(r[0]) for r in src.execute(select(m.c.id).order_by(m.c.id))]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            rows = src.execute(select(m).where(m.c.id.in_(chunk)).order_by(m.c.id)).mappings().all()
            file_rows = src.execute(select(f).where(f.c.model_id.in_(chunk))).mappings().all()
            by_model: dict[int, list[dict]] = {}
            for fr in file_rows:
                by_model.setdefault(int(fr["model_id"]), []).append(dict(fr))
            for row in rows:
                if row["content_id"] in known:
                    continue
                _check_row(row, by_model.get(int(row["id"]), []), source)
                values = {k: v for k, v in dict(row).items() if k != "id"}
                with target.engine.begin() as dst:
                    new_id = int(dst.execute(insert(m).values(**values)).inserted_primary_key[0])
                    fl = [
                        {"model_id": new_id, "path": x["path"], "size": x["size"], "sha256": x["sha256"]}
                        for x in by_model.get(int(row["id"]), [])
                    ]
                    if fl:
                        dst.execute(insert(f), fl)
                known.add(row["content_id"])
                added += 1
    target._ann = None  # the stamp changed: the next search rebuilds or reloads the index
    return added
