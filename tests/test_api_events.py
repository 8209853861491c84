"""Feedback events: idempotent by client id, linked to the caller's own lists, durable, readable by owner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain import vocab


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_events")) as env:
        yield env


@pytest.fixture(scope="module")
def deal_list(api: ApiEnv) -> dict[str, Any]:
    """A deal list served to the investor key."""
    body = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=5).json()
    assert len(body["items"]) == 5
    return body


def _event(api: ApiEnv, deal_list: dict[str, Any], event_id: str, **kw: Any) -> dict[str, Any]:
    item = deal_list["items"][0]
    return {"event_id": event_id, "event_type": "viewed", "investor_id": api.ids["inv"],
            "enterprise_id": item["enterprise"]["id"], "list_id": deal_list["list_id"], "need_id": item["need"]["id"],
            **kw}


def test_an_event_is_stored_once_and_repeats_return_it(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    when = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    ev = _event(api, deal_list, "evt-0001", occurred_at=when.astimezone(timezone(timedelta(hours=8))).isoformat())
    first = api.post("/v1/events", "inv", ev)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["event_id"] == "evt-0001" and body["event_type"] == "viewed" and body["actor"] == "investor"
    assert body["list_id"] == deal_list["list_id"] and body["source"] == "api"
    assert datetime.fromisoformat(body["occurred_at"]) == when
    stored = api.sql("SELECT event_key, list_id::text, api_key_id IS NOT NULL FROM funnel_events "
                     "WHERE event_key LIKE %s", ("%evt-0001",))
    assert stored == [(f"api/i{api.ids['inv']}/evt-0001", deal_list["list_id"], True)]
    again = api.post("/v1/events", "inv", ev)
    assert again.status_code == 200 and again.json() == body
    assert api.sql("SELECT count(*) FROM funnel_events WHERE event_key LIKE %s", ("%evt-0001",)) == [(1,)]


def test_the_same_id_with_other_content_is_a_409_naming_the_fields(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    assert api.post("/v1/events", "inv", _event(api, deal_list, "evt-0002")).status_code == 201
    clash = api.post("/v1/events", "inv", _event(api, deal_list, "evt-0002", event_type="saved", amount=1000))
    assert clash.status_code == 409
    err = error_of(clash)
    assert err["code"] == "conflict" and "use a new event_id" in err["message"]
    assert {f["field"] for f in err["fields"]} == {"event_type", "amount"}
    assert {f["field"]: f["reason"] for f in err["fields"]}["event_type"] == "stored: viewed"
    assert api.sql("SELECT event_type FROM funnel_events WHERE event_key LIKE %s", ("%evt-0002",)) == [("viewed",)]
    # without occurred_at the server's time is kept: a retry is still the same event
    assert api.post("/v1/events", "inv", _event(api, deal_list, "evt-0002")).status_code == 200


def test_event_ids_are_namespaced_per_caller(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    mine = api.post("/v1/events", "inv", _event(api, deal_list, "shared-id")).json()
    ent = mine["enterprise_id"]
    other = api.post("/v1/events", "admin", {"event_id": "shared-id", "event_type": "meeting",
                                             "investor_id": api.ids["inv2"], "enterprise_id": ent})
    assert other.status_code == 201 and other.json()["investor_id"] == api.ids["inv2"]


def test_parties_report_only_their_own_side(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    for_other = api.post("/v1/events", "inv2", _event(api, deal_list, "evt-x"))
    assert for_other.status_code == 403 and f"investor {api.ids['inv2']} only" in error_of(for_other)["message"]
    foreign_list = api.post("/v1/events", "inv2", _event(api, deal_list, "evt-y", investor_id=api.ids["inv2"]))
    assert foreign_list.status_code == 403 and "was not served to" in error_of(foreign_list)["message"]
    ent_side = api.post("/v1/events", "ent", {"event_id": "e-1", "event_type": "contact_accepted",
                                              "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent2"]})
    assert ent_side.status_code == 403
    accepted = api.post("/v1/events", "ent", {"event_id": "e-1", "event_type": "contact_accepted",
                                              "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent"]})
    assert accepted.status_code == 201 and accepted.json()["actor"] == "enterprise"
    wrong_actor = api.post("/v1/events", "ent", {"event_id": "e-2", "event_type": "meeting", "actor": "investor",
                                                 "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent"]})
    assert wrong_actor.status_code == 422 and error_of(wrong_actor)["fields"][0]["field"] == "actor"
    staff = api.post("/v1/events", "operator", {"event_id": "offline-9", "event_type": "invested", "amount": "2.5e7",
                                                "currency": "CNY", "actor": "investor", "investor_id": api.ids["inv2"],
                                                "enterprise_id": api.ids["ent"]})
    assert staff.status_code == 201 and staff.json()["amount"] == 25_000_000.0


def test_future_or_unknown_references_and_bad_fields_are_422(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    other_need = api.sql("SELECT id FROM financing_needs WHERE enterprise_id <> %s LIMIT 1",
                         (deal_list["items"][0]["enterprise"]["id"],))[0][0]
    not_in_list = api.sql("SELECT id FROM enterprises WHERE id <> ALL(%s) LIMIT 1",
                          ([it["enterprise"]["id"] for it in deal_list["items"]],))[0][0]
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"occurred_at": future}, "occurred_at", "in the future"),
        ({"occurred_at": "2024-10-30T09:15:00"}, "occurred_at", "timezone"),
        ({"event_type": "liked"}, "event_type", "Input should be"),
        ({"need_id": other_need}, "need_id", "is not a financing need of enterprise"),
        ({"list_id": "00000000-0000-4000-8000-000000000000"}, "list_id", "no served list"),
        ({"enterprise_id": not_in_list, "need_id": None}, "list_id", "does not contain"),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
        ({"event_id": "has space"}, "event_id", "String should match pattern"),
        ({"amount": -5}, "amount", "greater than or equal to 0"),
    ]
    for change, field, text in cases:
        r = api.post("/v1/events", "inv", _event(api, deal_list, "evt-bad") | change)
        assert r.status_code == 422, (change, r.text)
        err = error_of(r)
        assert err["fields"][0]["field"] == field and text in err["message"] + str(err["fields"]), (change, err)
    allowed = error_of(api.post("/v1/events", "inv", _event(api, deal_list, "evt-bad", event_type="liked")))
    assert allowed["fields"][0]["allowed"] == list(vocab.EVENT_TYPES.codes)
    unknown = api.post("/v1/events", "operator", {"event_id": "u", "event_type": "viewed", "investor_id": 999999,
                                                  "enterprise_id": api.ids["ent"]})
    assert unknown.status_code == 422 and error_of(unknown)["fields"][0]["field"] == "investor_id"
    broken = api.client.post("/v1/events", content=b'{"event_id": ', headers={**api.auth("inv"),
                                                                               "Content-Type": "application/json"})
    assert broken.status_code == 422 and error_of(broken)["code"] == "validation_error"
    assert api.sql("SELECT count(*) FROM funnel_events WHERE event_key LIKE %s", ("%evt-bad",)) == [(0,)]


def test_reading_events_own_only_paginated(api: ApiEnv, deal_list: dict[str, Any]) -> None:
    for i in range(3):
        assert api.post("/v1/events", "inv", _event(api, deal_list, f"page-{i}", event_type="saved")).status_code == 201
    mine = api.get("/v1/events", "inv", limit=200)
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert items and all(e["investor_id"] == api.ids["inv"] for e in items)
    assert {f"page-{i}" for i in range(3)} <= {e["event_id"] for e in items}
    first = api.get("/v1/events", "inv", limit=2, event_type="saved").json()
    assert len(first["items"]) == 2 and first["next_before"] is not None
    second = api.get("/v1/events", "inv", limit=2, event_type="saved", before=first["next_before"]).json()
    assert second["items"] and not {e["event_id"] for e in second["items"]} & {e["event_id"] for e in first["items"]}
    ent = api.get("/v1/events", "ent").json()["items"]
    assert ent and all(e["enterprise_id"] == api.ids["ent"] for e in ent)
    everyone = {e["investor_id"] for e in api.get("/v1/events", "ds", limit=200).json()["items"]}
    assert {api.ids["inv"], api.ids["inv2"]} <= everyone
    by_list = api.get("/v1/events", "inv", list_id=deal_list["list_id"], limit=200).json()["items"]
    assert by_list and all(e["list_id"] == deal_list["list_id"] for e in by_list)


def _pair_event(api: ApiEnv, key: str, event_id: str, event_type: str, **kw: Any) -> dict[str, Any]:
    r = api.post("/v1/events", key, {"event_id": event_id, "event_type": event_type, "investor_id": api.ids["inv"],
                                     "enterprise_id": api.ids["ent"], **kw})
    assert r.status_code == 201, r.text
    return r.json()


def _read_all(api: ApiEnv, key: str, **params: Any) -> list[dict[str, Any]]:
    items, before = [], None
    while True:
        page = api.get("/v1/events", key, limit=200, **params, **({"before": before} if before else {})).json()
        items += page["items"]
        before = page["next_before"]
        if before is None:
            return items


def test_parties_never_read_the_other_sides_private_actions(api: ApiEnv) -> None:
    """Finding 2: an enterprise sees what is addressed to it and its own actions, never investors' views,
    saves or dismissals; an investor likewise never sees the enterprise's."""
    for kind in ("viewed", "saved", "dismissed"):
        _pair_event(api, "inv", f"priv-{kind}", kind)
        _pair_event(api, "ent", f"epriv-{kind}", kind)
    _pair_event(api, "inv", "addr-req", "contact_requested")
    _pair_event(api, "ent", "addr-acc", "contact_accepted")
    _pair_event(api, "inv", "addr-meet", "meeting")
    _pair_event(api, "inv", "addr-ts", "term_sheet")
    private = {"viewed", "saved", "dismissed"}

    seen_by_ent = _read_all(api, "ent")
    assert {"addr-req", "addr-acc", "addr-meet", "addr-ts"} <= {e["event_id"] for e in seen_by_ent}
    leaked = [e for e in seen_by_ent if e["event_type"] in private and e["actor"] != "enterprise"]
    assert leaked == [], f"{len(leaked)} investor-private events shown to the enterprise, e.g. {leaked[:1]}"
    assert {"epriv-viewed", "epriv-saved", "epriv-dismissed"} <= {e["event_id"] for e in seen_by_ent}  # its own
    assert _read_all(api, "ent", event_type="viewed") == [e for e in seen_by_ent if e["event_type"] == "viewed"]

    seen_by_inv = _read_all(api, "inv")
    assert {"priv-viewed", "addr-acc", "addr-req"} <= {e["event_id"] for e in seen_by_inv}
    assert not [e for e in seen_by_inv if e["event_type"] in private and e["actor"] != "investor"]
    # staff and data scientists see both sides' private actions (the funnel they analyse)
    everything = {e["event_id"] for e in _read_all(api, "ds", enterprise_id=api.ids["ent"])}
    assert {"priv-viewed", "epriv-viewed"} <= everything


