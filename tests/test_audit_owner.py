"""The audit log belongs to a role of its own: the service's role may INSERT and SELECT, never disable the
append-only trigger, replace its function or drop the table (migration 0006). Where the migrating role may not
create roles, the migration says so, with what to run, and carries on."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from store.database import current_revision, head_revision, upgrade

AUDIT_ROLE = "capconnect_audit"
ROW = ("INSERT INTO audit_log (api_key_id, key_prefix, role, enterprise_id, fields, basis) "
       "VALUES (1, 'abcd1234', 'admin', 7, '{financials}', 'staff')")


@contextmanager
def service_database(pg_admin_url: str, *, createrole: bool, owns_database: bool) -> Iterator[str]:
    """An empty database for a fresh login role (the service's), and that role's URL.

    ``owns_database``: the role owns the database (so the ``public`` schema: it may drop any table in it);
    otherwise an administrator owns both and the role may create tables in ``public`` (README's setup).
    """
    role, name = f"svc_{uuid.uuid4().hex[:10]}", f"o_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN {'CREATEROLE' if createrole else ''}")
        conn.execute(f"CREATE DATABASE {name}" + (f" OWNER {role}" if owns_database else ""))
    if not owns_database:
        with psycopg.connect(_with_db(pg_admin_url, name), autocommit=True) as conn:
            conn.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}, {AUDIT_ROLE}")
    parts = urlsplit(pg_admin_url)
    url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}", path=f"/{name}"))
    try:
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _owner(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'").fetchone()
    assert row is not None
    return str(row[0])


def test_the_template_audit_log_belongs_to_the_audit_role(template_url: str) -> None:
    assert _owner(template_url) == AUDIT_ROLE


def test_the_service_role_can_write_and_read_but_never_disable_or_drop(
        pg_admin_url: str, template_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with service_database(pg_admin_url, createrole=True, owns_database=False) as url:
        with caplog.at_level(logging.WARNING):
            upgrade(url)
        assert current_revision(url) == head_revision() and _owner(url) == AUDIT_ROLE
        assert "could take it back: run the service as an ordinary role" in caplog.text  # CREATEROLE: said so
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ROW)
            assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
            assert not conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (AUDIT_ROLE,)).fetchone()[0]
            for attack in ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
                           "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                           "DROP TABLE audit_log",
                           "DROP FUNCTION audit_log_append_only() CASCADE",
                           "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
                           "AS $$ BEGIN RETURN OLD; END $$",
                           "DELETE FROM audit_log", "UPDATE audit_log SET role = 'x'", "TRUNCATE audit_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(attack)
                    pytest.fail(f"the service's role ran: {attack}")
            assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)


def test_without_createrole_the_migration_says_so_and_carries_on(
        pg_admin_url: str, template_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with service_database(pg_admin_url, createrole=False, owns_database=True) as url:
        with caplog.at_level(logging.WARNING):
            upgrade(url)
        assert current_revision(url) == head_revision()  # the rest of the schema is there
        role = urlsplit(url).username
        assert _owner(url) == role
        warning = caplog.text
        assert f"stays owned by the service's role {role}" in warning
        assert f"ALTER TABLE audit_log OWNER TO {AUDIT_ROLE};" in warning
        assert f"GRANT SELECT, INSERT ON audit_log TO {role};" in warning
        assert f"{role} owns the schema public" in warning  # it could drop any table there: said so
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ROW)  # the service works as before
