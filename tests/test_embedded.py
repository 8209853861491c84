"""The embedded server: created on first use, data persists, stopped by whoever started it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from matching.config import Settings
from store.database import open_database
from store.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_bin_dir, free_port


@pytest.fixture
def data_dir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="capconnect-emb-"))
    root.chmod(0o755)
    return root


def test_persists_between_runs_and_stops_on_exit(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, pg_port=free_port(), database_url=None)
    with open_database(settings) as db:
        assert db.embedded is not None and db.embedded.started_here
        with db.connect() as conn:
            conn.execute("INSERT INTO investors (external_id, name, investor_type) "
                         "VALUES ('p1', '持久化测试基金', 'vc')")
            conn.commit()
    server = EmbeddedPostgres(data_dir / "pg", port=settings.pg_port)
    assert not (server.pgdata / "postmaster.pid").exists()  # stopped cleanly
    with open_database(settings) as db, db.connect() as conn:
        assert conn.execute("SELECT name FROM investors").fetchone()[0] == "持久化测试基金"


def test_a_running_server_is_reused_not_stopped(data_dir: Path) -> None:
    port = free_port()
    outer = EmbeddedPostgres(data_dir / "pg", port=port)
    outer.start()
    try:
        with open_database(Settings(data_dir=data_dir, pg_port=port)) as db:
            assert db.embedded is not None and not db.embedded.started_here
        assert (outer.pgdata / "postmaster.pid").exists()  # still running: we did not start it
    finally:
        outer.stop()


def test_database_url_starts_nothing(data_dir: Path, template_url: str) -> None:
    with open_database(Settings(data_dir=data_dir, database_url=template_url)) as db:
        assert db.embedded is None and db.url == template_url
    assert not (data_dir / "pg").exists()


def test_missing_binaries_say_what_to_install(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import store.embedded as emb

    monkeypatch.setenv("PATH", str(data_dir))  # no pg_config, no initdb on PATH
    monkeypatch.setattr(emb.glob, "glob", lambda pattern: [])  # no /usr/lib/postgresql/*/bin
    with pytest.raises(EmbeddedPostgresError, match="apt-get install postgresql"):
        find_bin_dir(None)
    with pytest.raises(EmbeddedPostgresError, match="CAPCONNECT_PG_BIN_DIR=.* holds no initdb"):
        find_bin_dir(data_dir)


def test_port_taken_is_reported(data_dir: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(EmbeddedPostgresError, match=f"port {port} .* CAPCONNECT_PG_PORT"):
            EmbeddedPostgres(data_dir / "pg", port=port).start()
