"""Two service processes, each with a data folder of its own, over one database: one market, as behind a
load balancer (README: "Several service machines behind a load balancer").

Each process is a real uvicorn (``bench.live_server.serve``) with the small hashing encoder. What one serves the
other knows through PostgreSQL alone: an event quoting a list served by the other process is accepted, a key's
rate limit is one budget over both, and the shows one process served count toward the other's exposure cap.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from conftest import TEMPLATE, _with_db
from helpers_live import investor_parties, load_market

from bench.live_server import Party, serve
from matching.ranking.diversity import DiversityConfig

BURST = 80  # requests per key per window; rate 1/s: the window (80 s) outlasts the test
CAP = DiversityConfig().exposure_cap
K = 3


@pytest.fixture(scope="module")
def live_db(pg_admin_url: str, template_url: str) -> Iterator[str]:
    name = f"multi_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = _with_db(pg_admin_url, name)
    try:
        load_market(url, enterprises=120, investors=30)
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def two_services(live_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two processes: data folders ``a/`` and ``b/``, one database."""
    root = tmp_path_factory.mktemp("multi")
    env = {"CAPCONNECT_API_RATE_PER_SECOND": "1", "CAPCONNECT_API_RATE_BURST": str(BURST),
           "CAPCONNECT_EXPOSURE_REFRESH_SECONDS": "0.3"}
    with serve(live_db, root / "a", log=root / "a.log", **env) as a, \
            serve(live_db, root / "b", log=root / "b.log", **env) as b:
        yield a, b


def _deals(client: httpx.Client, base: str, party: Party, k: int = K) -> dict:
    r = client.get(f"{base}/v1/investors/{party.investor_id}/deals", params={"k": k},
                   headers={"Authorization": f"Bearer {party.key}"})
    assert r.status_code == 200, r.text
    return r.json()


def _post_event(client: httpx.Client, base: str, party: Party, body: dict) -> httpx.Response:
    """Post an event, retrying the documented 503 (a list served moments ago, not in the log yet)."""
    for _ in range(20):
        r = client.post(f"{base}/v1/events", json=body, headers={"Authorization": f"Bearer {party.key}"})
        if r.status_code != 503:
            return r
        time.sleep(float(r.headers.get("Retry-After", "1")) / 4)
    return r


def test_an_event_quoting_a_list_the_other_process_served_is_accepted(
        two_services: tuple[str, str], live_db: str) -> None:
    a, b = two_services
    party = investor_parties(live_db, 3)[0]
    with httpx.Client(timeout=30) as client:
        for served_by, told in ((a, b), (b, a)):
            deal = _deals(client, served_by, party)
            item = deal["items"][0]
            body = {"event_id": uuid.uuid4().hex, "event_type": "saved", "investor_id": party.investor_id,
                    "enterprise_id": item["enterprise"]["id"], "list_id": deal["list_id"]}
            r = _post_event(client, told, party, body)
            assert r.status_code == 201, r.text
        unknown = {**body, "event_id": uuid.uuid4().hex, "list_id": str(uuid.uuid4())}  # a version-4 id: no time
        r = client.post(f"{b}/v1/events", json=unknown, headers={"Authorization": f"Bearer {party.key}"})
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "list_id", r.text
    with psycopg.connect(live_db, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM funnel_events WHERE investor_id = %s AND list_id IS NOT NULL",
                              (party.investor_id,)).fetchone()[0]
    assert stored == 2


def test_a_keys_rate_limit_is_one_budget_over_both_processes(two_services: tuple[str, str], live_db: str) -> None:
    a, b = two_services
    party = investor_parties(live_db, 3)[1]
    statuses: list[int] = []
    with httpx.Client(timeout=30) as client:
        for i in range(BURST + 2):  # alternately: half the burst on each process
            r = client.get(f"{(a, b)[i % 2]}/v1/investors/{party.investor_id}",
                           headers={"Authorization": f"Bearer {party.key}"})
            statuses.append(r.status_code)
        assert r.headers.get("Retry-After") is not None
    assert statuses[:BURST] == [200] * BURST
    assert statuses[BURST:] == [429, 429], statuses[BURST - 2:]  # the (burst+1)-th, on either process


