"""Export a registry to one file and import it into any registry (SQLite or PostgreSQL).

WHY the exchange format is a SQLite file: it is a single portable file, self-describing (it carries
its own ``schema_version``), readable by any SQLite tool, and the same code that opens a registry
opens it, so an export is itself a registry one can ``taoke search --db`` directly. Import copies model
by model (one transaction each) and skips content already present, so importing twice, or merging the
registries of two teams, is safe.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from taoke.registry import schema
from taoke.registry.store import Registry, RegistryError

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
    source = Registry(str(path))
    try:
        return _copy(source, target)
    finally:
        source.engine.dispose()


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
