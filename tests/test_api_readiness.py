"""Listing readiness over HTTP: known-answer enterprises, access per role, the pipeline counts, the standards import
(round trip, a bad file refused naming the criterion with nothing written, the CLI), and the deal-list reason
"接近北交所上市标准" shown only where every figure behind it is disclosed to the investor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, console_client, error_of

from matching.domain.credit_code import make_credit_code
from matching.readiness.standards import SHIPPED
from store import keys as keys_db
from store.database import Database

WAN = 1e4
DISTRICT = "500112"  # 渝北区


def years(*rows: tuple[int, float, float]) -> list[dict[str, Any]]:
    """Yearly figures (year, revenue 万元, net profit 万元)."""
    return [{"year": y, "revenue": r * WAN, "net_profit": p * WAN} for y, r, p in rows]


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_readiness")) as env:
        yield env


_serial = iter(range(1, 10_000))


def make(api: ApiEnv, *, tier: str = "select", disclosure: str = "public", district: str = DISTRICT,
         financials: list[dict[str, Any]] | None = None) -> int:
    n = next(_serial)
    body = {"credit_code": make_credit_code("9", "1", "500112", f"RD{n:07d}"), "name": f"准备度测试企业{n}",
            "tier": tier, "disclosure": disclosure, "district": district, "financials": financials or []}
    r = api.post("/v1/enterprises", "admin", body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def key_for(api: ApiEnv, enterprise_id: int) -> str:
    name = f"ent{enterprise_id}"
    with api.db.connect(autocommit=True) as conn:
        api.keys[name] = keys_db.create_key(conn, role="enterprise", enterprise_id=enterprise_id,
                                            label="readiness").secret
    return name


def target(body: dict[str, Any], code: str) -> dict[str, Any]:
    (t,) = [t for t in body["targets"] if t["target"] == code]
    return t


def criterion(t: dict[str, Any], set_code: str, metric: str, aggregate: str) -> dict[str, Any]:
    (s,) = [s for s in t["sets"] if s["code"] == set_code]
    (c,) = [c for c in s["criteria"] if c["metric"] == metric and c["aggregate"] == aggregate]
    return c


def test_own_readiness_known_answer(api: ApiEnv) -> None:
    eid = make(api, financials=years((2024, 20000, 7000), (2023, 18000, 2000)))
    own = key_for(api, eid)
    r = api.get(f"/v1/enterprises/{eid}/readiness", own)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["standards"]["version"] == "2024.1" and body["tier"] == "select"
    assert [t["target"] for t in body["targets"]] == ["neeq_basic", "neeq_innovative", "bse", "chinext", "star", "main"]
    cx = target(body, "chinext")
    assert (cx["status"], cx["best_set"], cx["status_zh"]) == ("near", "chinext_1", "接近标准")
    assert cx["score"] == pytest.approx(2.9 / 3, abs=1e-6)
    total = criterion(cx, "chinext_1", "net_profit", "sum")
    assert (total["status"], total["figure"], total["margin"], total["unit"]) == ("missed", 9000.0, -1000.0, "万元")
    assert total["figure_years"] == [2024, 2023]
    assert total["source"]["article"] == "第2.1.2条（一）" and total["date"] == "2024-04-30"
    mv = criterion(target(body, "bse"), "bse_1b", "market_value", "latest")
    assert (mv["status"], mv["unknown_reason"], mv["assessable"]) == ("unknown", "not_assessable", False)
    assert cx["changes"][0]["text_zh"] == "最近2年累计净利润 >= 10,000 万元：现为 9,000.00 万元，差 1,000.00 万元"
    assert body["changes"][0]["relative_gap"] <= body["changes"][-1]["relative_gap"]
    one = api.get(f"/v1/enterprises/{eid}/readiness", own, target="bse").json()
    assert [t["target"] for t in one["targets"]] == ["bse"]


def test_regional_tier_is_shown_as_to_be_confirmed(api: ApiEnv) -> None:
    eid = make(api, tier="basic", financials=years((2024, 1000, 100)))
    body = api.get(f"/v1/enterprises/{eid}/readiness", "admin").json()
    tier = body["targets"][0]
    assert (tier["target"], tier["status"], tier["score"], tier["placeholder"]) == ("growth", "unknown", None, True)
    assert tier["placeholder_zh"].startswith("待确认")
    rev = criterion(tier, "growth_1", "revenue", "latest")
    assert (rev["threshold"], rev["unknown_reason"], rev["placeholder"]) == (None, "not_public", True)


def test_access_per_role_and_disclosure(api: ApiEnv) -> None:
    public = make(api, disclosure="public", financials=years((2024, 5000, 500)))
    basic = make(api, tier="basic", disclosure="tier_default", financials=years((2024, 5000, 500)))
    growth = make(api, tier="growth", disclosure="tier_default", financials=years((2024, 5000, 500)))
    for who in ("admin", "operator", "ds"):
        assert api.get(f"/v1/enterprises/{basic}/readiness", who).status_code == 200, who
    assert api.get(f"/v1/enterprises/{public}/readiness", "inv").status_code == 200
    for eid in (basic, growth):  # growth withholds the amounts: still no readiness
        r = api.get(f"/v1/enterprises/{eid}/readiness", "inv")
        assert r.status_code == 403, r.text
        assert "企业同意您的联系请求后披露" in error_of(r)["message"]
    r = api.get(f"/v1/enterprises/{public}/readiness", "ent")  # another enterprise
    assert r.status_code == 403 and error_of(r)["code"] == "forbidden"
    assert api.get(f"/v1/enterprises/{public}/readiness", None).status_code == 401
    assert api.get("/v1/enterprises/999999999/readiness", "admin").status_code == 404
    r = api.get(f"/v1/enterprises/{public}/readiness", "admin", target="nasdaq")
    assert r.status_code == 422
    (f,) = error_of(r)["fields"]
    assert f["field"] == "target" and f["value"] == "nasdaq" and "bse" in f["allowed"]


def test_pipeline_counts_by_district_and_board(api: ApiEnv) -> None:
    def counts() -> dict[str, Any]:
        r = api.get("/v1/reports/readiness", "operator", district="渝北区", board="chinext")
        assert r.status_code == 200, r.text
        (t,) = r.json()["targets"]
        assert t["target"] == "chinext" and all(d["district"] == DISTRICT for d in t["by_district"])
        return t["counts"]

    before = counts()
    make(api, financials=years((2024, 20000, 7000), (2023, 18000, 4000)))  # met (standard one)
    make(api, financials=years((2024, 20000, 7000), (2023, 18000, 2000)))  # near (score 0.967)
    make(api, financials=years((2024, 1000, -50)))  # far
    make(api)  # no figures: far (score 0)
    make(api, district="500103", financials=years((2024, 20000, 7000), (2023, 18000, 4000)))  # another district
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {"met": 1, "met_on_platform_data": 0, "near": 1, "far": 2,
                                                        "unknown": 0}
    for who in ("ds", "inv", "ent"):
        assert api.get("/v1/reports/readiness", who).status_code == 403, who
    r = api.get("/v1/reports/readiness", "admin", board="nasdaq")
    assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == "board"
    both = api.get("/v1/reports/readiness", "admin", board="bse、chinext")  # separated as every other filter
    assert both.status_code == 200 and [t["target"] for t in both.json()["targets"]] == ["bse", "chinext"]
    full = api.get("/v1/reports/readiness", "admin").json()
    growth = next(t for t in full["targets"] if t["target"] == "growth")
    assert growth["placeholder"] and growth["counts"]["unknown"] == growth["assessed"]


def test_deal_list_reason_only_where_the_figures_are_disclosed(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    items = api.get(f"/v1/investors/{inv}/deals", "inv", k=10).json()["items"]
    revealed = {r[0] for r in api.sql("SELECT enterprise_id FROM funnel_events WHERE investor_id = %s AND "
                                      "event_type = 'contact_accepted' AND actor = 'enterprise'", (inv,))}
    shown, withheld = [it["enterprise"]["id"] for it in items if it["enterprise"]["id"] not in revealed][:2]
    near_bse = years((2024, 22000, 3000), (2023, 18000, 2000))  # BSE standard 1b met on platform data
    for eid, tier, choice in ((shown, "select", "public"), (withheld, "growth", "tier_default")):
        r = api.client.patch(f"/v1/enterprises/{eid}", json={"tier": tier, "disclosure": choice,
                                                              "financials": near_bse}, headers=api.auth("admin"))
        assert r.status_code == 200, r.text

    def reasons() -> dict[int, list[str]]:
        got = api.get(f"/v1/investors/{inv}/deals", "inv", k=10).json()["items"]
        return {it["enterprise"]["id"]: [x["zh"] for x in it["reasons"]] for it in got}

    assert "接近北交所上市标准" not in reasons()[shown]  # the mandate does not target pre-IPO companies
    stages = api.get(f"/v1/investors/{inv}", "admin").json()["mandate"]["stages"]

    def mandate_stages(value: list[str]) -> None:  # a new mandate version, served once the market reloads
        r = api.client.patch(f"/v1/investors/{inv}/mandate", json={"stages": value}, headers=api.auth("admin"))
        assert r.status_code == 201, r.text  # a new version
        assert api.state.check_market()

    mandate_stages([*stages, "pre_ipo"])
    now = reasons()
    assert "接近北交所上市标准" in now[shown]
    assert "接近北交所上市标准" not in now[withheld]  # growth tier withholds revenue and profit from investors
    api.sql("INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, occurred_at, actor) "
            "VALUES ('readiness-reveal', %s, %s, 'contact_accepted', now(), 'enterprise') RETURNING 1",
            (inv, withheld))
    assert "接近北交所上市标准" in reasons()[withheld]  # the enterprise agreed: the mutual reveal
    mandate_stages(stages)


# --- the console ---



def test_the_enterprise_page_shows_its_readiness_table(api: ApiEnv) -> None:
    eid = make(api, tier="basic", financials=years((2024, 20000, 7000), (2023, 18000, 2000)))
    key = key_for(api, eid)
    zh = console_client(api, key).get("/web/enterprise?lang=zh").text
    assert 'id="readiness"' in zh and "上市准备度" in zh and 'data-target="chinext" data-status="near"' in zh
    assert "未达标，差 1,000 万元" in zh and "最近2年累计净利润 &gt;= 10,000 万元" in zh
    assert "2024、2023" in zh and "第2.1.2条（一）" in zh and "平台数据无法评估" in zh
    assert 'data-target="growth" data-status="unknown"' in zh and "待确认" in zh and "标准未公开，待确认" in zh
    en = console_client(api, key).get("/web/enterprise?lang=en").text
    assert "Listing readiness" in en and "Missed by 1,000 万元" in en and "Not assessable from platform data" in en


def test_the_pipeline_page_for_staff(api: ApiEnv) -> None:
    report = api.get("/v1/reports/readiness", "operator", board="bse").json()
    page = console_client(api, "operator").get("/web/readiness?board=bse")
    assert page.status_code == 200 and "上市培育进度" in page.text and 'href="/web/readiness"' in page.text
    (t,) = report["targets"]
    row = page.text.split('<tr data-target="bse">')[1].split("</tr>")[0]
    for k in ("met", "met_on_platform_data", "near", "far", "unknown"):
        assert f'<td class="num">{t["counts"][k]:,}</td>' in row
    assert "Listing pipeline" in console_client(api, "admin").get("/web/readiness?lang=en").text
    for who in ("inv", "ds"):
        assert console_client(api, who).get("/web/readiness").status_code == 403


# --- the standards import (last: it changes the standards in force for the module) ---

def _file(**change: Any) -> bytes:
    doc = json.loads(SHIPPED.read_text(encoding="utf-8"))
    doc.update(change)
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def test_import_round_trip_and_a_bad_file_writes_nothing(api: ApiEnv) -> None:
    def upload(key: str, data: bytes, name: str = "standards.json") -> Any:
        return api.client.post("/v1/imports/standards", files={"file": (name, data, "application/json")},
                               headers=api.auth(key))

    bad = json.loads(_file(version="2099.bad"))
    bad["targets"][5]["sets"][0]["criteria"][1]["metric"] = "profit"
    r = upload("operator", json.dumps(bad, ensure_ascii=False).encode("gb18030"))
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["fields"][0]["field"] == "targets[chinext].sets[chinext_1].criteria[1].metric"
    assert err["fields"][0]["value"] == "'profit'" and "unknown metric; allowed: revenue" in err["fields"][0]["reason"]
    surrogate = json.dumps({**json.loads(_file()), "version": "a\ud800b"}).encode()  # ASCII JSON, \ud800 escaped
    for junk in (b"", b"\xff\xfe{", _file(version="a\x00b"), surrogate, b"[" * 50_000):
        r = upload("operator", junk)
        assert r.status_code == 422 and error_of(r)["fields"][0]["field"] in ("file", "version"), r.text
    assert api.sql("SELECT count(*) FROM listing_standards") == [(0,)]
    for who in ("ds", "inv", "ent"):
        assert upload(who, _file(version="2099.1")).status_code == 403, who
    doc = json.loads(_file(version="2099.1"))
    doc["targets"][5]["sets"][0]["criteria"][1]["threshold"] = 8000  # 累计净利润 1亿 → 8000万
    data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    r = upload("operator", data)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "2099.1" and r.json()["imported"] is True
    assert upload("admin", data).json()["imported"] is False  # the same version again: nothing changes
    r = upload("admin", _file(version="2099.1", title="other"))
    assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == "version"
    versions = api.get("/v1/standards", "admin").json()
    assert [v["version"] for v in versions] == ["2099.1", "2024.1"] and versions[1]["shipped"]
    assert versions[0]["imported_by"].startswith("key:")
    eid = make(api, financials=years((2024, 20000, 7000), (2023, 18000, 2000)))  # 9000万 ≥ 8000万 now
    body = api.get(f"/v1/enterprises/{eid}/readiness", "admin", target="chinext").json()
    assert body["standards"]["version"] == "2099.1" and body["targets"][0]["status"] == "met"


def test_cli_import(db: Database, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "s.json"
    good.write_bytes(_file(version="2030.1"))
    out = cli("import", "standards", str(good), "--by", "测试")
    assert out.exit_code == 0, out.output
    assert "standards 2030.1" in out.output and "imported, now in force" in out.output
    bad = tmp_path / "bad.json"
    doc = json.loads(_file(version="2030.2"))
    doc["targets"][4]["sets"][1]["criteria"][0]["operator"] = "=>"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    out = cli("import", "standards", str(bad))
    assert out.exit_code == 1
    assert "targets[bse].sets[bse_1b].criteria[0].operator: '=>': unknown operator" in out.output
    with db.connect() as conn:
        assert conn.execute("SELECT version, imported_by FROM listing_standards").fetchall() == [("2030.1", "测试")]
