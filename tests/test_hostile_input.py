"""The hostile and malformed input catalogue: each case a clear 4xx naming the field, and nothing written.

:data:`CATALOGUE` lists one case per row: the request (JSON body, or raw bytes with a declared
content type), the status and the field the error must name. After every case the row count of
every table is compared with the count before it: a refused request writes nothing (no half-created
enterprise, no served list, no event, no audit row).

SQL metacharacters go into every free-text field and query parameter too (:func:`test_sql_metacharacters_*`):
there they are legitimate text, so the right answer is to store and return them verbatim, and the
schema must be unchanged afterwards; in fields with a format (credit codes, codes, dates, amounts) they
are a 422 naming the field.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain.credit_code import make_credit_code

_serial = itertools.count(1)
INJECTIONS = ["' OR '1'='1", "'); DROP TABLE enterprises; --", "1; DELETE FROM api_keys", "\" OR \"\"=\"",
              "%' UNION SELECT key_hash FROM api_keys --", "$$; SELECT pg_sleep(5); $$", "\\'; --", "E'\\x00'"]


def code() -> str:
    return make_credit_code("9", "1", "500112", f"HX{next(_serial):07d}")


def ent(**kw: Any) -> dict[str, Any]:
    return {"credit_code": code(), "name": "恶意输入测试企业", **kw}


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("hostile"), max_body_bytes=65_536) as env:
        yield env


def counts(api: ApiEnv) -> dict[str, int]:
    """Rows per table of the service's database (but the rate-limit counters: a refused request still
    counts against its key's limit, that is what a limit is for)."""
    tables = [r[0] for r in api.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                    "AND tablename <> 'rate_limit_counters' ORDER BY 1")]
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
    return dict(api.sql(union))


