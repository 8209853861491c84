"""``GET /v1/needs/{id}/syndicates`` (issue 17 item 2): who may ask, what each caller sees, the errors.

An investor is shown as lead only itself (another lead is a 403), and of its co-investors their names and types
only: no share, ticket, score or history of another investor appears anywhere in its response (checked against the
figures staff see); the enterprise sees shares and ticket ranges of its own need's sets but no co-investment count;
staff see everything. Unknown need 404; a closed need 422 (404 for an investor, as ``GET /v1/needs/{id}``); a lead
who does not fit 422 naming the broken rule for staff and none for an investor.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers_api import ApiEnv, api_service, error_of

from store import keys as keys_db


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("syndicates")) as env:
        need = _need_with_sets(env)
        env.ids["need"] = need
        staff = env.get(f"/v1/needs/{need}/syndicates", "admin").json()
        env.ids["need_ent"] = staff["enterprise_id"]
        env.ids["lead"] = staff["items"][0]["members"][0]["investor_id"]
        with env.db.connect(autocommit=True) as conn:
            for name, role, inv, ent in (("lead", "investor", env.ids["lead"], None),
                                         ("owner", "enterprise", None, env.ids["need_ent"])):
                env.keys[name] = keys_db.create_key(conn, role=role, investor_id=inv, enterprise_id=ent,
                                                    label=f"test {name}").secret
        yield env


def _need_with_sets(env: ApiEnv) -> int:
    """The open need with the most investors who may join (at least 3 sets)."""
    best = None
    for (need,) in env.sql("SELECT id FROM financing_needs WHERE status = 'open' ORDER BY id"):
        r = env.get(f"/v1/needs/{need}/syndicates", "admin")
        if r.status_code == 200 and len(r.json()["items"]) >= 3 and (best is None or r.json()["candidates"] > best[0]):
            best = (r.json()["candidates"], need)
    assert best is not None
    return best[1]


def _path(api: ApiEnv) -> str:
    return f"/v1/needs/{api.ids['need']}/syndicates"


def test_access_per_role(api: ApiEnv) -> None:
    path = _path(api)
    expect = {"admin": 200, "operator": 200, "ds": 200, "owner": 200, "lead": 200, "ent2": 403, None: 401}
    for key, status in expect.items():
        assert api.get(path, key).status_code == status, key
    other = api.get(path, "lead", lead=api.ids["inv2"])
    assert other.status_code == 403
    lead, inv2 = api.ids["lead"], api.ids["inv2"]
    assert error_of(other)["message"] == (f"投资机构密钥只能以本机构（{lead}）为领投方组建银团 / An investor key "
                                          f"may name only itself ({lead}) as the lead, not {inv2}")
    assert api.get(path, "lead", lead=api.ids["lead"]).status_code == 200
    if api.ids["need_ent"] != api.ids["ent2"]:
        err = error_of(api.get(path, "ent2"))
        assert err["code"] == "forbidden" and str(api.ids["ent2"]) in err["message"]


def test_staff_see_everything_the_sets_add_up(api: ApiEnv) -> None:
    out = api.get(_path(api), "admin").json()
    assert out["need_id"] == api.ids["need"] and out["lead_investor_id"] is None and out["candidates"] >= 2
    for rank, s in enumerate(out["items"], 1):
        assert s["rank"] == rank and s["total"] == pytest.approx(s["amount"], abs=1e-3)
        assert sum(m["amount"] for m in s["members"]) == pytest.approx(s["amount"], abs=1e-3)
        assert isinstance(s["co_investments"], int) and s["objective"] is not None
        for m in s["members"]:
            lo, hi = m["ticket_min"] or 0.0, m["ticket_max"] or s["amount"]
            assert lo - 1e-6 <= m["amount"] <= hi + 1e-6 and m["withheld"] == []
        assert s["reasons"][0]["code"] == "syndicate:cover" and "家合计" in s["reasons"][0]["zh"]
    led = api.get(_path(api), "admin", lead=api.ids["lead"]).json()
    assert led["lead_investor_id"] == api.ids["lead"]
    assert all(s["members"][0]["investor_id"] == api.ids["lead"] and s["members"][0]["lead"] for s in led["items"])
    assert all(isinstance(m["co_with_lead"], int) for s in led["items"] for m in s["members"][1:])


def test_an_investor_lead_sees_names_and_types_only_never_a_peers_figures(api: ApiEnv) -> None:
    path = _path(api)
    staff = api.get(path, "admin", lead=api.ids["lead"]).json()
    mine = api.get(path, "lead")
    assert mine.status_code == 200
    out = mine.json()
    assert out["lead_investor_id"] == api.ids["lead"]
    assert out["items"] and all(s["members"][0]["investor_id"] == api.ids["lead"] for s in out["items"])
    for s in out["items"]:
        assert s["objective"] is None and s["co_investments"] is None
        assert {r["code"] for r in s["reasons"]} <= {"syndicate:cover", "syndicate:rules"}
        for m in s["members"]:
            assert m["amount"] is None and m["ticket_min"] is None and m["ticket_max"] is None
            assert m["score"] is None and m["fit"] is None and m["co_with_lead"] is None
            assert m["withheld"] == ["amount", "ticket", "score", "history"] and m["reasons"] == []
            assert m["name"] and m["investor_type"]
    text = mine.text
    peers = [m for s in staff["items"] for m in s["members"] if m["investor_id"] != api.ids["lead"]]
    for m in peers:  # no figure of a co-investor appears anywhere in the lead's response
        for figure in (m["ticket_min"], m["ticket_max"], m["amount"]):
            if figure:
                assert f"{figure:.1f}" not in text and f"{figure / 1e4:,.0f} 万元" not in text
    assert "共同投资" not in text


def test_the_enterprise_sees_shares_and_tickets_but_no_history(api: ApiEnv) -> None:
    out = api.get(_path(api), "owner").json()
    assert out["items"]
    for s in out["items"]:
        assert s["co_investments"] is None and s["objective"] is None
        assert sum(m["amount"] for m in s["members"]) == pytest.approx(s["amount"], abs=1e-3)
        assert all(m["co_with_lead"] is None and m["withheld"] == ["history"] for m in s["members"])
        assert all(r["code"] != "syndicate:lead_ties" for m in s["members"] for r in m["reasons"])


def test_errors_unknown_closed_and_a_lead_who_does_not_fit(api: ApiEnv) -> None:
    missing = api.get("/v1/needs/999999999/syndicates", "admin")
    assert missing.status_code == 404 and error_of(missing)["fields"][0]["field"] == "need_id"
    assert api.get("/v1/needs/0/syndicates", "admin").status_code == 422
    for path, params in (("/v1/needs/99999999999999999999/syndicates", {}), (_path(api), {"lead": 10**20}),
                         (_path(api), {"lead": -3}), (_path(api), {"lead": "x"})):
        assert 400 <= api.get(path, "admin", **params).status_code < 500, (path, params)
    unknown_lead = api.get(_path(api), "admin", lead=999999999)
    assert unknown_lead.status_code == 404 and error_of(unknown_lead)["fields"][0]["field"] == "lead"
    sfund = api.get(_path(api), "admin", lead=api.ids["sfund"])
    assert sfund.status_code == 422
    err = error_of(sfund)
    assert err["fields"][0]["field"] == "lead" and "s_fund_primary" in err["message"]
    assert "choose a lead that fits the need, or none" in err["message"]
    own = api.get(_path(api), "sfund")  # an S fund as its own lead: refused, no rule named
    assert own.status_code == 422
    need = api.ids["need"]
    assert error_of(own)["message"] == (f"贵机构的投资策略不符合融资需求 {need}，无法作为领投方 / Your mandate does "
                                        f"not fit financing need {need}: you cannot lead it")
    assert "s_fund" not in own.text
    (closed,) = api.sql("SELECT id FROM financing_needs WHERE status = 'open' AND id <> %s ORDER BY id LIMIT 1",
                        (api.ids["need"],))[0]
    _set_status(api, closed, "closed")
    try:
        shut = api.get(f"/v1/needs/{closed}/syndicates", "admin")
        assert shut.status_code == 422 and error_of(shut)["fields"][0]["field"] == "need_id"
        assert error_of(shut)["message"] == (f"融资需求 {closed} 状态为已完成，只为进行中的需求组建银团 / "
                                             f"Financing need {closed} is closed: syndicates are suggested for open "
                                             "needs only")
        assert api.get(f"/v1/needs/{closed}/syndicates", "lead").status_code == 404  # not live for investors
    finally:
        _set_status(api, closed, "open")


def _set_status(api: ApiEnv, need: int, status: str) -> None:
    with api.db.connect(autocommit=True) as conn:
        conn.execute("UPDATE financing_needs SET status = %s WHERE id = %s", (status, need))


def test_an_investor_whose_minimum_ticket_exceeds_the_amount_is_told_so(api: ApiEnv) -> None:
    """The deal list allows a ticket within its tolerance, so an investor's top deal may be a need smaller than its
    minimum ticket; asking for co-investors there said "your mandate does not fit", contradicting the deal list.
    It now says why, naming only the investor's own minimum and the need's (public) amount."""
    rows = api.sql("SELECT n.id, m.investor_id, m.ticket_min, n.amount FROM financing_needs n JOIN mandates m "
                   "ON m.ticket_min > n.amount AND m.valid_to IS NULL WHERE n.status = 'open' AND m.investor_id = %s "
                   "ORDER BY n.id LIMIT 1",
                   (api.ids["inv"],))
    if not rows:
        pytest.skip("the investor's minimum ticket is below every open need")
    need, _, lo, amount = rows[0]
    r = api.get(f"/v1/needs/{need}/syndicates", "inv")
    assert r.status_code == 422
    msg = error_of(r)["message"]
    assert f"贵机构最低单笔投资 {float(lo) / 10_000:,.0f} 万元，高于融资需求 {need} 的融资金额 " \
           f"{float(amount) / 10_000:,.0f} 万元：可单独投资，无需组建银团" in msg, msg
    assert "mandate does not fit" not in msg
