"""The outcome report: numbers checked against a tiny hand-counted market of 2001, JSON and CSV, access."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain import regions, vocab
from matching.domain.credit_code import make_credit_code

METRICS = ("lists_served", "impressions", "contacts_requested", "contacts_accepted", "meetings", "investments",
           "enterprises_funded", "amount_invested")
PERIOD = {"from": "2001-01-01", "to": "2001-12-31"}


def m(*values: float) -> dict[str, float]:
    return dict(zip(METRICS, values, strict=True))


ZERO = m(0, 0, 0, 0, 0, 0, 0, 0)


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_reports")) as env:
        _market_of_2001(env)
        yield env


def _market_of_2001(api: ApiEnv) -> None:
    """Enterprises A (渝北区, growth, 科技创新板+专精特新板), B (渝中区, basic, no board), C (四川, select, 专精特新板);
    investors V (vc) and S (state fund); lists and events in 2001, plus some just outside it."""
    ids: dict[str, int] = {}
    for name, extra in (("A", {"district": "渝北区", "tier": "growth", "boards": ["sci_tech", "srdi"]}),
                        ("B", {"district": "渝中区", "tier": "basic"}),
                        ("C", {"province": "四川", "tier": "select", "boards": ["srdi"]})):
        body = {"credit_code": make_credit_code("9", "1", "500112", f"RP000000{ord(name) - 64}"),
                "name": f"报表测试企业{name}", **extra}
        r = api.post("/v1/enterprises", "admin", body)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    for name, extra in (("V", {"investor_type": "vc"}),
                        ("S", {"investor_type": "state_fund", "state_fund_level": "municipal"})):
        r = api.post("/v1/investors", "admin", {"name": f"报表测试机构{name}", **extra})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    cst = timezone(timedelta(hours=8))
    lists = [  # (created, side, list investor, list enterprise, items as (enterprise, investor))
        (datetime(2001, 3, 1, 10, tzinfo=cst), "investor", "V", None, [("A", None), ("B", None)]),
        (datetime(2001, 3, 1, 11, tzinfo=cst), "investor", "S", None, [("A", None)]),
        (datetime(2001, 3, 2, 9, tzinfo=cst), "enterprise", None, "C", [(None, "V")]),
        (datetime(2002, 1, 1, 0, tzinfo=cst), "investor", "V", None, [("B", None)]),  # the day after the period
    ]
    with api.db.connect(autocommit=True) as conn:
        for created, side, inv, ent, items in lists:
            list_id = uuid.uuid4()
            conn.execute("INSERT INTO served_lists (id, side, investor_id, enterprise_id, created_at) "
                         "VALUES (%s, %s, %s, %s, %s)",
                         (list_id, side, ids.get(inv or ""), ids.get(ent or ""), created))
            for pos, (e, i) in enumerate(items, start=1):
                conn.execute("INSERT INTO served_list_items (list_id, position, enterprise_id, investor_id, score) "
                             "VALUES (%s, %s, %s, %s, 0.5)", (list_id, pos, ids.get(e or ""), ids.get(i or "")))
    events = [  # (investor, enterprise, type, actor, when, amount, currency)
        ("V", "A", "contact_requested", "investor", "2001-01-01T00:10:00+08:00", None, None),  # 2000-12-31 in UTC
        ("V", "A", "contact_accepted", "enterprise", "2001-01-02T09:00:00+08:00", None, None),
        ("V", "A", "meeting", "investor", "2001-02-01T09:00:00+08:00", None, None),
        ("V", "A", "invested", "investor", "2001-06-01T09:00:00+08:00", 10_000_000, "CNY"),
        ("S", "A", "invested", "investor", "2001-06-02T09:00:00+08:00", 5_000_000, "CNY"),
        ("S", "B", "contact_requested", "investor", "2001-04-01T09:00:00+08:00", None, None),
        ("V", "B", "viewed", "investor", "2001-03-05T09:00:00+08:00", None, None),  # not an outcome
        ("V", "C", "contact_requested", "investor", "2001-05-01T09:00:00+08:00", None, None),
        ("V", "C", "invested", "investor", "2001-07-01T09:00:00+08:00", 3_000_000, "USD"),  # not in the CNY sum
        ("V", "B", "meeting", "investor", "2002-01-01T00:00:00+08:00", None, None),  # after the period
        ("S", "B", "invested", "investor", "2000-12-31T23:59:00+08:00", 9_000_000, "CNY"),  # before it
    ]
    for n, (inv, ent, kind, actor, when, amount, currency) in enumerate(events):
        r = api.post("/v1/events", "operator", {
            "event_id": f"report-{n}", "event_type": kind, "investor_id": ids[inv], "enterprise_id": ids[ent],
            "actor": actor, "occurred_at": when, "amount": amount, "currency": currency})
        assert r.status_code == 201, r.text
    api.extra["report_ids"] = ids


def _report(api: ApiEnv, group_by: str) -> dict[str, Any]:
    r = api.get("/v1/reports/outcomes", "operator", group_by=group_by, **PERIOD)
    assert r.status_code == 200, r.text
    return r.json()


def _active(body: dict[str, Any]) -> dict[str | None, dict[str, float]]:
    return {row["key"]: {k: row[k] for k in METRICS} for row in body["rows"] if any(row[k] for k in METRICS)}


TOTAL = m(3, 4, 3, 1, 1, 3, 2, 15_000_000)


def test_by_district_matches_the_hand_count(api: ApiEnv) -> None:
    body = _report(api, "district")
    assert (body["group_by"], body["group_by_zh"], body["currency"]) == ("district", "区县", "CNY")
    assert (body["period_from"], body["period_to"]) == ("2001-01-01", "2001-12-31")
    assert _active(body) == {"500112": m(2, 2, 1, 1, 1, 2, 1, 15_000_000), "500103": m(1, 1, 1, 0, 0, 0, 0, 0),
                             None: m(1, 1, 1, 0, 0, 1, 1, 0)}
    assert [r["key"] for r in body["rows"]] == [d.code for d in regions.DISTRICTS] + [None]  # zeros included
    labels = {r["key"]: r["label"] for r in body["rows"]}
    assert labels["500112"] == "渝北区" and labels[None] == "重庆市外或未填"
    assert body["total"] == {"key": None, "label": "合计", **TOTAL}


def test_by_tier_board_and_investor_type(api: ApiEnv) -> None:
    tier = _report(api, "tier")
    assert [r["key"] for r in tier["rows"]] == list(vocab.TIERS.codes)
    assert [r["label"] for r in tier["rows"]] == ["基础层", "成长层", "优选层"]
    assert _active(tier) == {"growth": m(2, 2, 1, 1, 1, 2, 1, 15_000_000), "basic": m(1, 1, 1, 0, 0, 0, 0, 0),
                             "select": m(1, 1, 1, 0, 0, 1, 1, 0)}
    board = _report(api, "board")
    # A is on two boards and counts in both; B is on none
    assert _active(board) == {"sci_tech": m(2, 2, 1, 1, 1, 2, 1, 15_000_000),
                              "srdi": m(3, 3, 2, 1, 1, 3, 2, 15_000_000), None: m(1, 1, 1, 0, 0, 0, 0, 0)}
    assert board["rows"][-1]["label"] == "未入特色板块" and board["total"] == {"key": None, "label": "合计", **TOTAL}
    by_type = _report(api, "investor_type")
    assert _active(by_type) == {"vc": m(2, 3, 2, 1, 1, 2, 2, 10_000_000),
                                "state_fund": m(1, 1, 1, 0, 0, 1, 1, 5_000_000)}
    assert next(r for r in by_type["rows"] if r["key"] == "state_fund")["label"] == "国有/政府引导基金"


def test_csv_is_utf8_with_bom_and_chinese_headers(api: ApiEnv) -> None:
    r = api.get("/v1/reports/outcomes", "admin", group_by="district", format="csv", **PERIOD)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="outcomes_district_2001-01-01_2001-12-31.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in r.content
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["代码", "区县", "推荐列表数", "曝光次数", "请求联系", "同意联系", "会面", "投资笔数",
                       "获投企业数", "投资金额（元）"]
    assert ["500112", "渝北区", "2", "2", "1", "1", "1", "2", "1", "15000000.00"] in rows
    assert rows[-1] == ["", "合计", "3", "4", "3", "1", "1", "3", "2", "15000000.00"]
    assert len(rows) == 1 + 38 + 1 + 1  # header, districts, outside Chongqing, total


def test_operators_only_and_bad_parameters(api: ApiEnv) -> None:
    for key, status in (("inv", 403), ("ent", 403), ("ds", 403), ("revoked", 401), (None, 401)):
        r = api.get("/v1/reports/outcomes", key, **PERIOD)
        assert r.status_code == status and error_of(r)["code"] in ("forbidden", "unauthorized"), key
    assert "admin, operator" in error_of(api.get("/v1/reports/outcomes", "ds"))["message"]
    backwards = api.get("/v1/reports/outcomes", "operator", **{"from": "2001-12-31", "to": "2001-01-01"})
    assert backwards.status_code == 422 and error_of(backwards)["fields"][0]["field"] == "from"
    city = api.get("/v1/reports/outcomes", "operator", group_by="city")
    assert city.status_code == 422
    assert error_of(city)["fields"][0]["allowed"] == ["district", "board", "tier", "investor_type"]
    xml = api.get("/v1/reports/outcomes", "operator", format="xml")
    assert xml.status_code == 422 and error_of(xml)["fields"][0]["allowed"] == ["json", "csv"]
    bad_day = api.get("/v1/reports/outcomes", "operator", **{"from": "2001-02-30"})
    assert bad_day.status_code == 422 and error_of(bad_day)["fields"][0]["field"] == "from"
    default = api.get("/v1/reports/outcomes", "admin").json()  # the last 30 days, China time
    last = date.fromisoformat(default["period_to"])
    assert date.fromisoformat(default["period_from"]) == last - timedelta(days=29)
    assert abs((last - datetime.now(timezone(timedelta(hours=8))).date()).days) <= 1


@pytest.mark.parametrize(("params", "field"), [({"to": "0001-01-01"}, "to"), ({"from": "0001-01-01"}, "from"),
                                               ({"to": "9999-12-31"}, "to")])
def test_dates_at_the_ends_of_the_calendar_are_a_422_not_a_500(api: ApiEnv, params: dict[str, str],
                                                                field: str) -> None:
    """Found by schemathesis: ``to=0001-01-01`` overflowed the date arithmetic (a 500)."""
    r = api.client.get("/v1/reports/outcomes", params=params, headers=api.auth("admin"))
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["fields"][0]["field"] == field and err["fields"][0]["value"] == params[field]
    assert "2000-01-01" in err["message"] and "2999-12-31" in err["message"]
