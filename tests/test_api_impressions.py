"""Lists written behind the response (api.impressions): in the log within a flush, and feedback never misses them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from helpers_api import ApiEnv, api_service


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


def test_an_event_quoting_a_queued_list_waits_for_it(api: ApiEnv) -> None:
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
