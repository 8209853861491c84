"""Credentials are facts the platform vouches for: an enterprise's own tier, boards and qualifications are claims,
pending (who, when) until staff verify them, never ranking facts or reasons before; each decision audited."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.snapshot.core import QUAL

PENDING_ZH = "企业自报，待核验"


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_claims")) as env:
        yield env


def _patch(api: ApiEnv, key: str, body: dict[str, Any]) -> Any:
    return api.client.patch(f"/v1/enterprises/{api.ids['ent']}", json=body, headers=api.auth(key))


def _stored(api: ApiEnv) -> tuple[str, list[str], list[str]]:
    tier, boards, quals = api.sql("SELECT tier, boards, qualifications FROM enterprises WHERE id = %s",
                                  (api.ids["ent"],))[0]
    return tier, list(boards), list(quals)


def _little_giant_in_snapshot(api: ApiEnv) -> bool:
    snap = api.state.matcher.snap
    return bool((int(snap.ent_quals[snap.enterprise_row[api.ids["ent"]]]) >> QUAL["little_giant"]) & 1)


def test_an_enterprises_own_credentials_are_pending_claims_not_facts(api: ApiEnv) -> None:
    """Finding 3: PATCH with qualifications/boards/tier by the enterprise's own key stores claims only."""
    before = _stored(api)
    assert "little_giant" not in before[2] and "srdi" not in before[1] and not _little_giant_in_snapshot(api)
    r = _patch(api, "ent", {"qualifications": ["little_giant"], "boards": ["srdi"], "tier": "select",
                            "city": "重庆"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["tier"], body["boards"], body["qualifications"]) == before  # the verified values, unchanged
    assert body["city"] == "重庆"  # ordinary fields still change
    assert _stored(api) == before
    claims = {c["field"]: c for c in body["claims"]}
    assert set(claims) == {"qualifications", "boards", "tier"}
    assert claims["qualifications"]["value"] == ["little_giant"] and claims["tier"]["value"] == "select"
    assert all(c["status"] == "pending" and c["status_zh"] == PENDING_ZH and c["claimed_at"] for c in claims.values())
    stored = api.sql("SELECT field, status, claimed_by_key_id IS NOT NULL FROM enterprise_claims "
                     "WHERE enterprise_id = %s ORDER BY field", (api.ids["ent"],))
    assert stored == [("boards", "pending", True), ("qualifications", "pending", True), ("tier", "pending", True)]
    # investors see the claims as such, never as facts; the snapshot (ranking features, reasons) ignores them
    seen = api.get(f"/v1/enterprises/{api.ids['ent']}", "inv").json()
    assert "little_giant" not in seen["qualifications"] and {c["status_zh"] for c in seen["claims"]} == {PENDING_ZH}
    api.state.check_market()
    assert not _little_giant_in_snapshot(api)
    deals = api.get(f"/v1/investors/{api.ids['inv']}/deals", "admin", k=50).json()["items"]
    for it in deals:
        if it["enterprise"]["id"] == api.ids["ent"]:
            assert not any("小巨人" in x["zh"] for x in it["reasons"]), it["reasons"]
    # a new claim on the same field replaces the pending one
    again = _patch(api, "ent", {"qualifications": ["little_giant", "high_tech"]})
    assert [c["value"] for c in again.json()["claims"] if c["field"] == "qualifications"] == [
        ["little_giant", "high_tech"]]
    assert api.sql("SELECT status FROM enterprise_claims WHERE enterprise_id = %s AND field = 'qualifications' "
                   "ORDER BY id", (api.ids["ent"],)) == [("superseded",), ("pending",)]


def test_claiming_what_is_verified_already_stores_nothing(api: ApiEnv) -> None:
    n = api.sql("SELECT count(*) FROM enterprise_claims")[0][0]
    r = api.client.patch(f"/v1/enterprises/{api.ids['ent2']}", json={"tier": _stored_of(api, "ent2")[0]},
                         headers=api.auth("ent2"))
    assert r.status_code == 200 and r.json()["claims"] == []
    assert api.sql("SELECT count(*) FROM enterprise_claims")[0][0] == n


def _stored_of(api: ApiEnv, name: str) -> tuple[str, list[str], list[str]]:
    tier, boards, quals = api.sql("SELECT tier, boards, qualifications FROM enterprises WHERE id = %s",
                                  (api.ids[name],))[0]
    return tier, list(boards), list(quals)


def test_staff_verify_or_reject_claims_and_each_decision_is_audited(api: ApiEnv) -> None:
    ent = api.ids["ent"]
    listed = api.get(f"/v1/enterprises/{ent}/claims", "operator").json()["items"]
    pending = {c["field"]: c for c in listed if c["status"] == "pending"}
    path = f"/v1/enterprises/{ent}/claims/{pending['qualifications']['id']}/decision"
    assert api.post(path, "ent", {"decision": "verified"}).status_code == 403  # not its own verifier
    assert api.post(path, "inv", {"decision": "verified"}).status_code == 403
    bad = api.post(path, "operator", {"decision": "maybe"})
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "decision"
    ok = api.post(path, "operator", {"decision": "verified", "note": "工信部公示名单核对"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "verified" and ok.json()["decided_at"]
    assert set(_stored(api)[2]) >= {"little_giant", "high_tech"}  # applied only now
    again = api.post(path, "operator", {"decision": "rejected"})
    assert again.status_code == 409 and error_of(again)["fields"][0] == {
        "field": "claim_id", "value": pending["qualifications"]["id"], "reason": "already verified",
        "allowed": ["pending"]}
    boards_before = _stored(api)[1]
    rej = api.post(f"/v1/enterprises/{ent}/claims/{pending['boards']['id']}/decision", "admin",
                   {"decision": "rejected", "note": "未入板"})
    assert rej.status_code == 200 and rej.json()["status"] == "rejected"
    assert _stored(api)[1] == boards_before
    audit = api.sql("SELECT action, role, fields, basis FROM audit_log WHERE enterprise_id = %s "
                    "AND action <> 'viewed' ORDER BY id", (ent,))
    assert audit == [("claim_verified", "operator", ["qualifications"], f"claim:{pending['qualifications']['id']}"),
                     ("claim_rejected", "admin", ["boards"], f"claim:{pending['boards']['id']}")]
    api.state.check_market()
    assert _little_giant_in_snapshot(api)  # a verified credential is a fact
    seen = api.get(f"/v1/enterprises/{ent}", "inv").json()
    assert [c["field"] for c in seen["claims"]] == ["tier"]  # decided claims are no longer shown as pending
    missing = api.post(f"/v1/enterprises/{ent}/claims/99999999/decision", "admin", {"decision": "verified"})
    assert missing.status_code == 404 and error_of(missing)["fields"][0]["field"] == "claim_id"
    other = api.get(f"/v1/enterprises/{ent}/claims", "ent2")
    assert other.status_code == 403 and api.get(f"/v1/enterprises/{ent}/claims", "ent").status_code == 200


def test_staff_still_set_credentials_directly(api: ApiEnv) -> None:
    r = api.client.patch(f"/v1/enterprises/{api.ids['ent2']}", json={"boards": ["sci_tech"], "tier": "growth"},
                         headers=api.auth("operator"))
    assert r.status_code == 200 and r.json()["boards"] == ["sci_tech"] and r.json()["tier"] == "growth"
    assert r.json()["claims"] == []