# (case id, method, path, key, json body | (raw bytes, content type), query params, status, field named)
CATALOGUE: list[tuple[str, str, str, str, Any, dict[str, Any], int, str | None]] = [
    # wrong types and missing fields
    ("name is a number", "POST", "/v1/enterprises", "admin", lambda: ent(name=12345), {}, 422, "name"),
    ("financials is a string", "POST", "/v1/enterprises", "admin", lambda: ent(financials="很多"), {}, 422,
     "financials"),
    ("year is text", "POST", "/v1/enterprises", "admin", lambda: ent(financials=[{"year": "去年"}]), {}, 422,
     "financials.0.year"),
    ("body is a list", "POST", "/v1/enterprises", "admin", lambda: [ent()], {}, 422, "body"),
    ("body is a string", "POST", "/v1/needs", "admin", lambda: "DROP TABLE", {}, 422, "body"),
    ("no name", "POST", "/v1/enterprises", "admin", lambda: {"credit_code": code()}, {}, 422, "name"),
    ("no credit code", "POST", "/v1/enterprises", "admin", lambda: {"name": "无代码企业"}, {}, 422, "credit_code"),
    ("event without ids", "POST", "/v1/events", "admin", lambda: {"event_id": "h1", "event_type": "viewed"}, {},
     422, "investor_id"),
    ("investor without type", "POST", "/v1/investors", "admin", lambda: {"name": "某机构"}, {}, 422, "investor_type"),
    ("unknown field", "POST", "/v1/enterprises", "admin", lambda: ent(is_admin=True), {}, 422, "is_admin"),
    # huge strings and bodies
    ("name of 201 chars", "POST", "/v1/enterprises", "admin", lambda: ent(name="企" * 201), {}, 422, "name"),
    ("body over the limit", "POST", "/v1/enterprises", "admin", lambda: ent(description="长" * 40_000), {}, 413,
     None),
    ("q of 201 chars", "GET", "/v1/enterprises", "admin", None, {"q": "x" * 201}, 422, "q"),
    ("50 000 filter values", "GET", "/v1/enterprises", "admin", None, {"tier": ",".join(["gold"] * 5000)}, 422,
     "tier"),
    # bytes that are not what they claim
    ("invalid UTF-8", "POST", "/v1/enterprises", "admin",
     lambda: (b'{"credit_code": "' + code().encode() + b'", "name": "\xff\xfe\xfd"}', "application/json"), {}, 400,
     "body"),
    ("GBK declared as UTF-8", "POST", "/v1/enterprises", "admin",
     lambda: (json.dumps(ent(name="重庆两江科技"), ensure_ascii=False).encode("gbk"),
              "application/json; charset=utf-8"), {}, 400, "body"),
    ("truncated JSON", "POST", "/v1/events", "admin",
     lambda: (b'{"event_id": "h2", "event_type": ', "application/json"), {}, 422, "body"),
    ("JSON NaN", "POST", "/v1/needs", "admin",
     lambda: (b'{"enterprise_id": 1, "instrument": "equity", "amount": NaN}', "application/json"), {}, 422, "amount"),
    ("NUL in a name", "POST", "/v1/enterprises", "admin", lambda: ent(name="空\x00字符"), {}, 422, "name"),
    ("NUL in q", "GET", "/v1/enterprises", "admin", None, {"q": "a\x00b"}, 422, "q"),
    # amounts
    ("negative need amount", "POST", "/v1/needs", "ent", lambda: {"instrument": "equity", "amount": -1}, {}, 422,
     "amount"),
    ("overflowing need amount", "POST", "/v1/needs", "ent", lambda: {"instrument": "equity", "amount": 1e30}, {}, 422,
     "amount"),
    ("amount in words", "POST", "/v1/needs", "ent", lambda: {"instrument": "equity", "amount": "很多亿"}, {}, 422,
     "amount"),
    ("huge Chinese amount", "POST", "/v1/needs", "ent", lambda: {"instrument": "equity", "amount": "9" * 30 + "亿"},
     {}, 422, "amount"),
    ("negative asking price", "POST", "/v1/secondaries", "sfund",
     lambda: {"kind": "fund_interest", "seller_name": "某S基金", "fund_name": "x", "asking_price": -5}, {}, 422,
     "asking_price"),
    ("negative event amount", "POST", "/v1/events", "admin",
     lambda: {"event_id": "h3", "event_type": "invested", "investor_id": 1, "enterprise_id": 1, "amount": -100}, {},
     422, "amount"),
    ("amount_max below zero", "GET", "/v1/investors/{inv}/deals", "inv", None, {"amount_max": -1}, 422, "amount_max"),
    ("amount filter overflow", "GET", "/v1/investors/{inv}/deals", "inv", None, {"amount_min": "1e400"}, 422,
     "amount_min"),
    # ids and paging out of range
    ("id beyond bigint", "GET", "/v1/enterprises/99999999999999999999999", "admin", None, {}, 404, "enterprise_id"),
    ("negative id", "GET", "/v1/investors/-1", "admin", None, {}, 422, "investor_id"),
    ("investor id beyond bigint in a body", "POST", "/v1/events", "admin",
     lambda: {"event_id": "h4", "event_type": "viewed", "investor_id": 2**70, "enterprise_id": 1}, {}, 422,
     "investor_id"),
    ("event filter beyond bigint", "GET", "/v1/events", "admin", None, {"enterprise_id": 10**40}, 422,
     "enterprise_id"),
    ("need filter beyond bigint", "GET", "/v1/needs", "admin", None, {"enterprise_id": 2**63}, 422, "enterprise_id"),
    ("k of a million", "GET", "/v1/investors/{inv}/deals", "inv", None, {"k": 1_000_000}, 422, "k"),
    ("offset beyond the cap", "GET", "/v1/enterprises", "admin", None, {"offset": 10**12}, 422, "offset"),
    # credit codes
    ("bad check character", "POST", "/v1/enterprises", "admin", lambda: ent(credit_code="91500000MA5U123456"), {},
     422, "credit_code"),
    ("credit code with SQL", "POST", "/v1/enterprises", "admin", lambda: ent(credit_code="9150'; DROP TABLE x;--"),
     {}, 422, "credit_code"),
    ("credit code too short", "POST", "/v1/enterprises", "admin", lambda: ent(credit_code="915001"), {}, 422,
     "credit_code"),
    # dates
    ("event in the far future", "POST", "/v1/events", "admin",
     lambda: {"event_id": "h5", "event_type": "viewed", "investor_id": 1, "enterprise_id": 1,
              "occurred_at": "9999-12-31T23:59:59+08:00"}, {}, 422, "occurred_at"),
    ("event time without zone", "POST", "/v1/events", "admin",
     lambda: {"event_id": "h6", "event_type": "viewed", "investor_id": 1, "enterprise_id": 1,
              "occurred_at": "2024-01-01T00:00:00"}, {}, 422, "occurred_at"),
    ("financial year 3000", "POST", "/v1/enterprises", "admin", lambda: ent(financials=[{"year": 3000}]), {}, 422,
     "financials.0.year"),
    ("report from year 99999", "GET", "/v1/reports/outcomes", "admin", None, {"from": "99999-01-01"}, 422, "from"),
    ("report window reversed", "GET", "/v1/reports/outcomes", "admin", None, {"from": "2025-02-01", "to": "2025-01-01"},
     422, "from"),
    # duplicates
    ("duplicate credit code", "POST", "/v1/enterprises", "admin", lambda: ent(credit_code="{ent_code}"), {}, 409,
     "credit_code"),
    ("duplicate financial year", "POST", "/v1/enterprises", "admin",
     lambda: ent(financials=[{"year": 2023, "employees": 1}, {"year": 2023, "employees": 2}]), {}, 422, "financials"),
    # unknown enum values
    ("unknown tier", "POST", "/v1/enterprises", "admin", lambda: ent(tier="gold"), {}, 422, "tier"),
    ("unknown event type", "POST", "/v1/events", "admin",
     lambda: {"event_id": "h7", "event_type": "liked", "investor_id": 1, "enterprise_id": 1}, {}, 422, "event_type"),
    ("unknown instrument", "POST", "/v1/needs", "ent", lambda: {"instrument": "crypto", "amount": 1}, {}, 422,
     "instrument"),
    ("unknown side", "GET", "/v1/search", "admin", None, {"q": "芯片", "side": "moon"}, 422, "side"),
    ("unknown board filter", "GET", "/v1/investors/{inv}/deals", "inv", None, {"board": "nasdaq"}, 422, "board"),
    ("unknown group_by", "GET", "/v1/reports/outcomes", "admin", None, {"group_by": "colour"}, 422, "group_by"),
    ("unknown import entity", "POST", "/v1/imports/users", "admin",
     lambda: ("files", {"file": ("x.csv", b"a,b\r\n1,2\r\n", "text/csv")}), {}, 422, "entity"),
    ("district outside Chongqing", "POST", "/v1/enterprises", "admin", lambda: ent(district="成都市"), {}, 422,
     "district"),
    # injection in formatted query parameters
    ("SQL in a tier filter", "GET", "/v1/enterprises", "admin", None, {"tier": "basic' OR '1'='1"}, 422, "tier"),
    ("SQL in a district filter", "GET", "/v1/investors/{inv}/deals", "inv", None, {"district": "1; DROP TABLE x"},
     422, "district"),
    ("SQL in an id", "GET", "/v1/needs/1 OR 1=1", "admin", None, {}, 422, "need_id"),
    ("SQL in a list id", "GET", "/v1/events", "admin", None, {"list_id": "' OR 1=1 --"}, 422, "list_id"),
    ("SQL in an event id", "POST", "/v1/events", "admin",
     lambda: {"event_id": "x'; DELETE FROM funnel_events; --", "event_type": "viewed", "investor_id": 1,
              "enterprise_id": 1}, {}, 422, "event_id"),
]


