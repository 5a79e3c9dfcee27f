"""Registry schema (SQLAlchemy Core) and its versioned migrations.

WHY Core tables and hand-written migrations instead of an ORM and alembic: the registry has three
tables, must run unchanged on SQLite (a laptop) and PostgreSQL (a team), and has to upgrade a user's
existing file in place. A ``schema_version`` table and an ordered list of migration functions, each
run in its own transaction, do exactly that with nothing to configure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("description", Text, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 over the sorted (file name, sha256) of the weight files: the model's identity
    Column("content_id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("revision", Text),
    Column("family", Text),
    Column("hf_class", Text),
    Column("n_params", BigInteger),
    Column("n_layers", Integer),
    Column("d_model", Integer),
    Column("vocab_size", Integer),
    Column("size_bytes", BigInteger),
    Column("declared_base", Text),  # JSON list of declared parents ("[]" when none)
    Column("license", Text),
    Column("indexed_at", DateTime(timezone=True), nullable=False),
    Column("taoke_version", String(32), nullable=False),
    Column("vector_version", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32 compact vector (taoke.registry.vector)
    Column("fingerprint", LargeBinary, nullable=False),  # compressed .npz of taoke.weights.fingerprint
    Column("fingerprint_bytes", Integer, nullable=False),
    Column("fingerprint_seconds", Float),
)

files = Table(
    "files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)

failures = Table(
    "failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)


def _v1(conn: Connection) -> None:
    """Models and their weight files."""
    models.create(conn)
    files.create(conn)
    # Indexes as plain DDL (valid on SQLite and PostgreSQL), not Index objects: those would attach to
    # the shared Table metadata and be created again by the next database's ``create``.
    conn.exec_driver_sql("CREATE INDEX ix_files_sha256 ON files (sha256)")
    conn.exec_driver_sql("CREATE INDEX ix_files_model ON files (model_id)")


def _v2(conn: Connection) -> None:
    """Failures of ``taoke scan`` (one line each), and lookup by name."""
    failures.create(conn)
    conn.exec_driver_sql("CREATE INDEX ix_models_name ON models (name)")


# Ordered; never edit a released step, append a new one.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "models and weight files", _v1),
    (2, "scan failures; index on model name", _v2),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    """The schema version of the database (0 for an empty one)."""
    if not inspect(engine).has_table("schema_version"):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def check_readable(engine: Engine) -> int:
    """For a registry opened read-only (an export to import): its ``schema_version``, ``models`` and
    ``files`` are plain tables (not views that could multiply rows) and its schema is this taoke's.
    Nothing is migrated: a migration writes, and would run the file's triggers."""
    with engine.connect() as conn:
        kinds = dict(
            conn.exec_driver_sql(
                "SELECT name, type FROM sqlite_master WHERE name IN ('schema_version', 'models', 'files')"
            ).all()
        )
    for name in ("schema_version", "models", "files"):
        if kinds.get(name) != "table":
            raise RuntimeError(f"not a taoke registry: {name} is {kinds.get(name) or 'missing'}, not a table")
    version = current_version(engine)
    if version != SCHEMA_VERSION:
        raise RuntimeError(
            f"registry schema version {version} is not this taoke's ({SCHEMA_VERSION}): "
            "export it again with the same taoke version"
        )
    return version


def migrate(engine: Engine) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`, one transaction per step; returns the version.

    A database newer than this taoke is refused (an older taoke must not write a schema it does not
    know): the caller turns that into a one-line error.
    """
    if not inspect(engine).has_table("schema_version"):
        with engine.begin() as conn:
            schema_version.create(conn, checkfirst=True)
    version = current_version(engine)
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"registry schema version {version} is newer than this taoke ({SCHEMA_VERSION})")
    for number, description, step in MIGRATIONS:
        if number <= version:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                insert(schema_version).values(
                    version=number, applied_at=datetime.now(timezone.utc), description=description
                )
            )
        version = number
    return version
