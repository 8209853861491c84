"""Lists written behind the response (api.impressions): in the log within a flush, feedback never misses them,
a list the database refuses never blocks the others (dead letters), and the events path never sleeps."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from helpers_api import ApiEnv, api_service, error_of

from api import impressions as impressions_mod
from api.metrics import Metrics
from store import lists as lists_db
from store.lists import ServedList


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    # a long flush interval: a list is certainly still queued when the event arrives
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_impr"), impression_flush_ms=2000) as env:
        yield env


def _stored(api: ApiEnv, list_id: str) -> tuple[int, int]:
    with api.db.connect() as conn:
        lists = conn.execute("SELECT count(*) FROM served_lists WHERE id = %s", (list_id,)).fetchone()[0]
        items = conn.execute("SELECT count(*) FROM served_list_items WHERE list_id = %s", (list_id,)).fetchone()[0]
    return lists, items


def test_a_list_is_queued_then_written_with_all_its_items(api: ApiEnv) -> None:
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=5).json()
    writer = api.client.app.state.capconnect.impressions  # type: ignore[attr-defined]
    assert writer is not None and writer.pending(uuid.UUID(body["list_id"]))
    assert writer.flush(10)
    assert _stored(api, body["list_id"]) == (1, 5)


def test_an_event_quoting_a_queued_list_writes_it_first(api: ApiEnv) -> None:
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    item = body["items"][0]
    t0 = time.perf_counter()
    r = api.client.post("/v1/events", headers=api.auth("inv"), json={
        "event_id": "impr-1", "event_type": "saved", "investor_id": api.ids["inv"],
        "enterprise_id": item["enterprise"]["id"], "list_id": body["list_id"]})
    assert r.status_code == 201, r.text
    assert time.perf_counter() - t0 < 2.0  # the flush was forced, not waited out
    assert _stored(api, body["list_id"]) == (1, 3)


def test_an_unknown_list_is_still_refused(api: ApiEnv) -> None:
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    r = api.client.post("/v1/events", headers=api.auth("inv"), json={
        "event_id": "impr-2", "event_type": "saved", "investor_id": api.ids["inv"],
        "enterprise_id": body["items"][0]["enterprise"]["id"], "list_id": "00000000-0000-4000-8000-000000000000"})
    assert r.status_code == 422 and "list_id" in r.text


def _event(api: ApiEnv, event_id: str, enterprise_id: int, list_id: str) -> dict[str, object]:
    return {"event_id": event_id, "event_type": "saved", "investor_id": api.ids["inv"], "enterprise_id": enterprise_id,
            "list_id": list_id}


def test_the_events_path_never_sleeps_nor_waits_for_the_writer(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[tuple[str, float]] = []
    real_sleep = time.sleep

    def spy(seconds: float) -> None:
        slept.append((threading.current_thread().name, seconds))
        real_sleep(seconds)

    writer = api.state.impressions
    monkeypatch.setattr(time, "sleep", spy)
    monkeypatch.setattr(writer, "flush", lambda *a, **k: pytest.fail("a request waited for the impression writer"))
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    ent = body["items"][0]["enterprise"]["id"]
    unknown = "00000000-0000-4000-8000-000000000000"  # not served, and no time in it: unknown at once
    t0 = time.perf_counter()
    r = api.post("/v1/events", "inv", _event(api, "nosleep-1", ent, unknown))
    assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == "list_id", r.text
    batch = api.post("/v1/events/batch", "inv", {"events": [_event(api, "nosleep-2", ent, body["list_id"])]})
    assert batch.status_code == 201, batch.text  # the queued list was written by the request itself
    assert time.perf_counter() - t0 < 0.25  # the old grace alone slept 0.25 s
    assert [s for s in slept if s[0] != "impression-writer"] == []


def test_an_event_quoting_a_list_the_writer_is_writing_does_not_wait_for_it(
        api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = api.state.impressions
    entered, release = threading.Event(), threading.Event()
    real = impressions_mod.write_lists

    def held(conn: object, lists: object) -> None:  # the writer thread is stuck inside its transaction
        if threading.current_thread().name == "impression-writer" and not release.is_set():
            entered.set()
            release.wait(10)
        real(conn, lists)  # type: ignore[arg-type]

    monkeypatch.setattr(impressions_mod, "write_lists", held)
    dead_before = _metric(api, "capconnect_impression_dead_letters_total")
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    writer.flush(0.01)  # wakes the thread: it takes the list and holds it
    assert entered.wait(5)
    t0 = time.perf_counter()
    r = api.post("/v1/events", "inv", _event(api, "racing-1", body["items"][0]["enterprise"]["id"], body["list_id"]))
    assert r.status_code == 201, r.text
    assert time.perf_counter() - t0 < 2.0  # not held up by the writer
    release.set()
    assert writer.flush(10)
    assert _stored(api, body["list_id"]) == (1, 3)  # stored once: the writer found it there
    assert _metric(api, "capconnect_impression_dead_letters_total") == dead_before


def test_a_list_served_moments_ago_by_another_worker_is_a_503_to_retry(api: ApiEnv) -> None:
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=3).json()
    ent = body["items"][0]["enterprise"]["id"]
    assert uuid.UUID(body["list_id"]).version == 7  # list ids carry the time they were served
    elsewhere = str(lists_db.new_list_id())  # as if another worker served it just now, its writer not run yet
    r = api.post("/v1/events", "inv", _event(api, "young-1", ent, elsewhere))
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    err = error_of(r)
    assert err["code"] == "unavailable" and err["fields"][0] == {
        "field": "list_id", "value": elsewhere, "reason": err["fields"][0]["reason"]}
    assert "retry" in err["message"]
    old = str(lists_db.new_list_id(datetime.now(UTC) - timedelta(hours=1)))
    gone = api.post("/v1/events", "inv", _event(api, "young-2", ent, old))
    assert gone.status_code == 422 and "no served list" in error_of(gone)["message"]


def test_a_list_the_database_refuses_is_a_dead_letter_and_the_rest_are_written(api: ApiEnv) -> None:
    writer = api.state.impressions
    first = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=2).json()
    bad_id = lists_db.new_list_id()  # past the edge's check (a bug, a party deleted meanwhile): jsonb refuses it
    writer.submit(ServedList(bad_id, (bad_id, "search", None, None, None, None,
                                      json.dumps({"q": "芯\x00"})), []))
    second = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=2).json()
    assert writer.flush(10), "the writer is stuck on the bad list"
    assert _stored(api, first["list_id"]) == (1, 2) and _stored(api, second["list_id"]) == (1, 2)
    dead = api.sql("SELECT payload, error FROM impression_dead_letters WHERE list_id = %s", (bad_id,))
    assert len(dead) == 1 and "\\u0000" in dead[0][0] and "\\u0000" in dead[0][1], dead
    assert json.loads(dead[0][0])["header"][0] == str(bad_id)
    assert _stored(api, str(bad_id)) == (0, 0)
    assert _metric(api, "capconnect_impression_backlog") == 0
    assert _metric(api, "capconnect_impression_dead_letters_total") == 1
    later = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=2).json()  # the writer goes on
    assert writer.flush(10) and _stored(api, later["list_id"]) == (1, 2)


def test_the_backlog_is_a_metric(api: ApiEnv) -> None:
    metrics = Metrics()
    writer = impressions_mod.ImpressionWriter(api.state.pool, flush_ms=60_000, metrics=metrics)
    ids = [lists_db.new_list_id() for _ in range(2)]
    try:
        for i in ids:
            writer.submit(ServedList(i, (i, "search", None, None, None, None, "{}"), []))
        assert metrics.registry.get_sample_value("capconnect_impression_backlog") == 2
    finally:
        writer.stop()  # writes what is queued
    assert metrics.registry.get_sample_value("capconnect_impression_backlog") == 0
    assert api.sql("SELECT count(*) FROM served_lists WHERE id = ANY(%s)", (ids,)) == [(2,)]


def test_back_pressure_writes_in_the_request_and_still_isolates_a_refused_list(api: ApiEnv) -> None:
    metrics = Metrics()
    writer = impressions_mod.ImpressionWriter(api.state.pool, flush_ms=10, max_queued=0, metrics=metrics)
    try:
        bad_id = lists_db.new_list_id()
        writer.submit(ServedList(bad_id, (bad_id, "search", None, None, None, None, '{"q": "\\u0000"}'), []))
        assert writer.dead_letters == 1 and writer.backlog() == 0
        assert api.sql("SELECT count(*) FROM impression_dead_letters WHERE list_id = %s", (bad_id,)) == [(1,)]
    finally:
        writer.stop()


def _metric(api: ApiEnv, name: str) -> float:
    text = api.get("/metrics", "admin").text
    line = next(x for x in text.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])