def test_shows_served_by_one_process_count_toward_the_others_exposure_cap(
        two_services: tuple[str, str], live_db: str) -> None:
    a, b = two_services
    with httpx.Client(timeout=30) as client:  # an investor with room beyond its head: 2·K deals or more
        party = next(p for p in investor_parties(live_db, 8) if len(_deals(client, b, p, 2 * K)["items"]) == 2 * K)
        first = [it["enterprise"]["id"] for it in _deals(client, b, party)["items"]]
        for _ in range(CAP):  # process a shows this investor's list until its head reaches the cap
            _deals(client, a, party)
        time.sleep(0.2)  # a's impression writer flushes every 20 ms
        with psycopg.connect(live_db, autocommit=True) as conn:
            capped = {int(e) for e, in conn.execute(
                "SELECT enterprise_id FROM served_list_items WHERE enterprise_id IS NOT NULL GROUP BY 1 "
                "HAVING count(*) >= %s", (CAP,))}
        assert capped & set(first), (first, capped)  # the head b served first is at the cap now, through a
        deadline, seen = time.monotonic() + 10, first
        while time.monotonic() < deadline:  # b reads the shared counts every 0.3 s
            seen = [it["enterprise"]["id"] for it in _deals(client, b, party)["items"]]
            if not capped & set(seen):
                break
            time.sleep(0.5)
    assert not capped & set(seen), f"process b still shows {sorted(capped & set(seen))}, shown {CAP}+ times by a"


@pytest.mark.parametrize(("cores", "asked", "expected"), [(1, None, 2), (2, None, 2), (6, None, 6), (6, "1", 1),
                                                          (2, "3", 3)])
def test_serve_runs_a_worker_per_core_at_least_two_and_prints_its_hints_once(
        live_db: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        cores: int, asked: str | None, expected: int) -> None:
    from typer.testing import CliRunner

    from cli.commands import serve as serve_cmd
    from cli.main import app as cli_app
    from matching.config import get_settings

    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(serve_cmd.uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr("api.logs.configure_logging", lambda *a, **k: None)  # leave pytest's log capture alone
    monkeypatch.setattr(serve_cmd.os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr("api.app.create_app", lambda *a, **k: "the one-worker app")
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path_factory.mktemp("serve")))
    monkeypatch.setenv("CAPCONNECT_DATABASE_URL", live_db)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli_app, ["serve", "--port", "8124", *(["--workers", asked] if asked else [])])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert out.stdout.count("console: http://127.0.0.1:8124/web") == 1  # by the parent, before any worker starts
    assert f"with {expected} worker process{'es' if expected > 1 else ''};" in out.stdout
    assert len(calls) == 1
    app, kw = calls[0]
    if expected == 1:
        assert app == "the one-worker app" and "workers" not in kw
    else:
        assert app == "cli.commands.serve:worker_app" and kw["workers"] == expected and kw["factory"] is True
        assert kw["timeout_worker_healthcheck"] == serve_cmd.WORKER_HEALTHCHECK_SECONDS


def _requests_total(text: str, route: str) -> float:
    """``capconnect_http_requests_total`` of ``route`` (status 200) in a ``/metrics`` answer (0 when absent)."""
    prefix = f'capconnect_http_requests_total{{method="GET",route="{route}",status="200"}} '
    return sum(float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))


def test_workers_sharing_a_metrics_folder_answer_metrics_for_all_of_them(
        live_db: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two processes as ``serve --workers 2`` starts them (one ``PROMETHEUS_MULTIPROC_DIR``): a scrape reaching
    either counts the requests both answered, and the model gauge says 1 once, not 2."""
    root = tmp_path_factory.mktemp("metrics")
    (root / "prom").mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(root / "prom"), "CAPCONNECT_METRICS_PUBLIC": "true"}
    with serve(live_db, root / "a", log=root / "a.log", **env) as a, \
            serve(live_db, root / "b", log=root / "b.log", **env) as b, httpx.Client(timeout=30) as client:
        for base, n in ((a, 3), (b, 5)):
            for _ in range(n):
                assert client.get(f"{base}/healthz").status_code == 200
        for base in (a, b):
            text = client.get(f"{base}/metrics").text
            assert _requests_total(text, "/healthz") == 8, text
            model = [line for line in text.splitlines() if line.startswith("capconnect_model_info{")]
            assert model and all(line.endswith(" 1.0") for line in model), model


def test_serve_with_several_workers_gives_them_one_fresh_metrics_folder_and_removes_it(
        live_db: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    from pathlib import Path

    from typer.testing import CliRunner

    from api.metrics import MULTIPROC_ENV
    from cli.commands import serve as serve_cmd
    from cli.main import app as cli_app
    from matching.config import get_settings

    seen: list[str | None] = []

    def fake_run(app: object, **kw: object) -> None:
        folder = os.environ.get(MULTIPROC_ENV)
        seen.append(folder)
        assert folder and Path(folder).is_dir() and not any(Path(folder).iterdir())

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    monkeypatch.setattr(serve_cmd.uvicorn, "run", fake_run)
    monkeypatch.setattr("api.logs.configure_logging", lambda *a, **k: None)
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path_factory.mktemp("serve-metrics")))
    monkeypatch.setenv("CAPCONNECT_DATABASE_URL", live_db)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli_app, ["serve", "--port", "8125", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert len(seen) == 1 and seen[0] is not None
    assert not Path(seen[0]).exists() and MULTIPROC_ENV not in os.environ
