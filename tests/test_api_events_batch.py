"""Batch event ingestion: the single route's checks per event, all stored in one transaction or none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of
from pydantic import ValidationError

from api.schemas.events import MAX_BATCH, EventBatchIn

BATCH = "/v1/events/batch"


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_events_batch")) as env:
        yield env


@pytest.fixture(scope="module")
def deal_list(api: ApiEnv) -> dict[str, Any]:
    """A deal list served to the investor key."""
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=5).json()
    assert len(body["items"]) == 5
    return body


def _event(api: ApiEnv, deal_list: dict[str, Any], event_id: str, n: int = 0, **kw: Any) -> dict[str, Any]:
    """An event of the investor key on item ``n`` of its deal list."""
    item = deal_list["items"][n]
    return {"event_id": event_id, "event_type": "viewed", "investor_id": api.ids["inv"],
            "enterprise_id": item["enterprise"]["id"], "list_id": deal_list["list_id"], **kw}


def _rows(api: ApiEnv, prefix: str) -> list[tuple[Any, ...]]:
    return api.sql("SELECT event_key, event_type, enterprise_id, id FROM funnel_events WHERE event_key LIKE %s "
                   "ORDER BY event_key", (f"api/%/{prefix}%",))


def _total(api: ApiEnv) -> int:
    return int(api.sql("SELECT count(*) FROM funnel_events")[0][0])


def test_a_batch_is_stored_and_a_resend_is_all_duplicates(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    when = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    events = [_event(api, deal_list, f"b1-{n}", n, occurred_at=when) for n in range(3)]
    first = api.post(BATCH, "inv", {"events": events})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] == 3 and body["duplicates"] == 0
    assert [(a["event_id"], a["status"]) for a in body["items"]] == [(f"b1-{n}", "created") for n in range(3)]
    rows = _rows(api, "b1-")
    assert [r[0] for r in rows] == [f"api/i{api.ids['inv']}/b1-{n}" for n in range(3)]
    assert {r[3] for r in rows} == {a["id"] for a in body["items"]}
    assert api.sql("SELECT DISTINCT source, list_id::text, api_key_id IS NOT NULL, actor FROM funnel_events "
                   "WHERE event_key LIKE %s", ("%/b1-%",)) == [("api", deal_list["list_id"], True, "investor")]
    again = api.post(BATCH, "inv", {"events": events})
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "duplicates": 3,
                            "items": [{**a, "status": "duplicate"} for a in body["items"]]}
    assert _rows(api, "b1-") == rows
    # a batch's events read back like single ones, and a single post of one of them is a duplicate
    single = api.post("/v1/events", "inv", events[1])
    assert single.status_code == 200 and single.json()["event_id"] == "b1-1"


def test_new_and_stored_events_mix_and_a_repeat_in_the_batch_is_stored_once(
        api: ApiEnv, deal_list: dict[str, Any]) -> None:
    assert api.post("/v1/events", "inv", _event(api, deal_list, "b2-old")).status_code == 201
    new = _event(api, deal_list, "b2-new", 1)
    r = api.post(BATCH, "inv", {"events": [new, _event(api, deal_list, "b2-old"), new]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["created"], body["duplicates"]) == (1, 2)
    assert [a["status"] for a in body["items"]] == ["created", "duplicate", "duplicate"]
    assert body["items"][0]["id"] == body["items"][2]["id"]
    assert len(_rows(api, "b2-")) == 2
    metrics = api.get("/metrics", "admin").text
    assert 'capconnect_events_ingested_total{event_type="viewed",outcome="duplicate"}' in metrics


def test_one_unknown_investor_refuses_the_whole_batch(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    events = [{"event_id": f"b3-{n}", "event_type": "meeting", "investor_id": api.ids["inv2"],
               "enterprise_id": api.ids["ent"]} for n in range(5)]
    events[3]["investor_id"] = 999_999
    before = _total(api)
    r = api.post(BATCH, "operator", {"events": events})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "validation_error" and "events[3]" in err["message"]
    assert err["fields"] == [{"field": "events[3].investor_id", "value": 999_999,
                              "reason": "no investor with id 999999"}]
    assert _total(api) == before and _rows(api, "b3-") == []


def test_every_invalid_event_is_named(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    other_need = api.sql("SELECT id FROM financing_needs WHERE enterprise_id <> %s LIMIT 1",
                         (deal_list["items"][0]["enterprise"]["id"],))[0][0]
    events = [_event(api, deal_list, "b4-0"), _event(api, deal_list, "b4-1", need_id=other_need),
              _event(api, deal_list, "b4-2", 2), _event(api, deal_list, "b4-3", enterprise_id=2**63),
              _event(api, deal_list, "b4-4", occurred_at="2099-01-01T00:00:00+08:00")]
    r = api.post(BATCH, "inv", {"events": events})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert [f["field"] for f in err["fields"]] == ["events[1].need_id", "events[3].enterprise_id",
                                                   "events[4].occurred_at"]
    assert "3 of 5 events are invalid, none was stored" in err["message"]
    assert _rows(api, "b4-") == []
    # body validation names the item too (pydantic's location)
    bad = api.post(BATCH, "inv", {"events": [_event(api, deal_list, "b4-5", event_type="liked")]})
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "events.0.event_type"


def test_the_same_id_twice_in_a_batch_with_other_content_is_a_422(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    events = [_event(api, deal_list, "b5-x"), _event(api, deal_list, "b5-y", 1),
              _event(api, deal_list, "b5-x", event_type="saved")]
    r = api.post(BATCH, "inv", {"events": events})
    assert r.status_code == 422, r.text
    field = error_of(r)["fields"][0]
    assert field["field"] == "events[2].event_id" and field["value"] == "b5-x"
    assert "repeats events[0] with other content (event_type)" in field["reason"]
    assert _rows(api, "b5-") == []


def test_an_id_stored_with_other_content_is_a_409_and_nothing_is_written(
        api: ApiEnv, deal_list: dict[str, Any]) -> None:
    assert api.post("/v1/events", "inv", _event(api, deal_list, "b6-stored")).status_code == 201
    before = _total(api)
    events = [_event(api, deal_list, "b6-new", 1), _event(api, deal_list, "b6-stored", event_type="saved",
                                                          amount=1000)]
    r = api.post(BATCH, "inv", {"events": events})
    assert r.status_code == 409, r.text
    err = error_of(r)
    assert err["code"] == "conflict" and "events[1] (b6-stored: event_type, amount)" in err["message"]
    assert {f["field"]: f["reason"] for f in err["fields"]} == {"events[1].event_type": "stored: viewed",
                                                                "events[1].amount": "stored: None"}
    assert _total(api) == before
    assert [r[0].rsplit("/", 1)[1] for r in _rows(api, "b6-")] == ["b6-stored"]  # b6-new rolled back
    assert api.post(BATCH, "inv", {"events": events[:1]}).status_code == 201  # and can be sent again


def test_parties_report_only_their_own_side(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    before = _total(api)
    mine, theirs = _event(api, deal_list, "b7-0"), _event(api, deal_list, "b7-1", investor_id=api.ids["inv2"])
    other = api.post(BATCH, "inv", {"events": [mine, theirs]})
    assert other.status_code == 403, other.text
    assert f"events[1]: This key reports events of investor {api.ids['inv']} only" in error_of(other)["message"]
    wrong_key = api.post(BATCH, "inv2", {"events": [mine]})
    assert wrong_key.status_code == 403
    ent = api.post(BATCH, "ent", {"events": [{"event_id": "b7-e", "event_type": "contact_accepted",
                                              "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent2"]}]})
    assert ent.status_code == 403 and "events[0]" in error_of(ent)["message"]
    actor = api.post(BATCH, "ent", {"events": [{"event_id": "b7-a", "event_type": "meeting", "actor": "investor",
                                                "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent"]}]})
    assert actor.status_code == 422 and error_of(actor)["fields"][0]["field"] == "events[0].actor"
    assert api.post(BATCH, "ds", {"events": [mine]}).status_code == 403
    assert api.post(BATCH, None, {"events": [mine]}).status_code == 401
    assert _total(api) == before


def test_list_rules_apply_per_event(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    listed = {it["enterprise"]["id"] for it in deal_list["items"]}
    not_in_list = api.sql("SELECT id FROM enterprises WHERE id <> ALL(%s) LIMIT 1", (sorted(listed),))[0][0]
    before = _total(api)
    cases: list[tuple[str, dict[str, Any], int, str, str]] = [
        ("inv", {"list_id": "00000000-0000-4000-8000-000000000000"}, 422, "events[1].list_id", "no served list"),
        ("inv", {"enterprise_id": not_in_list}, 422, "events[1].list_id", "does not contain"),
        ("inv2", {"investor_id": api.ids["inv2"]}, 403, "", "was not served to this key's investor"),
        ("operator", {"investor_id": api.ids["inv2"]}, 422, "events[1].list_id", "does not contain"),
    ]
    for key, change, status, field, text in cases:
        events = [_event(api, deal_list, "b8-0", 1) | ({"investor_id": api.ids["inv2"]} if key == "inv2" else {}),
                  _event(api, deal_list, "b8-1") | change]
        if key != "inv2":
            events[0] = {k: v for k, v in events[0].items() if k != "list_id"}
        r = api.post(BATCH, key, {"events": events})
        assert r.status_code == status, (key, change, r.text)
        err = error_of(r)
        assert text in err["message"], (key, change, err)
        if field:
            assert err["fields"][0]["field"] == field
    assert _total(api) == before
    ok = api.post(BATCH, "operator", {"events": [_event(api, deal_list, f"b8-ok-{n}", n) for n in range(5)]})
    assert ok.status_code == 201 and ok.json()["created"] == 5


def test_the_batch_size_is_bounded(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    empty = api.post(BATCH, "inv", {"events": []})
    assert empty.status_code == 422 and error_of(empty)["fields"][0]["field"] == "events"
    assert api.post(BATCH, "inv", [_event(api, deal_list, "b9")]).status_code == 422
    too_big = api.post(BATCH, "inv", {"events": [_event(api, deal_list, f"b9-{n}") for n in range(100)]})
    assert too_big.status_code == 413  # the body limit (4 KiB here) comes first
    one = {"event_id": "x", "event_type": "viewed", "investor_id": 1, "enterprise_id": 1}
    assert len(EventBatchIn(events=[one] * MAX_BATCH).events) == MAX_BATCH
    with pytest.raises(ValidationError, match="at most 1000 items"):
        EventBatchIn(events=[one] * (MAX_BATCH + 1))
