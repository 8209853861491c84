"""Matching routes: ranked, explained, constraint-safe lists; filters that only narrow; every list logged."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain import vocab
from matching.features.table import FEATURE_NAMES
from matching.rules.constraints import violations
from matching.serving.matcher import Matcher
from matching.snapshot.core import TIER


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_matching")) as env:
        yield env


def _no_violations(api: ApiEnv, investor_id: int, items: list[dict]) -> None:
    snap = api.state.matcher.snap
    for it in items:
        inv, need = snap.investor_row[investor_id], snap.need_row[it["need"]["id"]]
        assert violations(snap, inv, need, tolerance=api.settings.ticket_tolerance) == [], it


def test_deal_list_is_ranked_explained_and_respects_the_mandate(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    r = api.get(f"/v1/investors/{inv}/deals", "inv", k=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert uuid.UUID(body["list_id"]) and body["model_version"] == "content-rules"
    assert body["direction"] == "enterprises_for_investor" and body["as_of"].startswith("20")
    items = body["items"]
    assert [it["position"] for it in items] == list(range(1, 11))
    assert [it["score"] for it in items] == sorted((it["score"] for it in items), reverse=True) or \
        any("exploration" in it["sources"] for it in items)  # exploration items may sit below their score
    snap = api.state.matcher.snap
    for it in items:
        row = snap.enterprise_row[it["enterprise"]["id"]]
        assert it["enterprise"]["name"] == snap.ent_name[row] and it["investor"]["id"] == inv
        need = snap.need_record[snap.need_row[it["need"]["id"]]]
        assert it["need"]["ref"] == need.ref and it["need"]["instrument"] == need.instrument
        assert it["need"]["instrument_zh"] == vocab.INSTRUMENTS.label(need.instrument)
        assert it["reasons"] and all(x["zh"] and x["en"] and x["kind"] in ("fit", "improve") for x in it["reasons"])
        assert set(it["sources"]) <= {"semantic", "rules", "collaborative", "exploration"} and it["sources"]
    _no_violations(api, inv, items)


def test_every_served_list_is_logged_with_items_scores_sources_and_features(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    body = api.get(f"/v1/investors/{inv}/deals", "inv", k=5, tier="growth").json()
    head = api.sql("SELECT side, investor_id, enterprise_id, model_version, query, api_key_id IS NOT NULL "
                   "FROM served_lists WHERE id = %s", (body["list_id"],))
    assert len(head) == 1
    side, investor_id, enterprise_id, model_version, query, has_key = head[0]
    assert (side, investor_id, enterprise_id, model_version, has_key) == ("investor", inv, None, None, True)
    assert query["model_version"] == "content-rules" and query["role"] == "investor" and query["k"] == 5
    assert query["filters"]["tiers"] == ["growth"]
    rows = api.sql("SELECT position, enterprise_id, investor_id, need_id, score, sources, features "
                   "FROM served_list_items WHERE list_id = %s ORDER BY position", (body["list_id"],))
    assert len(rows) == len(body["items"]) == 5
    for row, it in zip(rows, body["items"], strict=True):
        assert row[:4] == (it["position"], it["enterprise"]["id"], inv, it["need"]["id"])
        assert row[4] == pytest.approx(it["score"]) and row[5] == it["sources"]
        assert set(row[6]) == set(FEATURE_NAMES) and row[6]["semantic_sim"] is not None


def test_filters_narrow_and_accept_codes_labels_and_commas(api: ApiEnv) -> None:
    inv, snap = api.ids["inv"], api.state.matcher.snap
    plain = {it["enterprise"]["id"] for it in api.get(f"/v1/investors/{inv}/deals", "inv", k=100).json()["items"]}
    for params, check in (
        ({"tier": "成长层"}, lambda it: snap.ent_tier[snap.enterprise_row[it["enterprise"]["id"]]] == TIER["growth"]),
        ({"tier": "basic,growth"}, lambda it: snap.ent_tier[snap.enterprise_row[it["enterprise"]["id"]]]
         in (TIER["basic"], TIER["growth"])),
        ({"amount_min": 5e6, "amount_max": 3e7}, lambda it: 5e6 <= it["need"]["amount"] <= 3e7),
        ({"instrument": "equity"}, lambda it: it["need"]["instrument"] == "equity"),
    ):
        r = api.get(f"/v1/investors/{inv}/deals", "inv", k=100, **params)
        assert r.status_code == 200, (params, r.text)
        items = r.json()["items"]
        assert items and all(check(it) for it in items), params
        _no_violations(api, inv, items)  # a filter never loosens a hard constraint
        assert len(items) <= max(len(plain), 1)
    district = snap.ent_district[snap.enterprise_row[next(iter(plain))]]
    r = api.get(f"/v1/investors/{inv}/deals", "inv", k=100, district=district)
    assert r.status_code == 200 and all(
        snap.ent_district[snap.enterprise_row[it["enterprise"]["id"]]] == district for it in r.json()["items"])


@pytest.mark.parametrize(("params", "field", "allowed"), [
    ({"tier": "gold"}, "tier", list(vocab.TIERS.codes)),
    ({"board": "nasdaq"}, "board", list(vocab.BOARDS.codes)),
    ({"instrument": "crypto"}, "instrument", list(vocab.INSTRUMENTS.codes)),
    ({"district": "火星区"}, "district", None),
    ({"k": 0}, "k", None),
    ({"k": 101}, "k", None),
    ({"amount_min": 5e7, "amount_max": 1e6}, "amount_min", None),
    ({"amount_min": -1}, "amount_min", None),
    ({"investor_type": "vc"}, "investor_type", list(vocab.INVESTOR_TYPES.codes)),
])
def test_invalid_filters_are_422_naming_the_field_and_allowed_values(api: ApiEnv, params: dict, field: str,
                                                                     allowed: list[str] | None) -> None:
    r = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", **params)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "validation_error" and err["fields"][0]["field"] == field
    if allowed is not None:
        assert err["fields"][0]["allowed"] == allowed
    if field == "district":
        assert err["fields"][0]["value"] == "火星区" and "38 district-level units" in err["fields"][0]["reason"]
        assert "500103" in err["fields"][0]["allowed"]


def test_unknown_and_malformed_ids(api: ApiEnv) -> None:
    unknown = api.get("/v1/investors/999999/deals", "operator")
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "not_found" and "investor 999999" in error_of(unknown)["message"]
    assert api.get("/v1/enterprises/999999/investors", "admin").status_code == 404
    # an investor key asking about an id that is not its own is refused before existence is revealed
    assert api.get("/v1/investors/999999/deals", "inv").status_code == 403
    bad = api.get("/v1/investors/abc/deals", "operator")
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "investor_id"


def test_suggested_investors_for_an_enterprise(api: ApiEnv) -> None:
    ent, snap = api.ids["ent"], api.state.matcher.snap
    r = api.get(f"/v1/enterprises/{ent}/investors", "ent", k=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["direction"] == "investors_for_enterprise" and 1 <= len(body["items"]) <= 5
    own_needs = {int(snap.need_id[n]) for n in snap.needs_of(snap.enterprise_row[ent])}
    for it in body["items"]:
        assert it["enterprise"]["id"] == ent and it["need"]["id"] in own_needs
        assert it["investor"]["name"] == snap.inv_name[snap.investor_row[it["investor"]["id"]]]
    assert api.sql("SELECT side, enterprise_id, investor_id FROM served_lists WHERE id = %s",
                   (body["list_id"],)) == [("enterprise", ent, None)]
    typed = api.get(f"/v1/enterprises/{ent}/investors", "ent", k=20, investor_type="bank,guarantee")
    assert typed.status_code == 200 and all(
        vocab.INVESTOR_TYPES.codes[snap.inv_type[snap.investor_row[it["investor"]["id"]]]] in ("bank", "guarantee")
        for it in typed.json()["items"])
    tiers = api.get(f"/v1/enterprises/{ent}/investors", "ent", tier="growth")
    assert tiers.status_code == 422 and error_of(tiers)["fields"][0]["field"] == "tier"


def test_secondaries_for_s_funds_only(api: ApiEnv) -> None:
    r = api.get(f"/v1/investors/{api.ids['sfund']}/secondaries", "sfund", k=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["direction"] == "secondaries_for_investor" and body["items"]
    for it in body["items"]:
        sec = it["secondary"]
        assert sec["kind"] in ("fund_interest", "old_shares") and sec["asking_price"] > 0 and it["reasons"]
    logged = api.sql("SELECT count(*), count(secondary_id) FROM served_list_items WHERE list_id = %s",
                     (body["list_id"],))
    assert logged == [(len(body["items"]), len(body["items"]))]
    vc = api.get(f"/v1/investors/{api.ids['inv']}/secondaries", "inv")
    assert vc.status_code == 422
    err = error_of(vc)
    assert err["fields"][0]["field"] == "investor_id" and "secondary listings are for S funds" in err["message"]


def test_search_both_sides(api: ApiEnv) -> None:
    r = api.get("/v1/search", "inv", q="生物医药 A轮", k=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["direction"] == "search_enterprises" and body["items"]
    assert all(it["enterprise"]["name"] and it["reasons"] for it in body["items"])
    assert api.sql("SELECT side, investor_id FROM served_lists WHERE id = %s",
                   (body["list_id"],)) == [("search", api.ids["inv"])]
    inv_side = api.get("/v1/search", "operator", q="银行 知识产权质押贷", side="investor", k=3)
    assert inv_side.status_code == 200 and inv_side.json()["direction"] == "search_investors"
    bad_side = api.get("/v1/search", "operator", q="x", side="fund")
    assert bad_side.status_code == 422
    assert error_of(bad_side)["fields"][0] | {"reason": None} == {
        "field": "side", "value": "fund", "allowed": ["enterprise", "investor"], "reason": None}
    missing = api.get("/v1/search", "operator")
    assert missing.status_code == 422 and error_of(missing)["fields"][0]["field"] == "q"


def test_a_new_enterprise_reaches_the_matcher_after_a_market_reload(api: ApiEnv) -> None:
    """Records created through the API are served once the market poller reloads the snapshot
    (here called directly); an unchanged market is not rebuilt."""
    from matching.domain.credit_code import make_credit_code

    state = api.state
    assert state.check_market() is False  # nothing changed since start-up
    before = state.matcher
    body = {"credit_code": make_credit_code("9", "1", "500112", "MA7654321"), "name": "重庆新晋锂电科技有限公司",
            "district": "500112", "tier": "growth", "description": "动力电池 锂电池 储能"}
    made = api.post("/v1/enterprises", "admin", body)
    assert made.status_code == 201, made.text
    new_id = made.json()["id"]
    assert api.get(f"/v1/enterprises/{new_id}/investors", "admin").status_code == 404  # not in the snapshot yet
    assert state.check_market() is True
    after = state.matcher
    assert after is not before and after.model_version == before.model_version
    assert after.snap.n_enterprises == before.snap.n_enterprises + 1
    r = api.get(f"/v1/enterprises/{new_id}/investors", "admin")
    assert r.status_code == 200, r.text
    assert state.check_market() is False


def test_a_list_ranked_before_a_market_reload_shows_its_own_listings(api: ApiEnv,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A request that ranks over one market while the market reloads shows the listings it ranked: each item's
    row is read from the market the list came from, never from the one current when the response is shaped
    (the reload here lists the same listings in another order, so a row from the new market names another)."""
    state, sfund = api.state, api.ids["sfund"]
    before = state.matcher
    snap = before.snap
    assert len(snap.sec_id) >= 3
    order = np.arange(len(snap.sec_id))[::-1]
    moved = dataclasses.replace(snap, sec_id=snap.sec_id[order], sec_record=[snap.sec_record[i] for i in order],
                                sec_ent=snap.sec_ent[order], sec_open=snap.sec_open[order])
    context = dataclasses.replace(before.context, snap=moved, sec_vecs=before.context.sec_vecs[order],
                                  sec_row={int(s): r for r, s in enumerate(moved.sec_id)})
    monkeypatch.setattr(state, "matcher", before)  # restored after the test
    monkeypatch.setattr(state, "rebuild", lambda: (context, dict(state.exposure)))
    monkeypatch.setattr(state, "market_fingerprint", "the market before the reload")
    rank = Matcher.recommend_secondaries

    def ranked_then_reloaded(self: Matcher, *args: Any, **kwargs: Any) -> Any:
        out = rank(self, *args, **kwargs)
        assert state.check_market() is True  # the market reloads while this request is under way
        return out

    monkeypatch.setattr(Matcher, "recommend_secondaries", ranked_then_reloaded)
    r = api.get(f"/v1/investors/{sfund}/secondaries", "sfund", k=5)
    assert r.status_code == 200, r.text
    assert state.matcher.snap is moved
    refs = dict(api.sql("SELECT id, ref FROM secondary_listings"))
    items = r.json()["items"]
    assert len(items) >= 2
    assert [it["secondary"]["ref"] for it in items] == [refs[it["secondary"]["id"]] for it in items]
