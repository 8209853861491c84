"""Retraining out of the serving process: the API queues a job, ``capconnect worker`` (a process of its own)
runs it, and the running service serves the version the worker promoted. The API process never imports
``training``. A worker that stopped leaves its job to the next one, which marks it failed; a worker told to
stop mid-job records that the job was stopped. Tests run in order on one service.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers_api import ApiEnv, api_service, error_of, wait_for

from store import jobs as jobs_db
from training.worker import STOPPED, run_once

ROOT = Path(__file__).resolve().parents[1]

#: ``capconnect …`` in a process of its own, training with the hashing test encoder the service serves.
CAPCONNECT = """
import sys, time
sys.path.insert(0, {tests!r})
from helpers_encoder import HashingEncoder
import training.worker
training.worker.load_serving_encoder = lambda settings: HashingEncoder()
if {slow!r}:  # a training that takes a while, to be stopped midway
    from training import pipeline

    def slow(settings, conn, **kwargs):
        kwargs["progress"]("fitting slowly")
        time.sleep(120)

    pipeline.train = slow
from cli.main import app
app(sys.argv[1:], prog_name="capconnect")
"""

#: The service in a process of its own: queue a job, then say which modules it has imported.
SERVICE = """
import json, sys
sys.path.insert(0, {tests!r})
from fastapi.testclient import TestClient
from helpers_encoder import HashingEncoder
from api.app import create_app
from matching.config import Settings
with TestClient(create_app(Settings(), encoder=HashingEncoder())) as client:
    auth = {{"Authorization": "Bearer " + sys.argv[1]}}
    queued = client.post("/v1/models/retrain", json={{"seed": 2}}, headers=auth)
    job = client.get(queued.headers["location"], headers=auth).json()
    listed = client.get("/v1/models", headers=auth).json()
print(json.dumps({{"status": queued.status_code, "job": job["status"], "serving": listed["serving"],
                  "training": sorted(m for m in sys.modules if m == "training" or m.startswith("training."))}}))
"""


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_worker")) as env:
        yield env


def _env(api: ApiEnv) -> dict[str, str]:
    s = api.settings
    return {**os.environ, "CAPCONNECT_DATABASE_URL": api.db.url, "CAPCONNECT_DATA_DIR": str(s.data_dir),
            "CAPCONNECT_MODELS_DIR": str(s.models_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _capconnect(api: ApiEnv, *args: str, slow: bool = False) -> subprocess.Popen[str]:
    script = CAPCONNECT.format(tests=str(ROOT / "tests"), slow=slow)
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env=_env(api), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_job_queued_through_the_api_is_run_by_the_worker_and_its_promoted_model_served(api: ApiEnv) -> None:
    queued = api.post("/v1/models/retrain", "ds", {"seed": 1, "version": "w1", "promote": True})
    assert queued.status_code == 202, queued.text
    job = queued.json()
    time.sleep(1.0)  # the service runs no job: it stays queued until a worker takes it
    assert api.get(f"/v1/models/jobs/{job['id']}", "ds").json()["status"] == "queued"
    assert api.state.matcher.model_version == "content-rules"
    worker = _capconnect(api, "worker", "--once")
    out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err[-3000:]
    assert "1 retraining job(s) run" in out
    done = api.get(f"/v1/models/jobs/{job['id']}", "ds").json()
    assert done["status"] == "succeeded", done["error"]
    assert done["version"] == "w1" and done["promoted"] is True and done["started_at"] and done["finished_at"]
    assert any("fitting the investor ranker" in line for line in done["log"])
    assert api.sql("SELECT status FROM model_versions WHERE version = 'w1'") == [("active",)]
    # the running service notices the new active version by itself (its poller), no restart, no call
    assert wait_for(lambda: api.state.matcher.model_version == "w1", 10)
    assert api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()["model_version"] == "w1"
    assert api.get("/v1/models", "ds").json()["serving"] == "w1"


def test_the_service_process_never_imports_training(api: ApiEnv) -> None:
    script = SERVICE.format(tests=str(ROOT / "tests"))
    ran = subprocess.run([sys.executable, "-c", script, api.keys["ds"]], cwd=ROOT, env=_env(api), text=True,
                         capture_output=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    seen = json.loads(ran.stdout.strip().splitlines()[-1])
    assert seen == {"status": 202, "job": "queued", "serving": "w1", "training": []}
    with api.db.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM model_jobs WHERE status = 'queued'")  # not run: the next tests queue their own


def test_a_job_left_running_by_a_stopped_worker_is_failed_by_the_next(api: ApiEnv) -> None:
    api.sql("INSERT INTO model_jobs (id, status, requested_by, started_at) VALUES ('gone', 'running', 'x', now()) "
            "RETURNING id")
    held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
            (jobs_db.JOB_LOCK >> 32, jobs_db.JOB_LOCK & 0xFFFFFFFF))
    with psycopg.connect(api.db.url, autocommit=True) as live:  # a worker alive and running it: left alone
        assert jobs_db.try_lock(live) and api.sql(*held) == [(1,)]
        assert run_once(api.settings, encoder=api.encoder) == 0
        busy = api.post("/v1/models/retrain", "ds", {"seed": 3})
        assert busy.status_code == 409 and error_of(busy)["fields"][0]["value"] == "gone"
        assert api.get("/v1/models/jobs/gone", "ds").json()["status"] == "running"
    assert wait_for(lambda: api.sql(*held) == [(0,)], 10)  # the server has ended that worker's session
    assert run_once(api.settings, encoder=api.encoder) == 0  # its worker is gone now: the next one fails it
    gone = api.get("/v1/models/jobs/gone", "ds").json()
    assert gone["status"] == "failed" and gone["error"] == "abandoned: the process running it stopped"


def test_a_waiting_worker_takes_a_job_when_queued_and_a_stop_fails_it_midway(api: ApiEnv) -> None:
    worker = _capconnect(api, "worker", "--poll-seconds", "30", slow=True)  # woken by the queue's notice
    try:
        time.sleep(3.0)  # started and listening
        job = api.post("/v1/models/retrain", "ds", {"seed": 4}).json()
        assert wait_for(lambda: "fitting slowly" in api.get(f"/v1/models/jobs/{job['id']}", "ds").json()["log"],
                         20), worker.stderr.read() if worker.poll() is not None else "still waiting"
        assert api.get(f"/v1/models/jobs/{job['id']}", "ds").json()["status"] == "running"
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err[-3000:]
    assert "retraining worker stopped" in out
    stopped = api.get(f"/v1/models/jobs/{job['id']}", "ds").json()
    assert stopped["status"] == "failed" and stopped["error"] == STOPPED and stopped["finished_at"]
    assert api.post("/v1/models/retrain", "ds", {"seed": 5}).status_code == 202  # the queue is free again
