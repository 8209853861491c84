"""Scratch databases: a fresh, migrated database on the same server, dropped when done.

The benchmark imports a file into one so that it runs through the real import path without
touching the working database. Creating a database needs the ``CREATEDB`` privilege (the embedded
server's user has it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from store.database import Database, upgrade

logger = logging.getLogger(__name__)
PREFIX = "capconnect_scratch"


def with_database(url: str, dbname: str) -> str:
    """The same server URL naming another database.

    Raises:
        ValueError: ``url`` is not a ``postgresql://`` URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"database URL must look like postgresql://user@host:port/db, got scheme '{parts.scheme}'")
    return urlunsplit(parts._replace(path="/" + dbname))


@contextmanager
def scratch_database(url: str, *, keep: bool = False, prefix: str = PREFIX) -> Iterator[Database]:
    """Create a fresh database next to ``url``'s, migrate it, yield it, and drop it afterwards.

    Args:
        url: URL of any database on the server (its user needs ``CREATEDB``).
        keep: leave the database in place (its URL is logged) instead of dropping it.
        prefix: name prefix; a random suffix keeps concurrent runs apart.

    Raises:
        psycopg.Error: when the server refuses to create the database (e.g. no ``CREATEDB``).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    scratch_url = with_database(url, name)
    logger.info("scratch database %s created", name)
    try:
        upgrade(scratch_url)
        yield Database(url=scratch_url)
    finally:
        if keep:
            logger.info("scratch database kept: %s", scratch_url)
        else:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            logger.info("scratch database %s dropped", name)
