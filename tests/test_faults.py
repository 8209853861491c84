"""Faults: the database restarted under load, a bad model artifact, a training run and an import killed.

* PostgreSQL (a server of this test's own, not the session's) is stopped for a few seconds while
  clients post events to a live uvicorn: the service answers 503 (never 500, never a hung request)
  while it is down, recovers by itself when it is back (the pool replaces broken connections), and
  every event it acknowledged is stored exactly once.
* A corrupted or mismatched artifact is refused at start-up (the service serves content + rules with
  the refusal in ``/readyz``); at promotion and in the poller it is refused while the previous model
  keeps serving: ``tests/test_api_models.py::test_a_corrupt_bundle_is_refused_and_the_old_model_keeps_serving``.
* ``capconnect train`` killed with SIGKILL while it writes its artifacts registers nothing.
  (``tests/test_training.py`` has the in-process variant.)
* ``capconnect import enterprises BIG.csv`` killed with SIGKILL while it loads leaves no row behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from conftest import TEMPLATE, _with_db
from helpers_encoder import HashingEncoder
from helpers_live import investor_parties, load_market

from api.loader import active_bundle
from bench.live_server import Load, serve, stored_counts
from matching.domain.credit_code import make_credit_code
from matching.serving.results import CONTENT_RULES
from store.database import upgrade
from store.embedded import EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def own_db(pg_admin_url: str, template_url: str) -> Iterator[str]:
    """A migrated database with a small market, on the session server."""
    name = f"fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = _with_db(pg_admin_url, name)
    try:
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _env(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CAPCONNECT_DATABASE_URL": url, "CAPCONNECT_DATA_DIR": str(tmp / "data"),
            "CAPCONNECT_MODELS_DIR": str(tmp / "models"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


# -- the database goes away under load ------------------------------------------------------------------
def test_postgres_stopped_and_restarted_under_load(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="capconnect-fault-pg-"))
    root.chmod(0o755)  # the postgres OS user must reach it when tests run as root
    server = EmbeddedPostgres(root / "pg", port=free_port())
    try:
        url = server.start()
        upgrade(url)
        load_market(url, enterprises=150, investors=30)
        parties = investor_parties(url, 6)
        with serve(url, tmp_path, log=tmp_path / "server.log") as base:
            load = Load(base, parties, threads=6, seed=2)
            runner = threading.Thread(target=load.run, args=(12.0,))
            runner.start()
            time.sleep(3)
            down = time.monotonic()
            server.stop()
            time.sleep(3)
            server.start()
            up = time.monotonic()
            runner.join()
            ready = httpx.get(f"{base}/readyz", timeout=10)
        f = load.figures
        with psycopg.connect(url, autocommit=True) as conn:
            stored = stored_counts(conn, f.acknowledged)
        print(f"\nrequests {f.requests}, statuses {dict(f.statuses)}, transport errors {f.transport_errors}, "
              f"acknowledged {len(f.acknowledged)}, stored once {stored.get(1, 0)}, 503 for "
              f"{(f.last_503 or down) - (f.first_503 or down):.1f} s, first success "
              f"{(f.first_ok_after_503 or 0) - up:.1f} s after the restart")
        assert f.statuses[503] > 0 and f.first_503 is not None and f.first_503 >= down - 0.5
        assert f.server_errors == 0 and f.transport_errors == 0, dict(f.statuses)
        assert f.first_ok_after_503 is not None and f.first_ok_after_503 - up < 6  # recovered by itself
        assert ready.status_code == 200
        assert stored == {1: len(f.acknowledged)} and len(f.acknowledged) > 20  # nothing acknowledged was lost
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- a corrupted artifact at start-up -------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbage manifest", "missing files", "other encoder"])
def test_a_corrupt_active_artifact_is_refused_at_load(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "v-bad"
    folder.mkdir()
    if damage == "garbage manifest":
        (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "other encoder":
        (folder / "manifest.json").write_text(json.dumps({"encoder": {"id": "another-encoder", "dimension": 7},
                                                          "files": {}}), encoding="utf-8")
    bundle, status = active_bundle(SimpleNamespace(version="v-bad", path=str(folder)),  # type: ignore[arg-type]
                                   HashingEncoder().encoder_id)
    assert bundle is None and status.version == CONTENT_RULES  # served without it, not with it
    assert status.refused_version == "v-bad" and status.error


TRAIN = """
import sys
sys.path.insert(0, {tests!r})
import psycopg
from helpers_encoder import HashingEncoder
from matching.config import Settings
from training.pipeline import train
settings = Settings()
with psycopg.connect(settings.database_url, autocommit=True) as conn:
    train(settings, conn, version="killed", encoder=HashingEncoder(), show_progress=False, register=True)
"""


# -- a training run killed while writing -------------------------------------------------------------------
def test_training_killed_midway_registers_nothing(own_db: str, tmp_path: Path) -> None:
    load_market(own_db, enterprises=200, investors=40)
    env = _env(own_db, tmp_path)
    # the training pipeline of `capconnect train`, in a process of its own, with the small test encoder
    proc = subprocess.Popen([sys.executable, "-c", TRAIN.format(tests=str(ROOT / "tests"))], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    models = tmp_path / "models"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if models.exists() and any(p.name.startswith(".incoming-") for p in models.iterdir()):
            break  # the artifacts are being written: the worst moment to die
        time.sleep(0.005)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read()[-2000:]!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with psycopg.connect(own_db, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone() == (0,)
    assert [p.name for p in models.iterdir() if not p.name.startswith(".")] == []  # no version folder
    listed = subprocess.run([sys.executable, "-m", "cli.main", "models", "list", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and json.loads(listed.stdout or "[]") == []


# -- an import killed while loading --------------------------------------------------------------------------
def test_import_killed_midway_leaves_no_partial_data(own_db: str, tmp_path: Path) -> None:
    big = tmp_path / "BIG.csv"
    rows = ["统一社会信用代码,企业名称,所属区县,所属行业,层级,注册资本"]
    rows += [f"{make_credit_code('9', '1', '500112', f'BG{i:07d}')},导入中断测试企业{i},渝北区,生物医药,基础层,5000万"
             for i in range(30_000)]
    big.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    with psycopg.connect(own_db, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM enterprises").fetchone()[0]
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "import", "enterprises", str(big)], cwd=ROOT,
                                env=_env(own_db, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline, loading = time.monotonic() + 120, False
        while time.monotonic() < deadline and proc.poll() is None and not loading:
            loading = conn.execute(  # the importer's connection is writing (COPY or INSERT) right now
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                "pg_backend_pid() AND state = 'active' AND query ~* '^\\s*(COPY|INSERT)'").fetchone()[0]
            time.sleep(0.01)
        assert proc.poll() is None and loading, f"the import was not caught loading: {proc.stderr.read()[-2000:]!r}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.5)  # the server notices the dead client and rolls its transaction back
        after = conn.execute("SELECT count(*) FROM enterprises").fetchone()[0]
        partial = conn.execute("SELECT count(*) FROM enterprises WHERE name LIKE '导入中断测试企业%'").fetchone()[0]
    assert (after, partial) == (before, 0)
