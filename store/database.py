"""Where the database is: the configured server or the embedded one, migrated to the latest schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from matching.config import Settings
from store.embedded import EmbeddedPostgres

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class Database:
    """A reachable, migrated database.

    Attributes:
        url: libpq URL for psycopg.
        embedded: the embedded server when this process uses one, else ``None``.
    """

    url: str
    embedded: EmbeddedPostgres | None = None

    def connect(self, **kwargs: object) -> psycopg.Connection:
        """A new psycopg connection (the caller closes it, ideally with ``with``)."""
        return psycopg.connect(self.url, **kwargs)  # type: ignore[arg-type]


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server object for these settings (not started)."""
    return EmbeddedPostgres(settings.data_dir / "pg", port=settings.pg_port, bin_dir=settings.pg_bin_dir)


@contextmanager
def open_database(settings: Settings, *, migrate: bool = True) -> Iterator[Database]:
    """Yield a ready database: the configured URL, or the embedded server started for the duration.

    The embedded server is stopped on exit only if this call started it, so nested or concurrent
    users of the same cluster do not pull it from under each other.
    """
    server: EmbeddedPostgres | None = None
    if settings.database_url:
        url = settings.database_url
    else:
        server = embedded_server(settings)
        url = server.start()
    try:
        if migrate:
            upgrade(url)
        yield Database(url=url, embedded=server)
    finally:
        if server is not None and server.started_here:
            server.stop()


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", _sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def current_revision(url: str) -> str | None:
    """The schema revision the database is at (``None`` when empty)."""
    engine = create_engine(_sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_alembic_config("postgresql://x/y")).get_current_head()
    assert head is not None
    return head


def upgrade(url: str, revision: str = "head") -> bool:
    """Apply pending migrations; return whether anything was applied. Safe to run any number of times."""
    before = current_revision(url)
    if before == head_revision() and revision == "head":
        return False
    command.upgrade(_alembic_config(url), revision)
    logger.info("database migrated from %s to %s", before or "empty", current_revision(url))
    return True


def downgrade(url: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (``base`` empties the schema)."""
    command.downgrade(_alembic_config(url), revision)


def ping(conn: psycopg.Connection) -> None:
    """One round trip to the server (``SELECT 1``): raises what psycopg raises when it does not answer."""
    conn.execute("SELECT 1").fetchone()