@pytest.mark.parametrize(("case", "method", "path", "key", "body", "params", "status", "field"), CATALOGUE,
                         ids=[c[0] for c in CATALOGUE])
def test_hostile_input_is_a_clear_4xx_and_writes_nothing(api: ApiEnv, case: str, method: str, path: str, key: str,
                                                         body: Any, params: dict[str, Any], status: int,
                                                         field: str | None) -> None:
    if "ent_code" not in api.extra:
        api.extra["ent_code"] = api.sql("SELECT min(credit_code) FROM enterprises")[0][0]
    before = counts(api)
    payload = body() if body else None
    kw: dict[str, Any] = {"params": params, "headers": api.auth(key)}
    if isinstance(payload, tuple) and payload[0] == "files":
        kw["files"] = payload[1]
    elif isinstance(payload, tuple):
        kw["content"], kw["headers"] = payload[0], {**kw["headers"], "Content-Type": payload[1]}
    elif payload is not None:
        if isinstance(payload, dict) and payload.get("credit_code") == "{ent_code}":
            payload["credit_code"] = api.extra["ent_code"]
        kw["json"] = payload
    r = api.client.request(method, path.format(**api.ids), **kw)
    assert r.status_code == status, r.text[:500]
    err = error_of(r)
    if field is not None:
        named = [f["field"] for f in err["fields"]]
        assert field in named, (named, err["message"])
        assert field.split(".")[0] in err["message"] or status not in (400, 422), err["message"]
    assert counts(api) == before


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_metacharacters_in_free_text_are_stored_verbatim(api: ApiEnv, text: str) -> None:
    tables = counts(api)
    made = api.post("/v1/enterprises", "admin", ent(name=f"注入{text}", description=text, city=text[:100],
                                                    short_name=text[:60], excluded_investors=[text]))
    assert made.status_code == 201, made.text
    back = api.get(f"/v1/enterprises/{made.json()['id']}", "admin").json()
    assert (back["name"], back["description"], back["excluded_investors"]) == (f"注入{text}", text, [text])
    assert counts(api).keys() == tables.keys()  # no table dropped
    found = api.get("/v1/enterprises", "admin", q=text).json()
    assert made.json()["id"] in [e["id"] for e in found["items"]]
    assert found["total"] < tables["enterprises"]  # the text matched literally, not "OR 1=1"


@pytest.mark.parametrize("param", ["q", "district", "tier", "board", "industry", "status"])
def test_sql_metacharacters_in_every_query_parameter_are_4xx_or_literal(api: ApiEnv, param: str) -> None:
    before = counts(api)
    for text in INJECTIONS:
        r = api.get("/v1/enterprises", "admin", **{param: text})
        if param == "q":
            assert r.status_code == 200 and r.json()["total"] < before["enterprises"], r.text[:300]
            before["audit_log"] = counts(api)["audit_log"]  # staff reads are audited: that row is expected
        else:
            assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == param, r.text[:300]
    for path in ("/v1/investors/{inv}/deals", "/v1/search"):
        r = api.get(path.format(**api.ids), "admin", q="芯片", side="enterprise", district=INJECTIONS[1])
        assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == "district"
    assert counts(api) == before