def test_parties_cannot_backdate_events_past_the_limit_staff_can(api: ApiEnv) -> None:
    """Finding 12: events older than event_max_age_days (default 30) are refused for parties."""
    now = datetime.now(UTC)
    old = (now - timedelta(days=31)).isoformat()
    r = api.post("/v1/events", "inv", {"event_id": "back-1", "event_type": "meeting", "investor_id": api.ids["inv"],
                                       "enterprise_id": api.ids["ent"], "occurred_at": old})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["fields"][0]["field"] == "occurred_at" and err["fields"][0]["value"] == old
    assert "30 days" in err["fields"][0]["reason"] and "30 days" in err["message"]
    batch = api.post("/v1/events/batch", "ent", {"events": [
        {"event_id": "back-2", "event_type": "contact_accepted", "investor_id": api.ids["inv"],
         "enterprise_id": api.ids["ent"], "occurred_at": (now - timedelta(days=1)).isoformat()},
        {"event_id": "back-3", "event_type": "meeting", "investor_id": api.ids["inv"],
         "enterprise_id": api.ids["ent"], "occurred_at": "2001-01-01T00:00:00+08:00"}]})
    assert batch.status_code == 422 and error_of(batch)["fields"][0]["field"] == "events[1].occurred_at"
    recent = api.post("/v1/events", "inv", {"event_id": "back-4", "event_type": "meeting",
                                            "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent"],
                                            "occurred_at": (now - timedelta(days=29)).isoformat()})
    assert recent.status_code == 201, recent.text
    staff = api.post("/v1/events", "operator", {"event_id": "back-5", "event_type": "invested",
                                                "investor_id": api.ids["inv"], "enterprise_id": api.ids["ent"],
                                                "occurred_at": "2001-01-01T00:00:00+08:00"})
    assert staff.status_code == 201, staff.text
    assert api.sql("SELECT count(*) FROM funnel_events WHERE event_key LIKE %s", ("%/back-%",)) == [(2,)]
    assert api.settings.event_max_age_days == 30
