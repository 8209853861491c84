"""Operations: liveness, readiness, metrics, JSON logs, a database that goes away, start-up refusals."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg_pool
import pytest
from fastapi.testclient import TestClient
from helpers_api import MARKET, ApiEnv, api_service, error_of
from helpers_encoder import HashingEncoder

from api.app import create_app
from api.loader import EmptyMarketError
from api.logs import JsonFormatter, RequestIdFilter
from matching.config import Settings


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_ops")) as env:
        yield env


def test_healthz_and_readyz_report_what_is_loaded(api: ApiEnv) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    r = api.client.get("/readyz")
    assert r.status_code == 200
    public = r.json()
    assert public["status"] == "ready" and public["components"] == dict.fromkeys(COMPONENTS, "ok")
    assert public["model"] == {"version": "content-rules", "loaded_at": public["model"]["loaded_at"],
                               "refused_version": None}
    assert "details" not in public  # sizes, latency and errors are for staff
    body = api.get("/readyz", "operator").json()
    n_ent, n_inv, _, _ = MARKET
    details = body["details"]
    assert details["database"]["latency_ms"] >= 0 and body["model"]["error"] is None
    assert details["index"] == {"size": n_ent, "dimension": 64, "investor_index_size": n_inv}
    snap = details["snapshot"]
    assert snap["enterprises"] == n_ent and snap["investors"] == n_inv and snap["needs"] > 0 and snap["events"] > 0
    assert snap["as_of"].startswith("20") and details["encoder"] == {"id": "test-char-ngram-64", "dimension": 64}
    assert "details" not in api.get("/readyz", "inv").json()  # a party's key is no staff key


COMPONENTS = ("database", "model", "index", "snapshot", "encoder")


def test_metrics_count_requests_by_route_template_lists_and_events(api: ApiEnv) -> None:
    deals = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    item = deals["items"][0]
    assert api.post("/v1/events", "inv", {"event_id": "m-1", "event_type": "saved", "investor_id": api.ids["inv"],
                                          "enterprise_id": item["enterprise"]["id"],
                                          "list_id": deals["list_id"]}).status_code == 201
    api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", tier="gold")
    r = api.get("/metrics", "operator")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for line in ('capconnect_http_requests_total{method="GET",route="/v1/investors/{investor_id}/deals",status="200"}',
                 'capconnect_http_requests_total{method="GET",route="/v1/investors/{investor_id}/deals",status="422"}',
                 'capconnect_http_request_duration_seconds_bucket{le="0.1",method="GET",'
                 'route="/v1/investors/{investor_id}/deals"}',
                 'capconnect_lists_served_total{side="investor"} 1.0',
                 'capconnect_events_ingested_total{event_type="saved",outcome="created"} 1.0',
                 'capconnect_model_info{version="content-rules"} 1.0'):
        assert line in text, line
    assert f"/v1/investors/{api.ids['inv']}/deals" not in text  # raw paths never become labels


def test_access_log_names_the_key_by_prefix_and_never_logs_it(api: ApiEnv, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="api.access"):
        api.client.get(f"/v1/investors/{api.ids['inv']}/deals", headers={**api.auth("inv"), "X-Request-ID": "log-1"})
    rec = next(r for r in caplog.records if r.name == "api.access" and getattr(r, "route", "").endswith("/deals"))
    assert rec.status == 200 and rec.role == "investor" and rec.key.startswith("cck_") and rec.key.endswith("_…")
    rec.request_id = "log-1"
    line = json.loads(JsonFormatter().format(rec))
    assert line["request_id"] == "log-1" and line["route"] == "/v1/investors/{investor_id}/deals"
    assert all(secret not in caplog.text and secret not in json.dumps(line) for secret in api.keys.values())
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", (), None)
    assert RequestIdFilter().filter(record) and record.request_id is None  # outside a request


def test_a_database_that_goes_away_gives_503_not_500(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = psycopg_pool.ConnectionPool("postgresql://127.0.0.1:1/none?connect_timeout=1", min_size=1, timeout=0.5,
                                       open=True, name="dead")
    try:
        monkeypatch.setattr(api.state, "pool", dead)
        r = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv")
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        err = error_of(r)
        assert err["code"] == "database_unavailable" and "retry shortly" in err["message"]
        ready = api.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready" and ready.json()["components"]["database"] == "down"
        assert api.client.get("/healthz").status_code == 200  # alive, just not ready
    finally:
        monkeypatch.undo()
        dead.close()
    assert api.client.get("/readyz").status_code == 200  # the real pool is back: ready again


def test_readyz_never_shows_the_exception_text(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = psycopg_pool.ConnectionPool("postgresql://leaky_user:leaky_pw@127.0.0.1:1/leaky_db?connect_timeout=1",
                                       min_size=1, timeout=0.5, open=True, name="dead")
    try:
        monkeypatch.setattr(api.state, "pool", dead)
        for key in (None, "inv", "admin"):  # not even staff: the log has it, the body says "down"
            r = api.get("/readyz", key)
            assert r.status_code == 503 and r.json()["components"]["database"] == "down", r.text
            for secret in ("leaky", "127.0.0.1", "PoolTimeout", "OperationalError", "connection"):
                assert secret not in r.text, (key, secret, r.text)
    finally:
        monkeypatch.undo()
        dead.close()


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("revoked", 401), ("inv", 403), ("ent", 403),
                                             ("ds", 403), ("operator", 200), ("admin", 200)])
def test_metrics_need_a_staff_key(api: ApiEnv, key: str | None, status: int) -> None:
    r = api.get("/metrics", key)
    assert r.status_code == status, r.text
    if status == 200:
        assert "capconnect_http_requests_total" in r.text
    else:
        assert "capconnect_" not in r.text and error_of(r)["code"] == ("unauthorized" if status == 401 else "forbidden")


def test_a_setting_opens_metrics_to_scrapers(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.state, "settings", api.state.settings.model_copy(update={"metrics_public": True}))
    r = api.client.get("/metrics")
    assert r.status_code == 200 and "capconnect_http_requests_total" in r.text


@pytest.mark.parametrize(("method", "path", "content"), [
    ("POST", "/v1/events", b"[1, 2, 3]"),
    ("POST", "/v1/events", b"\xff\xfe not json"),
    ("POST", "/v1/events", b'{"event_id": null}'),
    ("GET", "/v1/search?q=%F0%9F%92%B0" + "x" * 300, b""),
    ("GET", "/v1/investors/1e9/deals", b""),
    ("GET", "/v1/investors/99999999999999999999999/deals", b""),
    ("GET", "/v1/events?before=-1&limit=100000", b""),
    ("POST", "/v1/models/..%2F..%2Fetc/promote", b"{}"),
])
def test_malformed_requests_are_client_errors_never_500(api: ApiEnv, method: str, path: str, content: bytes) -> None:
    r = api.client.request(method, path, content=content or None,
                           headers={**api.auth("admin"), "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    error_of(r)


def test_start_up_refuses_an_empty_market(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=db.url, data_dir=tmp_path / "data", models_dir=tmp_path / "models")
    with pytest.raises(EmptyMarketError, match=r"holds no enterprises: run `capconnect serve --demo`"):
        with TestClient(create_app(settings, encoder=HashingEncoder())):
            pass


def test_serve_command_refuses_an_empty_database_and_hints_keys(db, api: ApiEnv, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli.commands import serve as serve_cmd
    from cli.main import app as cli_app
    from matching.config import get_settings

    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(serve_cmd.uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr("api.logs.configure_logging", lambda *a, **k: None)  # leave pytest's log capture alone
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    try:
        monkeypatch.setenv("CAPCONNECT_DATABASE_URL", db.url)
        get_settings.cache_clear()
        empty = runner.invoke(cli_app, ["serve"])
        assert empty.exit_code == 1 and "start with `capconnect serve --demo`" in " ".join(empty.stderr.split())
        monkeypatch.setenv("CAPCONNECT_DATABASE_URL", api.db.url)
        get_settings.cache_clear()
        ok = runner.invoke(cli_app, ["serve", "--port", "8123", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    assert "capconnect keys create --role investor --for" in ok.stdout and "http://127.0.0.1:8123/docs" in ok.stdout
    assert calls == [("cli.commands.serve:worker_app", {
        "factory": True, "host": "127.0.0.1", "port": 8123, "workers": 2, "log_config": None,
        "timeout_worker_healthcheck": serve_cmd.WORKER_HEALTHCHECK_SECONDS})]
