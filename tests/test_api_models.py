"""Models for data scientists: versions, promotion that swaps while requests continue, rollback, refusal of a
corrupt bundle (through the API and through the poller), retraining queued through the API and run by the
worker. Tests run in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_api import ApiEnv, api_service, error_of, wait_for

from matching.ranking.bundle import ModelBundle
from store import registry
from training import pipeline
from training.worker import run_once


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_models")) as env:
        yield env


def _train(api: ApiEnv, version: str) -> ModelBundle:
    with api.db.connect(autocommit=True) as conn:
        return pipeline.train(api.settings, conn, seed=0, version=version, encoder=api.encoder, show_progress=False)


def test_no_versions_yet_serves_content_rules(api: ApiEnv) -> None:
    r = api.get("/v1/models", "ds")
    assert r.status_code == 200 and r.json() == {"serving": "content-rules", "active": None, "versions": []}
    missing = api.get("/v1/models/v9", "ds")
    assert missing.status_code == 404 and error_of(missing)["fields"][0] == {
        "field": "version", "value": "v9", "reason": "no such record"}


def test_promotion_swaps_models_while_requests_continue(api: ApiEnv) -> None:
    _train(api, "v1")
    listed = api.get("/v1/models", "ds").json()
    assert [v["version"] for v in listed["versions"]] == ["v1"] and listed["versions"][0]["status"] == "candidate"
    assert listed["versions"][0]["metrics"]["primary"] > 0 and listed["versions"][0]["serving"] is False

    seen: dict[str, list[tuple[int, str | None]]] = {"deals": [], "investors": []}
    stop = threading.Event()

    def hammer(name: str, path: str, key: str) -> None:
        while not stop.is_set():
            r = api.get(path, key, k=5)
            seen[name].append((r.status_code, r.json().get("model_version")))

    threads = [threading.Thread(target=hammer, args=("deals", f"/v1/investors/{api.ids['inv']}/deals", "inv")),
               threading.Thread(target=hammer, args=("investors", f"/v1/enterprises/{api.ids['ent']}/investors",
                                                     "ent"))]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(seen["deals"]) >= 3 and len(seen["investors"]) >= 3, 30)
    promoted = api.post("/v1/models/v1/promote", "ds", {"force": False})
    n_at_swap = len(seen["deals"])
    assert wait_for(lambda: len(seen["deals"]) >= n_at_swap + 3, 30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {"version": "v1", "status": "active", "serving": "v1", "previous": "content-rules"}
    for name, results in seen.items():
        assert {s for s, _ in results} == {200}, name  # no request failed or was dropped
        versions = [v for _, v in results]
        assert versions[0] == "content-rules" and versions[-1] == "v1", name
        first_v1 = versions.index("v1")  # each thread's requests are sequential: one switch, never back
        assert set(versions[:first_v1]) == {"content-rules"} and set(versions[first_v1:]) == {"v1"}, name
    after = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    assert after["model_version"] == "v1" and after["items"][0]["p_investor"] is not None
    assert api.sql("SELECT model_version FROM served_lists WHERE id = %s", (after["list_id"],)) == [("v1",)]
    assert api.client.get("/readyz").json()["model"]["version"] == "v1"


def test_promotion_refused_unless_better_force_and_rollback(api: ApiEnv) -> None:
    _train(api, "v2")  # same data and seed: not better than v1
    refused = api.post("/v1/models/v2/promote", "admin", {})
    assert refused.status_code == 409
    assert "does not beat the active version v1" in error_of(refused)["message"]
    assert api.state.matcher.model_version == "v1"
    by_ds = api.post("/v1/models/v2/promote", "ds", {"force": True, "reason": "the gate is wrong this time"})
    assert by_ds.status_code == 403 and "only an admin may force" in error_of(by_ds)["message"]
    assert error_of(by_ds)["fields"] == [{"field": "force", "value": True, "reason": "admins only"}]
    for reason in (None, "   "):
        unexplained = api.post("/v1/models/v2/promote", "admin", {"force": True, "reason": reason})
        assert unexplained.status_code == 422 and error_of(unexplained)["fields"] == [
            {"field": "reason", "value": reason, "reason": "required with force: why the quality gate is overridden "
                                                           "(1-500 characters, recorded in the audit log)"}]
    assert api.state.matcher.model_version == "v1"
    forced = api.post("/v1/models/v2/promote", "admin", {"force": True, "reason": "v1 overfits the 2024 cohort"})
    assert forced.status_code == 200 and forced.json()["serving"] == "v2" and forced.json()["previous"] == "v1"
    audit = api.sql("SELECT action, role, enterprise_id, fields, basis, reason FROM audit_log "
                    "WHERE action = 'model_forced'")
    assert audit == [("model_forced", "admin", None, ["model"], "model:v2 over v1", "v1 overfits the 2024 cohort")]
    shown = api.get("/v1/models/v2", "ds").json()
    assert shown["status"] == "active" and shown["serving"] is True
    assert shown["manifest"]["encoder_id"] == "test-char-ngram-64" and shown["manifest"]["features"]
    back = api.post("/v1/models/rollback", "ds", None)
    assert back.status_code == 200 and back.json() == {"version": "v1", "status": "active", "serving": "v1",
                                                      "previous": "v2"}
    again = api.post("/v1/models/rollback", "ds", {"to": "v1"})
    assert again.status_code == 409 and "already active" in error_of(again)["message"]
    bad = api.post("/v1/models/rollback", "ds", {"to": "../x"})
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "to"


def test_a_corrupt_bundle_is_refused_and_the_old_model_keeps_serving(api: ApiEnv) -> None:
    folder = Path(api.sql("SELECT path FROM model_versions WHERE version = 'v2'")[0][0])
    with (folder / "ranker_investor.txt").open("a") as f:
        f.write("\n# tampered\n")
    # promoted behind the service's back (another process): the poller refuses it, the old model serves
    with api.db.connect(autocommit=True) as conn:
        registry.activate(conn, "v2")
    assert wait_for(lambda: api.client.get("/readyz").json()["model"]["refused_version"] == "v2", 10)
    ready = api.get("/readyz", "admin").json()  # the refusal's reason (paths, checksums) is shown to staff only
    assert ready["model"]["version"] == "v1" and "does not match its checksum" in ready["model"]["error"]
    assert api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv").json()["model_version"] == "v1"
    with api.db.connect(autocommit=True) as conn:
        registry.activate(conn, "v1")
    # through the API: verified before the registry changes, so v2 is never made active
    via_api = api.post("/v1/models/v2/promote", "admin", {"force": True, "reason": "checking the tampered bundle"})
    assert via_api.status_code == 409 and "does not match its checksum" in error_of(via_api)["message"]
    assert api.state.matcher.model_version == "v1"
    assert api.sql("SELECT version FROM model_versions WHERE status = 'active'") == [("v1",)]


def test_retrain_runs_in_the_background_and_the_poller_serves_a_promoted_version(
        api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    api.sql("INSERT INTO model_jobs (id, status, requested_by, started_at) "  # a worker that died mid-training
            "VALUES ('dead', 'running', 'cck_dead0000_…', now()) RETURNING id")
    started = api.post("/v1/models/retrain", "ds", {"seed": 1, "version": "v3"})
    assert started.status_code == 202, started.text
    dead = api.get("/v1/models/jobs/dead", "ds").json()
    assert dead["status"] == "failed" and dead["error"] == "abandoned: the process running it stopped"
    job = started.json()
    assert job["status"] in ("queued", "running") and started.headers["location"] == f"/v1/models/jobs/{job['id']}"
    second = api.post("/v1/models/retrain", "admin", {"seed": 2})  # one job at a time, whoever asks
    assert second.status_code == 409 and error_of(second)["fields"] == [
        {"field": "job", "value": job["id"], "reason": "one retraining job at a time: wait for this one "
                                                      f"(GET /v1/models/jobs/{job['id']})"}]
    assert api.sql("SELECT count(*) FROM model_jobs WHERE status IN ('queued', 'running')") == [(1,)]  # rows
    assert run_once(api.settings, encoder=api.encoder) == 1  # `capconnect worker`, not the service, trains
    assert wait_for(lambda: api.get(f"/v1/models/jobs/{job['id']}", "ds").json()["status"] in ("succeeded",
                                                                                                   "failed"), 120)
    done = api.get(f"/v1/models/jobs/{job['id']}", "ds").json()
    assert done["status"] == "succeeded", done["error"]
    assert done["version"] == "v3" and done["metrics"]["primary"] > 0 and done["promoted"] is False
    assert any("fitting the investor ranker" in line for line in done["log"])
    assert api.get("/v1/models/v3", "ds").json()["status"] == "candidate"
    def too_little(*args: object, **kwargs: object) -> None:
        raise pipeline.TrainingError("no investor training or validation rows: the market needs more funnel history")

    monkeypatch.setattr(pipeline, "train", too_little)  # the job imports it when it runs
    failing = api.post("/v1/models/retrain", "admin", None).json()
    run_once(api.settings, encoder=api.encoder)
    assert wait_for(lambda: api.get(f"/v1/models/jobs/{failing['id']}", "ds").json()["status"] == "failed", 30)
    failed = api.get(f"/v1/models/jobs/{failing['id']}", "ds").json()
    assert failed["error"] == ("TrainingError: no investor training or validation rows: the market needs more "
                               "funnel history") and failed["version"] is None and failed["finished_at"]
    assert api.get("/v1/models/jobs/nope", "ds").status_code == 404
    stored = api.sql("SELECT status, version, requested_by FROM model_jobs WHERE id <> 'dead' ORDER BY created_at")
    assert [(s, v) for s, v, _ in stored] == [("succeeded", "v3"), ("failed", None)]
    assert stored[0][2].startswith("cck_") and stored[0][2].endswith("_…")
    with api.db.connect(autocommit=True) as conn:
        registry.activate(conn, "v3")  # e.g. `capconnect models promote v3` in another process
    assert wait_for(lambda: api.state.matcher.model_version == "v3", 10)
    assert api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv").json()["model_version"] == "v3"
