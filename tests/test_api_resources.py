"""Resources: enterprises, investors and versioned mandates, needs, secondaries, uploads; disclosure rules."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import openpyxl
import pytest
from helpers_api import ApiEnv, api_service, error_of

from api import disclosure
from matching.domain import regions, vocab
from matching.domain.credit_code import make_credit_code
from store import keys as keys_db

_serial = itertools.count(1)


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    # uploads need more than the suite's 4 KiB body limit
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_resources"), max_body_bytes=262_144) as env:
        yield env


def code() -> str:
    """A fresh valid unified social credit code."""
    return make_credit_code("9", "1", "500112", f"MA{next(_serial):07d}")


def send(api: ApiEnv, method: str, path: str, key: str | None, body: Any = None) -> httpx.Response:
    return api.client.request(method, path, json=body, headers=api.auth(key))


def new_enterprise(api: ApiEnv, **fields: Any) -> dict[str, Any]:
    body = {"credit_code": code(), "name": f"重庆测试科技有限公司{next(_serial)}", "district": "渝北区",
            "industry": "生物医药", "tier": "basic", "registered_capital": "5000万",
            "excluded_investor_types": ["qfi"],
            "financials": [{"year": 2023, "revenue": "1.2亿", "net_profit": "-300万", "employees": 120,
                            "patents": 15, "rd_ratio": 0.12, "revenue_growth": 0.3}], **fields}
    r = api.post("/v1/enterprises", "admin", body)
    assert r.status_code == 201, r.text
    return r.json()


def key_for(api: ApiEnv, name: str, *, role: str, investor_id: int | None = None,
            enterprise_id: int | None = None) -> str:
    with api.db.connect(autocommit=True) as conn:
        api.keys[name] = keys_db.create_key(conn, role=role, investor_id=investor_id, enterprise_id=enterprise_id,
                                            label=f"test {name}").secret
    return name


# -- disclosure: pure rules ----------------------------------------------------------------------------
ALL = ("registered_capital", "operating_metrics", "financials")


@pytest.mark.parametrize(("role", "tier", "choice", "accepted", "viewer", "level", "withheld"), [
    ("admin", "basic", "on_request", False, None, "full", ()),
    ("operator", "basic", "tier_default", False, None, "full", ()),
    ("data_scientist", "basic", "on_request", False, None, "full", ()),
    ("enterprise", "basic", "on_request", False, 7, "full", ()),  # itself
    ("enterprise", "select", "public", False, 8, "public", ALL),  # another enterprise
    ("investor", "basic", "tier_default", False, None, "public", ALL),
    ("investor", "growth", "tier_default", False, None, "partial", ("financials",)),
    ("investor", "select", "tier_default", False, None, "full", ()),
    ("investor", "basic", "public", False, None, "full", ()),
    ("investor", "select", "on_request", False, None, "public", ALL),
    ("investor", "basic", "tier_default", True, None, "full", ()),
    ("investor", "select", "on_request", True, None, "full", ()),
])
def test_disclosure_decisions(role: str, tier: str, choice: str, accepted: bool, viewer: int | None, level: str,
                              withheld: tuple[str, ...]) -> None:
    d = disclosure.decide(role=role, tier=tier, disclosure=choice, enterprise_id=7, viewer_enterprise_id=viewer,
                          contact_accepted=accepted)
    assert (d.level, d.withheld) == (level, withheld)
    assert (d.reveal is not None) == (role == "investor" and bool(withheld))
    assert d.internal == (role in ("admin", "operator", "data_scientist") or viewer == 7)


def test_redact_blanks_what_is_withheld_and_says_so() -> None:
    ent = {"id": 7, "tier": "growth", "registered_capital": 5e7, "excluded_investors": ["platform:x"],
           "excluded_investor_types": ["qfi"],
           "financials": [{"year": 2023, "revenue": 1e8, "net_profit": 2e6, "employees": 50, "patents": 3,
                           "rd_ratio": 0.1, "revenue_growth": 0.2}]}
    growth = disclosure.redact(ent, disclosure.decide(role="investor", tier="growth", disclosure="tier_default",
                                                      enterprise_id=7))
    assert growth["financials"] == [{"year": 2023, "revenue": None, "net_profit": None, "employees": 50, "patents": 3,
                                     "rd_ratio": 0.1, "revenue_growth": 0.2}]
    assert growth["registered_capital"] == 5e7 and growth["excluded_investor_types"] is None
    assert growth["withheld"] == ["financials"]
    assert growth["disclosure"] == {"level": "partial", "basis": "tier:growth", "reveal": disclosure.REVEAL_EN,
                                    "reveal_zh": "企业同意您的联系请求后披露"}
    basic = disclosure.redact(ent, disclosure.decide(role="investor", tier="basic", disclosure="tier_default",
                                                     enterprise_id=7))
    assert basic["financials"] is None and basic["registered_capital"] is None
    own = disclosure.redact(ent, disclosure.decide(role="enterprise", tier="basic", disclosure="on_request",
                                                   enterprise_id=7, viewer_enterprise_id=7))
    assert own["financials"] == ent["financials"] and own["excluded_investors"] == ["platform:x"]
    assert ent["financials"][0]["revenue"] == 1e8  # the input is not changed
    with pytest.raises(ValueError, match="allowed: basic, growth, select"):
        disclosure.decide(role="investor", tier="gold", disclosure="tier_default", enterprise_id=1)
    with pytest.raises(ValueError, match="unknown role"):
        disclosure.decide(role="guest", tier="basic", disclosure="tier_default", enterprise_id=1)


# -- enterprises -----------------------------------------------------------------------------------------
def test_create_read_update_an_enterprise_in_chinese(api: ApiEnv) -> None:
    ent = new_enterprise(api, tier="成长层", boards="科技创新板，专精特新板", description="锂电池 储能 研发")
    assert ent["tier"] == "growth" and ent["tier_zh"] == "成长层" and ent["boards"] == ["sci_tech", "srdi"]
    assert ent["district"] == "500112" and ent["district_name"] == "渝北区" and ent["industry"] == "biomedicine"
    assert ent["registered_capital"] == 5e7 and ent["withheld"] == [] and ent["disclosure"]["basis"] == "staff"
    assert ent["financials"][0] == {"year": 2023, "revenue": 1.2e8, "net_profit": -3e6, "revenue_growth": 0.3,
                                    "rd_ratio": 0.12, "employees": 120, "patents": 15}
    r = api.get(f"/v1/enterprises/{ent['id']}", "operator")
    assert r.status_code == 200 and r.json() == ent
    assert "重庆测试科技".encode() in r.content and b"\\u" not in r.content  # UTF-8, not escaped
    key = key_for(api, f"own-{ent['id']}", role="enterprise", enterprise_id=ent["id"])
    patch = send(api, "PATCH", f"/v1/enterprises/{ent['id']}", key,
                 {"short_name": "测试科技", "disclosure": "申请后披露", "financials": [{"year": 2024, "revenue": 2e8}]})
    assert patch.status_code == 200, patch.text
    body = patch.json()
    assert body["short_name"] == "测试科技" and body["disclosure_choice"] == "on_request"
    assert [y["year"] for y in body["financials"]] == [2024, 2023] and body["financials"][0]["revenue"] == 2e8
    assert body["excluded_investor_types"] == ["qfi"] and body["disclosure"]["basis"] == "own"
    assert api.sql("SELECT short_name, disclosure FROM enterprises WHERE id = %s", (ent["id"],)) == [
        ("测试科技", "on_request")]
    tier = send(api, "PATCH", f"/v1/enterprises/{ent['id']}", key, {"tier": "select"})  # a claim, not a fact
    assert tier.status_code == 200 and tier.json()["tier"] == "growth" and tier.json()["claims"][0]["value"] == "select"
    status = send(api, "PATCH", f"/v1/enterprises/{ent['id']}", key, {"status": "inactive"})
    assert status.status_code == 403 and "status" in error_of(status)["message"]
    null = send(api, "PATCH", f"/v1/enterprises/{ent['id']}", "admin", {"name": None})
    assert null.status_code == 422 and error_of(null)["fields"][0]["field"] == "name"
    cleared = send(api, "PATCH", f"/v1/enterprises/{ent['id']}", "admin", {"boards": None, "tier": "优选层"})
    assert cleared.status_code == 200 and cleared.json()["boards"] == [] and cleared.json()["tier"] == "select"


def test_enterprise_validation_conflicts_and_unknown_ids(api: ApiEnv) -> None:
    ent = new_enterprise(api)
    dup = api.post("/v1/enterprises", "admin", {"credit_code": ent["credit_code"], "name": "另一家公司"})
    assert dup.status_code == 409
    err = error_of(dup)
    assert err["code"] == "conflict" and f"id {ent['id']}" in err["message"]
    assert err["fields"] == [{"field": "credit_code", "value": ent["credit_code"],
                              "reason": f"already used (id {ent['id']})"}]
    cases: list[tuple[dict[str, Any], str, tuple[str, ...] | None, str]] = [
        ({"tier": "gold"}, "tier", vocab.TIERS.codes, "Input should be"),
        ({"district": "成都市"}, "district", tuple(d.code for d in regions.DISTRICTS), "Input should be"),
        ({"boards": ["科技创新板", "moon"]}, "boards.1", vocab.BOARDS.codes, "Input should be"),
        ({"credit_code": "91500000MA5U123456"}, "credit_code", None, "check character"),
        ({"registered_capital": "很多"}, "registered_capital", None, "not an amount"),
        ({"colour": "red"}, "colour", None, "Extra inputs"),
        ({"credit_code": None}, "credit_code", None, "external_id"),
        ({"description": "空\x00字符"}, "description", None, "NUL characters"),
    ]
    for change, field, allowed, text in cases:
        r = api.post("/v1/enterprises", "admin", {"credit_code": code(), "name": "校验测试"} | change)
        assert r.status_code == 422, (change, r.text)
        err = error_of(r)
        assert err["fields"][0]["field"] == field and text in err["message"] + str(err["fields"]), (change, err)
        if allowed:
            assert err["fields"][0]["allowed"] == list(allowed)
    assert api.sql("SELECT count(*) FROM enterprises WHERE name = '校验测试'") == [(0,)]
    missing = api.get("/v1/enterprises/99999999", "admin")
    assert missing.status_code == 404 and error_of(missing)["fields"][0]["field"] == "enterprise_id"
    assert send(api, "PATCH", "/v1/enterprises/99999999", "admin", {"city": "重庆"}).status_code == 404


ENTERPRISE_ROLES = [  # (method, path, key, status); {ent} is the enterprise key's own, {ent2} another's
    ("POST", "/v1/enterprises", "admin", 201), ("POST", "/v1/enterprises", "operator", 201),
    ("POST", "/v1/enterprises", "inv", 403), ("POST", "/v1/enterprises", "ent", 403),
    ("POST", "/v1/enterprises", "ds", 403), ("POST", "/v1/enterprises", None, 401),
    ("GET", "/v1/enterprises/{ent}", "admin", 200), ("GET", "/v1/enterprises/{ent}", "operator", 200),
    ("GET", "/v1/enterprises/{ent}", "ds", 200), ("GET", "/v1/enterprises/{ent}", "inv", 200),
    ("GET", "/v1/enterprises/{ent}", "ent", 200), ("GET", "/v1/enterprises/{ent}", "ent2", 200),
    ("GET", "/v1/enterprises/{ent}", None, 401), ("GET", "/v1/enterprises", "inv", 200),
    ("GET", "/v1/enterprises", "ent2", 200), ("GET", "/v1/enterprises", "ds", 200),
    ("PATCH", "/v1/enterprises/{ent}", "admin", 200), ("PATCH", "/v1/enterprises/{ent}", "operator", 200),
    ("PATCH", "/v1/enterprises/{ent}", "ent", 200), ("PATCH", "/v1/enterprises/{ent}", "ent2", 403),
    ("PATCH", "/v1/enterprises/{ent}", "inv", 403), ("PATCH", "/v1/enterprises/{ent}", "ds", 403),
    ("PATCH", "/v1/enterprises/{ent}", None, 401),
]


@pytest.mark.parametrize(("method", "path", "key", "status"), ENTERPRISE_ROLES)
def test_enterprise_routes_by_role(api: ApiEnv, method: str, path: str, key: str | None, status: int) -> None:
    body = {"city": "重庆"} if method == "PATCH" else {"credit_code": code(), "name": "角色测试企业"}
    r = send(api, method, path.format(**api.ids), key, body if method != "GET" else None)
    assert r.status_code == status, r.text
    if status >= 400:
        assert error_of(r)["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    elif method == "PATCH":
        assert r.json()["city"] == "重庆" and r.json()["id"] == api.ids["ent"]
    elif method == "POST":
        assert r.json()["name"] == "角色测试企业"
    elif "{ent}" in path:
        assert r.json()["id"] == api.ids["ent"]
    else:
        assert r.json()["total"] >= 500 and len(r.json()["items"]) == 50


def test_financials_are_revealed_to_an_investor_only_after_the_enterprise_accepts_its_contact(api: ApiEnv) -> None:
    ent = new_enterprise(api, tier="basic", name="披露测试基础层企业")
    path = f"/v1/enterprises/{ent['id']}"
    before = api.get(path, "inv").json()
    assert before["financials"] is None and before["registered_capital"] is None
    assert before["withheld"] == ["registered_capital", "operating_metrics", "financials"]
    assert before["disclosure"] == {"level": "public", "basis": "tier:basic", "reveal": disclosure.REVEAL_EN,
                                    "reveal_zh": disclosure.REVEAL_ZH}
    assert before["excluded_investor_types"] is None  # internal, for every outsider
    assert before["name"] == "披露测试基础层企业" and before["district_name"] == "渝北区"  # the public profile
    listed = api.get("/v1/enterprises", "inv", q="披露测试基础层").json()["items"]
    assert [e["id"] for e in listed] == [ent["id"]] and listed[0]["financials"] is None
    own = key_for(api, f"own-{ent['id']}", role="enterprise", enterprise_id=ent["id"])
    # the investor asks; asking is not enough
    assert api.post("/v1/events", "inv", {"event_id": "reveal-ask", "event_type": "contact_requested",
                                          "investor_id": api.ids["inv"], "enterprise_id": ent["id"]}
                    ).status_code == 201
    assert api.get(path, "inv").json()["financials"] is None
    accepted = api.post("/v1/events", own, {"event_id": "reveal-yes", "event_type": "contact_accepted",
                                            "investor_id": api.ids["inv"], "enterprise_id": ent["id"]})
    assert accepted.status_code == 201 and accepted.json()["actor"] == "enterprise"
    after = api.get(path, "inv").json()
    assert after["withheld"] == [] and after["disclosure"]["basis"] == "contact_accepted"
    assert after["financials"][0]["revenue"] == 1.2e8 and after["registered_capital"] == 5e7
    assert after["excluded_investor_types"] is None
    listed = api.get("/v1/enterprises", "inv", q="披露测试基础层").json()["items"]
    assert listed[0]["financials"][0]["net_profit"] == -3e6
    other = api.get(path, "inv2").json()  # another investor: still withheld
    assert other["financials"] is None and other["withheld"] == list(ALL)
    peer = api.get(path, "ent").json()  # another enterprise: public profile
    assert peer["financials"] is None and peer["disclosure"]["basis"] == "other_enterprise"
    assert peer["disclosure"]["reveal"] is None
    for key, basis in (("ds", "internal"), ("operator", "staff"), (own, "own")):
        full = api.get(path, key).json()
        assert full["financials"][0]["revenue"] == 1.2e8 and full["excluded_investor_types"] == ["qfi"], key
        assert full["disclosure"]["basis"] == basis


def test_tier_and_the_enterprises_own_choice_set_what_investors_see(api: ApiEnv) -> None:
    growth = api.get(f"/v1/enterprises/{new_enterprise(api, tier='growth')['id']}", "inv").json()
    assert growth["withheld"] == ["financials"] and growth["registered_capital"] == 5e7
    assert growth["financials"][0] | {"year": 0} == {"year": 0, "revenue": None, "net_profit": None,
                                                     "revenue_growth": 0.3, "rd_ratio": 0.12, "employees": 120,
                                                     "patents": 15}
    select = api.get(f"/v1/enterprises/{new_enterprise(api, tier='select')['id']}", "inv").json()
    assert select["withheld"] == [] and select["financials"][0]["revenue"] == 1.2e8
    hidden = api.get(f"/v1/enterprises/{new_enterprise(api, tier='select', disclosure='on_request')['id']}",
                     "inv").json()
    assert hidden["withheld"] == list(ALL) and hidden["disclosure"]["basis"] == "disclosure:on_request"
    public = api.get(f"/v1/enterprises/{new_enterprise(api, tier='basic', disclosure='全部公开')['id']}", "inv").json()
    assert public["withheld"] == [] and public["financials"][0]["revenue"] == 1.2e8


def test_listing_enterprises_filters_and_pages(api: ApiEnv) -> None:
    want = api.sql("SELECT id FROM enterprises WHERE tier = 'growth' AND district_code = '500112' ORDER BY id")
    first = api.get("/v1/enterprises", "operator", tier="成长层", district="渝北区", limit=3)
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == len(want) and body["limit"] == 3 and body["offset"] == 0
    assert [e["id"] for e in body["items"]] == [r[0] for r in want[:3]]
    assert body["next_offset"] == (3 if len(want) > 3 else None)
    second = api.get("/v1/enterprises", "operator", tier="growth", district="500112", limit=3, offset=3).json()
    assert [e["id"] for e in second["items"]] == [r[0] for r in want[3:6]] and second["total"] == len(want)
    boards = api.get("/v1/enterprises", "operator", board="srdi,rural", limit=200).json()
    assert boards["total"] == api.sql("SELECT count(*) FROM enterprises WHERE boards && ARRAY['srdi','rural']")[0][0]
    assert all({"srdi", "rural"} & set(e["boards"]) for e in boards["items"])
    everything = api.get("/v1/enterprises", "ds", limit=1).json()
    assert everything["total"] == api.sql("SELECT count(*) FROM enterprises")[0][0]
    too_big = api.get("/v1/enterprises", "operator", limit=201)
    assert too_big.status_code == 422 and error_of(too_big)["fields"][0]["field"] == "limit"
    bad = api.get("/v1/enterprises", "operator", tier="金牌层")
    assert bad.status_code == 422
    assert error_of(bad)["fields"][0] | {"reason": ""} == {"field": "tier", "value": "金牌层",
                                                           "allowed": list(vocab.TIERS.codes), "reason": ""}
    nul = api.get("/v1/enterprises", "operator", q="a\x00b")
    assert nul.status_code == 422 and error_of(nul)["fields"][0]["field"] == "q"
    bad_district = api.get("/v1/enterprises", "operator", district="成都")
    assert bad_district.status_code == 422 and "500112" in error_of(bad_district)["fields"][0]["allowed"]


# -- investors and mandates -------------------------------------------------------------------------------
def test_investors_with_versioned_mandates(api: ApiEnv) -> None:
    created = api.post("/v1/investors", "admin", {
        "name": "两江新区科创股权投资基金", "investor_type": "国有基金", "state_fund_level": "区县级",
        "amac_code": "SX1234", "district": "渝北区", "description": "聚焦智能网联新能源汽车",
        "mandate": {"sectors": "智能网联新能源汽车、ai", "stages": ["A轮", "B轮"], "ticket_min": "1000万",
                    "ticket_max": "1亿", "regions": ["重庆"], "excluded_enterprises": ["platform:x1"],
                    "thesis": "返投重庆"}})
    assert created.status_code == 201, created.text
    inv = created.json()
    assert inv["investor_type"] == "state_fund" and inv["investor_type_zh"] == "国有/政府引导基金"
    assert inv["external_id"] == "SX1234" and inv["mandate"]["version"] == 1
    assert inv["mandate"]["sectors"] == ["nev_auto", "ai"] and inv["mandate"]["ticket_max"] == 1e8
    own = key_for(api, f"inv-{inv['id']}", role="investor", investor_id=inv["id"])
    path = f"/v1/investors/{inv['id']}"
    put = send(api, "PUT", f"{path}/mandate", own, {"sectors": ["先进材料"], "ticket_min": 5e6, "ticket_max": 5e7,
                                                     "instruments": ["股权融资", "科创可转债"]})
    assert put.status_code == 201, put.text
    v2 = put.json()
    assert v2["version"] == 2 and v2["valid_to"] is None and v2["sectors"] == ["adv_materials"]
    assert v2["stages"] == [] and v2["thesis"] == ""  # PUT replaces the whole mandate
    patch = send(api, "PATCH", f"{path}/mandate", "operator", {"thesis": "专精特新", "ticket_max": None})
    assert patch.status_code == 201
    v3 = patch.json()
    assert (v3["version"], v3["thesis"], v3["ticket_max"]) == (3, "专精特新", None)
    assert v3["sectors"] == ["adv_materials"] and v3["instruments"] == ["equity", "convertible"]  # copied from v2
    history = api.get(f"{path}/mandates", own).json()
    assert history["current"]["version"] == 3 and [v["version"] for v in history["history"]] == [3, 2, 1]
    v1 = history["history"][2]
    assert v1["sectors"] == ["nev_auto", "ai"] and v1["valid_to"] == history["history"][1]["valid_from"]
    assert api.sql("SELECT version, valid_to IS NULL FROM mandates WHERE investor_id = %s ORDER BY version",
                   (inv["id"],)) == [(1, False), (2, False), (3, True)]
    assert api.get(path, own).json()["mandate"]["version"] == 3
    public = api.get(path, "ent").json()  # an enterprise reads the public profile
    assert public["mandate"]["version"] == 3 and public["mandate"]["excluded_enterprises"] is None
    assert api.get(f"{path}/mandates", "ent").status_code == 403
    backwards = send(api, "PATCH", f"{path}/mandate", own, {"ticket_max": "100万"})  # below v3's ticket_min
    assert backwards.status_code == 422 and error_of(backwards)["fields"][0]["field"] == "ticket_min"
    staff_field = send(api, "PATCH", path, own, {"investor_type": "vc", "description": "新简介"})
    assert staff_field.status_code == 403 and "investor_type" in error_of(staff_field)["message"]
    ok = send(api, "PATCH", path, own, {"description": "新简介", "aum": "20亿"})
    assert ok.status_code == 200 and ok.json()["aum"] == 2e9 and ok.json()["description"] == "新简介"
    assert api.sql("SELECT count(*) FROM mandates WHERE investor_id = %s", (inv["id"],)) == [(3,)]


def test_investor_validation_conflicts_and_roles(api: ApiEnv) -> None:
    no_level = api.post("/v1/investors", "admin", {"name": "某引导基金", "investor_type": "state_fund"})
    assert no_level.status_code == 422
    assert error_of(no_level)["fields"][0] | {"reason": ""} == {
        "field": "state_fund_level", "value": None, "allowed": list(vocab.STATE_FUND_LEVELS.codes), "reason": ""}
    bad_type = api.post("/v1/investors", "admin", {"name": "某基金", "investor_type": "hedge"})
    assert bad_type.status_code == 422
    assert error_of(bad_type)["fields"][0]["allowed"] == list(vocab.INVESTOR_TYPES.codes)
    first = api.post("/v1/investors", "admin", {"name": "甲创投", "investor_type": "VC", "amac_code": "P1234567"})
    assert first.status_code == 201
    again = api.post("/v1/investors", "operator", {"name": "乙创投", "investor_type": "vc", "amac_code": "P1234567",
                                                   "external_id": "other"})
    assert again.status_code == 409 and error_of(again)["fields"][0]["field"] == "amac_code"
    inv, inv2 = api.ids["inv"], api.ids["inv2"]
    table = [("GET", f"/v1/investors/{inv}", "inv", 200), ("GET", f"/v1/investors/{inv}", "inv2", 403),
             ("GET", f"/v1/investors/{inv}", "ent", 200), ("GET", f"/v1/investors/{inv}", "ds", 200),
             ("GET", f"/v1/investors/{inv}", None, 401), ("GET", "/v1/investors", "inv", 403),
             ("GET", "/v1/investors", "ent", 200), ("GET", "/v1/investors", "ds", 200),
             ("GET", f"/v1/investors/{inv}/mandates", "inv", 200),
             ("GET", f"/v1/investors/{inv}/mandates", "inv2", 403),
             ("GET", f"/v1/investors/{inv}/mandates", "ds", 200), ("POST", "/v1/investors", "inv", 403),
             ("POST", "/v1/investors", "ds", 403), ("POST", "/v1/investors", "ent", 403),
             ("PATCH", f"/v1/investors/{inv}", "inv2", 403), ("PATCH", f"/v1/investors/{inv}", "ent", 403),
             ("PATCH", f"/v1/investors/{inv}", "ds", 403), ("PUT", f"/v1/investors/{inv}/mandate", "inv2", 403),
             ("PUT", f"/v1/investors/{inv}/mandate", "ent", 403), ("PUT", f"/v1/investors/{inv}/mandate", "ds", 403),
             ("PATCH", f"/v1/investors/{inv2}/mandate", "inv", 403), ("GET", "/v1/investors/99999999", "admin", 404),
             ("PUT", "/v1/investors/99999999/mandate", "admin", 404)]
    for method, path, key, status in table:
        body = {"name": "某机构", "investor_type": "vc"} if method == "POST" else {}
        r = send(api, method, path, key, body if method != "GET" else None)
        assert r.status_code == status, (method, path, key, r.text)
        if status >= 400:
            assert error_of(r)["code"] == {401: "unauthorized", 403: "forbidden", 404: "not_found"}[status]
    listed = api.get("/v1/investors", "ent", investor_type="S基金", limit=200).json()
    assert listed["items"] and all(i["investor_type"] == "s_fund" for i in listed["items"])
    assert listed["total"] == api.sql("SELECT count(*) FROM investors WHERE investor_type = 's_fund'")[0][0]
    assert all(i["mandate"] is None or i["mandate"]["excluded_enterprises"] is None for i in listed["items"])


# -- needs and secondaries --------------------------------------------------------------------------------
def test_needs_belong_to_their_enterprise(api: ApiEnv) -> None:
    ent, ent2 = api.ids["ent"], api.ids["ent2"]
    made = api.post("/v1/needs", "ent", {"instrument": "知识产权质押贷", "amount": "800万", "round": "A轮",
                                         "use_of_funds": "扩产"})
    assert made.status_code == 201, made.text
    need = made.json()
    assert need["enterprise_id"] == ent and need["instrument"] == "ip_pledge"
    assert need["instrument_zh"] == "知识产权质押贷"
    assert need["amount"] == 8e6 and need["ref"].startswith("api-")
    assert api.post("/v1/needs", "ent", {"enterprise_id": ent2, "instrument": "equity", "amount": 1}
                    ).status_code == 403
    assert api.post("/v1/needs", "inv", {"enterprise_id": ent, "instrument": "equity", "amount": 1}).status_code == 403
    assert api.post("/v1/needs", "admin", {"instrument": "equity", "amount": 1}).status_code == 422
    dup = api.post("/v1/needs", "admin", {"enterprise_id": ent2, "ref": need["ref"], "instrument": "equity",
                                          "amount": 1})
    assert dup.status_code == 409 and error_of(dup)["fields"][0]["field"] == "ref"
    dates = api.post("/v1/needs", "ent", {"instrument": "equity", "amount": 1, "opened_on": "2025-03-01",
                                          "closes_on": "2025-01-01"})
    assert dates.status_code == 422 and error_of(dates)["fields"][0]["field"] == "closes_on"
    mine = api.get("/v1/needs", "ent", limit=200).json()
    assert mine["total"] == api.sql("SELECT count(*) FROM financing_needs WHERE enterprise_id = %s", (ent,))[0][0]
    assert {n["enterprise_id"] for n in mine["items"]} == {ent}
    assert api.get("/v1/needs", "ent", enterprise_id=ent2).status_code == 403
    equity = api.get("/v1/needs", "inv", instrument="股权融资", status="open", limit=5).json()
    assert equity["total"] == api.sql("SELECT count(*) FROM financing_needs WHERE instrument = 'equity' "
                                      "AND status = 'open'")[0][0]
    assert len(equity["items"]) == 5 and all(n["instrument"] == "equity" for n in equity["items"])
    path = f"/v1/needs/{need['id']}"
    assert api.get(path, "inv").status_code == 200 and api.get(path, "ds").status_code == 200
    assert api.get(path, "ent2").status_code == 403
    assert send(api, "PATCH", path, "inv", {"status": "closed"}).status_code == 403
    assert send(api, "PATCH", path, "ent2", {"status": "closed"}).status_code == 403
    closed = send(api, "PATCH", path, "ent", {"status": "已完成"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert api.get("/v1/needs/99999999", "admin").status_code == 404


def test_secondaries_are_sold_by_their_investor(api: ApiEnv) -> None:
    made = api.post("/v1/secondaries", "sfund", {"kind": "基金份额", "seller_name": "某S基金",
                                                 "fund_name": "重庆种子基金一期", "asking_price": "3000万",
                                                 "nav": "4000万", "vintage": 2019})
    assert made.status_code == 201, made.text
    sec = made.json()
    assert sec["seller_investor_id"] == api.ids["sfund"] and sec["kind_zh"] == "基金份额"
    assert sec["discount"] == pytest.approx(0.25)
    path = f"/v1/secondaries/{sec['id']}"
    assert send(api, "PATCH", path, "inv", {"status": "sold"}).status_code == 403
    sold = send(api, "PATCH", path, "sfund", {"status": "意向中", "asking_price": 2.8e7})
    assert sold.status_code == 200 and sold.json()["status"] == "under_offer"
    assert api.get(path, "ds").json()["asking_price"] == 2.8e7
    assert api.get(path, "inv").status_code == 403  # a VC is no buyer of secondaries (S funds are)
    assert api.get(path, "ent").status_code == 403 and api.get("/v1/secondaries", "ent").status_code == 403
    listed = api.get("/v1/secondaries", "ds", seller_investor_id=api.ids["sfund"], limit=200).json()
    assert sec["id"] in [s["id"] for s in listed["items"]]
    shares = api.post("/v1/secondaries", "admin", {"kind": "old_shares", "seller_name": "某股东", "asking_price": 1})
    assert shares.status_code == 422 and error_of(shares)["fields"][0]["field"] == "enterprise_id"
    other = api.post("/v1/secondaries", "inv", {"kind": "fund_interest", "seller_name": "x", "fund_name": "y",
                                                "asking_price": 1, "seller_investor_id": api.ids["sfund"]})
    assert other.status_code == 403
    assert api.get("/v1/secondaries/99999999", "admin").status_code == 404


def test_investors_see_live_needs_only(api: ApiEnv) -> None:
    """Finding 14: withdrawn and closed needs are not shown to investors (their enterprise and staff see them)."""
    ent = api.ids["ent2"]
    made = {status: api.post("/v1/needs", "admin", {"enterprise_id": ent, "instrument": "equity", "amount": "500万",
                                                     "status": status}).json()["id"]
            for status in ("withdrawn", "closed", "in_progress")}
    for status in ("withdrawn", "closed"):
        path = f"/v1/needs/{made[status]}"
        hidden = api.get(path, "inv")
        assert hidden.status_code == 404, (status, hidden.text)
        assert api.get(path, "ent2").status_code == 200 and api.get(path, "ds").status_code == 200
    assert api.get(f"/v1/needs/{made['in_progress']}", "inv").status_code == 200
    listed = api.get("/v1/needs", "inv", enterprise_id=ent, limit=200).json()
    assert {n["status"] for n in listed["items"]} <= {"open", "in_progress"} and made["in_progress"] in {
        n["id"] for n in listed["items"]}
    assert listed["total"] == api.sql("SELECT count(*) FROM financing_needs WHERE enterprise_id = %s "
                                      "AND status IN ('open', 'in_progress')", (ent,))[0][0]
    everything = api.get("/v1/needs", "inv", limit=1).json()["total"]
    assert everything == api.sql("SELECT count(*) FROM financing_needs WHERE status IN ('open', 'in_progress')")[0][0]
    asked = api.get("/v1/needs", "inv", status="已撤回")
    assert asked.status_code == 422, asked.text
    field = error_of(asked)["fields"][0]
    assert (field["field"], field["value"], field["allowed"]) == ("status", ["withdrawn"], ["open", "in_progress"])
    own = api.get("/v1/needs", "ent2", status="withdrawn", limit=200).json()
    assert made["withdrawn"] in {n["id"] for n in own["items"]}


def test_secondaries_are_shown_to_s_funds_and_their_seller_only(api: ApiEnv) -> None:
    """Finding 14: an investor that is no S fund cannot list the old shares of any enterprise."""
    shares = api.post("/v1/secondaries", "admin", {
        "kind": "old_shares", "seller_name": "某股东", "asking_price": "2000万", "enterprise_id": api.ids["ent2"],
        "seller_investor_id": api.ids["inv2"]})
    assert shares.status_code == 201, shares.text
    sec = shares.json()
    path = f"/v1/secondaries/{sec['id']}"
    vc = api.get("/v1/secondaries", "inv", limit=200).json()
    assert all(s["seller_investor_id"] == api.ids["inv"] for s in vc["items"]), vc["items"][:1]
    assert api.get("/v1/secondaries", "inv", enterprise_id=api.ids["ent2"]).json()["items"] == []
    denied = api.get(path, "inv")
    assert denied.status_code == 403 and "s_fund" in error_of(denied)["message"]
    assert api.get(path, "inv2").status_code == 200  # the seller
    buyer = api.get("/v1/secondaries", "sfund", kind="old_shares", limit=200).json()
    assert sec["id"] in {s["id"] for s in buyer["items"]}
    assert {s["status"] for s in buyer["items"]} <= {"open", "under_offer"}
    assert send(api, "PATCH", path, "admin", {"status": "withdrawn"}).status_code == 200
    assert api.get(path, "sfund").status_code == 404
    assert sec["id"] not in {s["id"] for s in api.get("/v1/secondaries", "sfund", limit=200).json()["items"]}
    assert api.get(path, "inv2").json()["status"] == "withdrawn"  # the seller still sees its own
    sold = api.get("/v1/secondaries", "sfund", status="sold")
    assert sold.status_code == 422 and error_of(sold)["fields"][0]["allowed"] == ["open", "under_offer"]


# -- uploads ----------------------------------------------------------------------------------------------
def _csv(rows: list[list[str]]) -> str:
    return "\r\n".join(",".join(r) for r in rows) + "\r\n"


def upload(api: ApiEnv, entity: str, data: bytes, key: str | None = "admin", name: str = "企业名单.csv",
           **params: Any) -> httpx.Response:
    return api.client.post(f"/v1/imports/{entity}", params=params, headers=api.auth(key),
                           files={"file": (name, data, "text/csv")})


HEADER = ["统一社会信用代码", "企业名称", "所属区县", "所属行业", "层级", "特色板块", "注册资本"]


def test_a_gbk_csv_uploads_with_chinese_headers(api: ApiEnv) -> None:
    codes_ = [code(), code()]
    text = _csv([HEADER, [codes_[0], "重庆渝北上传测试甲公司", "渝北区", "生物医药", "成长层", "科技创新板", "5000万"],
                 [codes_[1], "重庆江北上传测试乙公司", "江北区", "人工智能", "基础层", "", "800万"]])
    r = upload(api, "enterprises", text.encode("gbk"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["encoding"] in ("gb18030", "gbk") and body["rows"] == 2 and body["rejected"] == []
    assert body["imported"][0] == {"table": "enterprises", "received": 2, "inserted": 2, "updated": 0,
                                   "unchanged": 0, "unresolved": 0}
    stored = api.sql("SELECT credit_code, name, district_code, tier, boards, registered_capital FROM enterprises "
                     "WHERE credit_code = ANY(%s) ORDER BY name", (codes_,))
    assert [(s[1], s[2], s[3], s[4], float(s[5])) for s in stored] == [
        ("重庆江北上传测试乙公司", "500105", "basic", [], 8e6),
        ("重庆渝北上传测试甲公司", "500112", "growth", ["sci_tech"], 5e7)]
    again = upload(api, "enterprises", text.encode("gbk"))  # idempotent
    assert again.status_code == 200 and again.json()["imported"][0]["unchanged"] == 2


def test_an_upload_with_a_bad_row_imports_nothing(api: ApiEnv) -> None:
    good, bad_code = code(), code()
    text = _csv([HEADER, [good, "原子性测试甲公司", "渝中区", "软件信息服务", "基础层", "", ""],
                 [bad_code, "原子性测试乙公司", "成都市", "软件信息服务", "金牌层", "", ""]])
    before = api.sql("SELECT count(*) FROM enterprises")[0][0]
    r = upload(api, "enterprises", text.encode("utf-8-sig"))
    assert r.status_code == 422
    err = error_of(r)
    assert "nothing was imported" in err["message"] and "(3)" in err["message"]
    assert {(f["row"], f["field"], f["value"]) for f in err["fields"]} == {
        (3, "district_code", "成都市"), (3, "tier", "金牌层")}
    assert next(f for f in err["fields"] if f["field"] == "tier")["allowed"] == list(vocab.TIERS.codes)
    assert api.sql("SELECT count(*) FROM enterprises")[0][0] == before
    assert api.sql("SELECT count(*) FROM enterprises WHERE credit_code = %s", (good,)) == [(0,)]
    skipped = upload(api, "enterprises", text.encode("utf-8-sig"), skip_invalid="true")
    assert skipped.status_code == 200
    body = skipped.json()
    assert body["rejected_rows"] == 1 and {p["row"] for p in body["rejected"]} == {3}
    assert body["imported"][0]["inserted"] == 1
    assert api.sql("SELECT credit_code FROM enterprises WHERE credit_code = ANY(%s)", ([good, bad_code],)) == [(good,)]
    # a need for an enterprise that does not exist: refused by the loader, nothing written
    need = _csv([["需求编号", "企业", "融资工具", "融资金额"], ["U-1", good, "股权融资", "1000万"],
                 ["U-2", code(), "股权融资", "2000万"]])
    refused = upload(api, "needs", need.encode(), name="needs.csv")
    assert refused.status_code == 422 and error_of(refused)["fields"][0]["row"] == 3
    assert api.sql("SELECT count(*) FROM financing_needs WHERE ref IN ('U-1', 'U-2')") == [(0,)]


def test_upload_access_and_file_errors(api: ApiEnv) -> None:
    data = _csv([HEADER, [code(), "权限测试公司", "渝中区", "", "", "", ""]]).encode()
    for key, status in (("inv", 403), ("ent", 403), ("ds", 403), (None, 401)):
        r = upload(api, "enterprises", data, key)
        assert r.status_code == status and error_of(r)["code"] in ("forbidden", "unauthorized")
    unknown = upload(api, "companies", data)
    assert unknown.status_code == 422 and "enterprises" in error_of(unknown)["fields"][0]["allowed"]
    wrong = upload(api, "enterprises", data, name="list.pdf")
    assert wrong.status_code == 422 and error_of(wrong)["fields"][0]["field"] == "file"
    jsonl = f'{{"credit_code": "{code()}", "name": "JSONL测试公司", "tier": "优选层"}}\n'
    ok = upload(api, "enterprises", jsonl.encode(), name="e.jsonl")
    assert ok.status_code == 200 and ok.json()["imported"][0]["inserted"] == 1
    assert api.sql("SELECT tier FROM enterprises WHERE name = 'JSONL测试公司'") == [("select",)]
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append([code(), "XLSX测试公司", "500103", "软件信息服务", "成长层", "专精特新板", "300万"])
    xlsx = io.BytesIO()
    book.save(xlsx)
    sheet = upload(api, "enterprises", xlsx.getvalue(), name="企业.xlsx")
    assert sheet.status_code == 200 and sheet.json()["encoding"] == "utf-8", sheet.text
    assert api.sql("SELECT tier, boards, district_code FROM enterprises WHERE name = 'XLSX测试公司'") == [
        ("growth", ["srdi"], "500103")]
    broken = upload(api, "enterprises", b'{"name": ', name="e.jsonl")
    assert broken.status_code == 422 and error_of(broken)["fields"][0]["field"] == "file"
    assert api.sql("SELECT count(*) FROM enterprises WHERE name = '权限测试公司'") == [(0,)]


def test_an_empty_mandate_patch_on_an_investor_without_one_is_no_server_error(api: ApiEnv) -> None:
    """Found by schemathesis in bench.reliability: ``PATCH …/mandate {}`` on an investor with no mandate built
    ``INSERT INTO mandates (…, valid_from, ) VALUES …`` (a 500). It stores a first version of defaults."""
    created = api.post("/v1/investors", "admin", {"name": "尚无授权的机构", "investor_type": "vc"})
    assert created.status_code == 201, created.text
    inv = created.json()["id"]
    r = api.client.patch(f"/v1/investors/{inv}/mandate", json={}, headers=api.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["sectors"] == []
