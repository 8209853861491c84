"""More like this (issue 17 item 3): similar enterprises and similar investors, in the core and over HTTP.

Known answers on a generated market: an enterprise cloned with a one-character change is its own top
neighbour, never itself, ``k`` respected, the same list twice; three investors that invested in two
enterprises lift the pair by exactly the co-investment weight (and an investment after the snapshot's
"now" does not); an enterprise that excludes an investor never appears in that investor's lists; a
withheld figure never appears; who may ask for which list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from helpers_api import ApiEnv, api_service, console_client, error_of
from helpers_encoder import HashingEncoder
from test_web_e2e import chromium, live, shoot, sign_in  # noqa: F401  (fixtures)

from matching.domain.records import Event
from matching.serving.context import MatchContext, market_context
from matching.serving.similar import CO_CAP, CO_WEIGHT, allowed_enterprises, similar_enterprises, similar_investors
from matching.snapshot.core import build_snapshot
from matching.synth.generator import Market, generate_market

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def market() -> Market:
    return generate_market(300, 40, 6, seed=11)


def _context(m: Market, enterprises: list[Any], events: list[Event] = ()) -> MatchContext:  # type: ignore[assignment]
    snap = build_snapshot(enterprises, m.investors, m.mandates, m.needs, m.secondaries, [*m.events, *events],
                          as_of=AS_OF)
    return market_context(snap, HashingEncoder(64))


def _source(m: Market) -> Any:
    return next(e for e in m.enterprises if e.status == "active" and e.description)


def _clone(e: Any, key: str, **changes: Any) -> Any:
    return replace(e, credit_code=None, source="platform", external_id=key, description=e.description + "！",
                   **changes)


@pytest.fixture(scope="module")
def cloned(market: Market) -> tuple[MatchContext, int, int]:
    src = _source(market)
    ctx = _context(market, [*market.enterprises, _clone(src, "clone-1")])
    return ctx, ctx.snap.ent_key_row[src.key], ctx.snap.ent_key_row["platform:clone-1"]


def test_a_clone_is_the_top_neighbour_never_itself_k_respected_deterministic(
        cloned: tuple[MatchContext, int, int]) -> None:
    ctx, src, clone = cloned
    allow = allowed_enterprises(ctx)
    got = similar_enterprises(ctx, src, 7, allow)
    assert len(got) == 7 and got[0].row == clone and got[0].cosine > 0.95
    assert src not in [s.row for s in got]
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
    assert similar_enterprises(ctx, src, 7, allow) == got  # the same list twice
    assert [s.row for s in similar_enterprises(ctx, src, 3, allow)] == [s.row for s in got[:3]]
    assert similar_enterprises(ctx, clone, 1, allow)[0].row == src  # the other way round too
    first = got[0].reasons
    assert {r.code for r in first} >= {"similar:industry", "similar:tier", "similar:profile"}
    assert all(s.shared is None for s in got)  # not revealed unless asked


def test_only_allowed_and_active_enterprises_appear(cloned: tuple[MatchContext, int, int]) -> None:
    ctx, src, clone = cloned
    allow = allowed_enterprises(ctx)
    allow[clone] = False
    got = similar_enterprises(ctx, src, 50, allow)
    assert clone not in [s.row for s in got] and all(allow[s.row] for s in got)
    assert all(ctx.snap.ent_active[s.row] for s in got)
    with pytest.raises(IndexError, match="enterprise row"):
        similar_enterprises(ctx, ctx.snap.n_enterprises, 3, allow)


def _invested(inv_key: str, ent_key: str, when: datetime, n: int) -> Event:
    return Event(event_key=f"co-{n}", investor_key=inv_key, enterprise_key=ent_key, event_type="invested",
                 occurred_at=when, actor="investor", amount=5e6, currency="CNY")


def test_co_investment_lifts_a_pair_sharing_investors_point_in_time(market: Market) -> None:
    src = _source(market)
    base = _context(market, market.enterprises)
    a = base.snap.ent_key_row[src.key]
    allow = allowed_enterprises(base)
    plain = similar_enterprises(base, a, 40, allow)
    far = plain[-1]  # the 40th by content alone
    b_key = base.snap.ent_key[far.row]
    invs = [i.key for i in market.investors][:3]
    when = AS_OF - timedelta(days=20)
    events = [_invested(k, e, when, n) for n, (k, e) in enumerate((k, e) for k in invs for e in (src.key, b_key))]
    events.append(_invested(invs[0], b_key, AS_OF + timedelta(days=5), 99))  # after "now": not read
    ctx = _context(market, market.enterprises, events)
    got = similar_enterprises(ctx, a, 10, allowed_enterprises(ctx), reveal_shared=True)
    lifted = next(s for s in got if s.row == ctx.snap.ent_key_row[b_key])  # from 40th into the top 10
    base_shared = _shared_in(base, a, far.row)
    assert lifted.shared == 3 + base_shared
    assert lifted.score - lifted.cosine == pytest.approx(CO_WEIGHT * min(3 + base_shared, CO_CAP) / CO_CAP)
    reason = next(r for r in lifted.reasons if r.code == "similar:shared")
    assert reason.zh == f"{3 + base_shared} 位共同投资方" and reason.facts["shared"] == 3 + base_shared
    hidden = similar_enterprises(ctx, a, 10, allowed_enterprises(ctx))  # count not told, nor order lifted by it
    assert [s.cosine for s in hidden] == sorted((s.cosine for s in hidden), reverse=True)
    assert all(s.score == s.cosine for s in hidden) and lifted.row not in {s.row for s in hidden}
    assert all(s.shared is None and "similar:shared" not in {r.code for r in s.reasons} for s in hidden)


def _shared_in(ctx: MatchContext, a: int, b: int) -> int:
    got = similar_enterprises(ctx, a, ctx.snap.n_enterprises, allowed_enterprises(ctx), reveal_shared=True)
    return next((s.shared or 0 for s in got if s.row == b), 0)


def test_an_enterprise_that_excludes_the_investor_never_appears(market: Market) -> None:
    src = _source(market)
    base = _context(market, [*market.enterprises, _clone(src, "clone-open")])
    a = base.snap.ent_key_row[src.key]
    inv = next(i for i in range(base.snap.n_investors)
               if allowed_enterprises(base, i)[base.snap.ent_key_row["platform:clone-open"]])
    key = base.snap.inv_key[inv]
    ctx = _context(market, [*market.enterprises, _clone(src, "clone-open"),
                            _clone(src, "clone-blocked", excluded_investors=[key])])
    blocked = ctx.snap.ent_key_row["platform:clone-blocked"]
    staff = similar_enterprises(ctx, a, 3, allowed_enterprises(ctx))
    assert blocked in [s.row for s in staff]  # it is as close as the open clone
    mine = similar_enterprises(ctx, a, 50, allowed_enterprises(ctx, inv))
    assert blocked not in [s.row for s in mine]
    assert mine[0].row == ctx.snap.ent_key_row["platform:clone-open"]
    assert all(allowed_enterprises(ctx, inv)[s.row] for s in mine)


def test_similar_investors_by_mandate_never_itself(cloned: tuple[MatchContext, int, int]) -> None:
    ctx, _, _ = cloned
    snap = ctx.snap
    row = int(np.flatnonzero(snap.inv_active)[0])
    got = similar_investors(ctx, row, 5)
    assert 0 < len(got) <= 5 and row not in [s.row for s in got]
    assert all(snap.inv_active[s.row] for s in got)
    assert got == similar_investors(ctx, row, 5)
    cos = ctx.man_vecs[[s.row for s in got]] @ ctx.man_vecs[row]
    assert [s.cosine for s in got] == pytest.approx(cos.tolist(), abs=1e-5)
    assert all(s.shared is None for s in got)


# --- over HTTP ---

@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("similar")) as env:
        yield env


def _ents(api: ApiEnv, eid: int, key: str, **params: Any) -> Any:
    r = api.get(f"/v1/enterprises/{eid}/similar", key, **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_access_per_role(api: ApiEnv) -> None:
    ids = api.ids
    ent_path, inv_path = f"/v1/enterprises/{ids['ent']}/similar", f"/v1/investors/{ids['inv']}/similar"
    expect = {"admin": (200, 200), "operator": (200, 200), "ds": (200, 200), "inv": (200, 403),
              "inv2": (200, 403), "ent": (200, 200), "ent2": (403, 200), None: (401, 401)}
    for key, (ent_status, inv_status) in expect.items():
        assert api.get(ent_path, key).status_code == ent_status, key
        assert api.get(inv_path, key).status_code == inv_status, key
    err = error_of(api.get(ent_path, "ent2"))
    assert "相似企业" in err["message"] and str(ids["ent2"]) in err["message"]
    assert error_of(api.get(inv_path, "inv2"))["code"] == "forbidden"
    bad = api.get(ent_path, "admin", k=0)
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "k"
    too_many = api.get(ent_path, "admin", k=api.settings.api_max_k + 1)
    assert too_many.status_code == 422
    missing = api.get("/v1/enterprises/999999999/similar", "admin")
    assert missing.status_code == 404 and error_of(missing)["fields"][0]["field"] == "enterprise_id"


def test_lists_over_http_k_and_shared_counts_by_role(api: ApiEnv) -> None:
    eid = api.ids["ent"]
    staff = _ents(api, eid, "admin", k=5)
    assert staff["filtered_by"] == "active" and len(staff["items"]) == 5
    assert eid not in [it["id"] for it in staff["items"]]
    assert all(isinstance(it["shared_investors"], int) for it in staff["items"])
    inv = _ents(api, eid, "inv", k=5)
    assert inv["filtered_by"] == "hard_rules" and all(it["shared_investors"] is None for it in inv["items"])
    assert all(r["code"] != "similar:shared" for it in inv["items"] for r in it["reasons"])
    invs = api.get(f"/v1/investors/{api.ids['inv']}/similar", "ent", k=4).json()
    assert len(invs["items"]) == 4 and api.ids["inv"] not in [it["id"] for it in invs["items"]]
    assert all(it["shared_deals"] is None for it in invs["items"])
    assert set(invs["items"][0]) == {"id", "name", "investor_type", "investor_type_zh", "district", "district_name",
                                     "sectors_zh", "score", "similarity", "shared_deals", "reasons"}
    assert "mandate" not in str(invs) and "excluded" not in str(invs)


def test_investor_sees_only_what_hard_rules_allow(api: ApiEnv) -> None:
    inv, snap = api.ids["inv"], api.state.matcher.snap
    allowed = allowed_enterprises(api.state.matcher.context, snap.investor_row[inv])
    eid = api.ids["ent"]
    got = _ents(api, eid, "inv", k=20)["items"]
    assert got and all(allowed[snap.enterprise_row[it["id"]]] for it in got)
    staff = _ents(api, eid, "admin", k=20)["items"]
    assert any(not allowed[snap.enterprise_row[it["id"]]] for it in staff) or len(staff) == 20
    # the top one the investor sees excludes it: after a reload it is gone from the investor's list only
    top = got[0]["id"]
    key = snap.inv_key[snap.investor_row[inv]]
    r = api.client.patch(f"/v1/enterprises/{top}", json={"excluded_investors": [key]}, headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    assert api.state.check_market()
    try:
        assert top not in [it["id"] for it in _ents(api, eid, "inv", k=20)["items"]]
        assert top in [it["id"] for it in _ents(api, eid, "admin", k=20)["items"]]
    finally:
        api.client.patch(f"/v1/enterprises/{top}", json={"excluded_investors": []}, headers=api.auth("admin"))
        api.state.check_market()


def test_a_withheld_figure_never_appears(api: ApiEnv) -> None:
    eid = api.ids["ent"]
    other = _ents(api, eid, "inv", k=3)["items"][0]["id"]
    secret = 987_654_321.0
    r = api.client.patch(f"/v1/enterprises/{other}", headers=api.auth("admin"), json={
        "disclosure": "on_request", "financials": [{"year": 2031, "revenue": secret, "net_profit": 12_345_678.0,
                                                    "employees": 4321}]})
    assert r.status_code == 200, r.text
    for key in ("inv", "ent"):
        body = api.get(f"/v1/enterprises/{eid if key == 'inv' else api.ids['ent']}/similar", key, k=20)
        assert body.status_code == 200
        assert "987654321" not in body.text and "12345678" not in body.text
        item = next((it for it in body.json()["items"] if it["id"] == other), None)
        if item is not None:
            assert item["figures"] is None and "financials" in item["withheld"]
            assert item["disclosure"]["level"] == "public"
    shown = next(it for it in _ents(api, eid, "admin", k=20)["items"] if it["id"] == other)
    assert shown["figures"]["revenue"] == secret and shown["figures"]["year"] == 2031
    r = api.client.patch(f"/v1/enterprises/{other}", headers=api.auth("admin"), json={"disclosure": "public"})
    mine = next(it for it in _ents(api, eid, "inv", k=20)["items"] if it["id"] == other)
    assert mine["figures"]["revenue"] == secret and mine["withheld"] == []  # the enterprise opted in


# --- the console ---



def test_console_lists_similar_companies_on_the_card_and_similar_investors_on_the_investor_page(api: ApiEnv) -> None:
    eid, inv = api.ids["ent"], api.ids["inv"]
    listed = _ents(api, eid, "inv", k=8)["items"]
    page = console_client(api, "inv").get(f"/web/enterprises/{eid}?lang=zh")
    assert page.status_code == 200
    html = page.text
    assert 'id="similar"' in html and "相似企业" in html
    assert [int(x) for x in re.findall(r'class="similar-item" data-id="(\d+)"', html)] == [it["id"] for it in listed]
    assert f'href="/web/enterprises/{listed[0]["id"]}"' in html
    for it in listed:
        if "financials" in it["withheld"]:
            assert "财务数据未披露" in html
    en = console_client(api, "inv").get(f"/web/enterprises/{eid}?lang=en").text
    assert "Similar companies" in en and "Similarity" in en
    assert all(r["en"] in en for r in listed[0]["reasons"] if r["code"] != "similar:profile")
    assert 'id="similar"' not in console_client(api, "ent2").get(f"/web/enterprises/{eid}").text  # not its own card
    assert 'id="similar"' in console_client(api, "ent").get(f"/web/enterprises/{eid}").text
    assert 'data-kind="investors"' not in console_client(api, "inv").get("/web/investor?lang=zh").text  # no peers
    mine = console_client(api, "operator").get(f"/web/investor?investor_id={inv}&lang=zh").text
    assert "相似机构" in mine and 'data-kind="investors"' in mine
    peers = api.get(f"/v1/investors/{inv}/similar", "operator", k=8).json()["items"]
    assert [int(x) for x in re.findall(r'class="similar-item" data-id="(\d+)"', mine)] == [it["id"] for it in peers]


# --- in a real browser (Chromium, as test_web_e2e) ---


def test_similar_companies_in_the_browser(live: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = live
    eid = env.ids["ent"]
    listed = env.get(f"/v1/enterprises/{eid}/similar", "inv", k=8).json()["items"]
    page = sign_in(chromium, base, env.keys["inv"])
    page.goto(f"{base}/web/enterprises/{eid}?lang=zh")
    panel = page.locator("#similar")
    assert "相似企业" in panel.locator("h2").inner_text()
    items = panel.locator(".similar-item")
    assert [int(x.get_attribute("data-id") or 0) for x in items.all()] == [it["id"] for it in listed]
    assert listed[0]["name"] in items.first.inner_text()
    panel.scroll_into_view_if_needed()
    shoot(page, "issue17-similar-companies")
    items.first.locator("a").click()  # more like that one
    page.wait_for_url(f"**/web/enterprises/{listed[0]['id']}*")
    assert page.locator("#similar .similar-item").count() > 0
    page.goto(f"{base}/web/investor?lang=en")
    assert page.locator("#similar[data-kind='investors']").count() == 0  # investors never see their peers
    page.context.close()
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/investor?investor_id={env.ids['inv']}&lang=en")
    peers = page.locator("#similar[data-kind='investors'] .similar-item")
    assert "Similar investors" in page.locator("#similar h2").inner_text() and peers.count() > 0
    page.locator("#similar").scroll_into_view_if_needed()
    shoot(page, "issue17-similar-investors-en")
    page.context.close()


def test_investors_described_by_their_portfolio_only_for_viewers_who_read_investments(market: Market) -> None:
    """An investor without text of its own is embedded as its portfolio's centroid (investments in other
    enterprises): without ``reveal_shared`` it is neither asked about (an empty list) nor listed."""
    ctx = _context(market, market.enterprises)
    described = np.ones(ctx.snap.n_investors, dtype=bool)
    described[:3] = False
    view = replace(ctx, snap=replace(ctx.snap, inv_described=described))
    assert similar_investors(view, 0, 10) == []
    shown = {s.row for s in similar_investors(view, 5, view.snap.n_investors)}
    assert shown and not shown & {0, 1, 2}
    assert similar_investors(view, 0, 10, reveal_shared=True)
    everyone = {s.row for s in similar_investors(view, 5, view.snap.n_investors, reveal_shared=True)}
    assert everyone & {0, 1, 2}
