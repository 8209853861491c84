"""Text PostgreSQL cannot store is refused at the edge (finding 4 of issue 14): a NUL (U+0000) or an unpaired
surrogate (U+D800–U+DFFF) anywhere in a path, a query string, a JSON or form body, or an uploaded file is a 422
naming the field, the value and what is allowed, never a 500, never a poisoned impression log."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain.credit_code import make_credit_code

_serial = itertools.count(1)


def code() -> str:
    return make_credit_code("9", "1", "500112", f"TH{next(_serial):07d}")


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    # lists are written behind the response, as in production: a refused list must never reach the writer
    with api_service(pg_admin_url, tmp_path_factory.mktemp("hygiene"), impression_flush_ms=20) as env:
        yield env


def raw_json(value: Any) -> tuple[bytes, str]:
    """JSON as bytes with every non-ASCII character escaped (so a lone surrogate can be sent at all)."""
    return json.dumps(value, ensure_ascii=True).encode(), "application/json"


def event(api: ApiEnv, event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": "viewed", "investor_id": api.ids["inv"],
            "enterprise_id": api.ids["ent"]}


# (case, method, path, key, body: json | (bytes, content type) | None, query, the field named, the value shown)
CASES: list[tuple[str, str, str, str, Any, dict[str, str], str, str]] = [
    ("NUL in a search query", "GET", "/v1/search", "inv", None, {"q": "芯\x00", "side": "enterprise"}, "q",
     "芯\\u0000"),
    ("NUL in a filter", "GET", "/v1/investors/{inv}/deals", "inv", None, {"tier": "growth\x00"}, "tier",
     "growth\\u0000"),
    ("NUL in a listing query", "GET", "/v1/enterprises", "admin", None, {"q": "a\x00b"}, "q", "a\\u0000b"),
    ("NUL in a path", "GET", "/v1/models/v1%00x", "ds", None, {}, "path", "/v1/models/v1\\u0000x"),
    ("NUL in an event id", "POST", "/v1/events", "inv", lambda a: event(a, "ev\x00"), {}, "event_id", "ev\\u0000"),
    ("a lone surrogate in a batch", "POST", "/v1/events/batch", "inv",
     lambda a: raw_json({"events": [event(a, "fine-1"), event(a, "bad-\ud800")]}), {}, "events.1.event_id",
     "bad-\\ud800"),
    ("a lone surrogate in a description", "POST", "/v1/enterprises", "admin",
     lambda a: raw_json({"credit_code": code(), "name": "代理字符测试", "description": "x\udfff"}), {}, "description",
     "x\\udfff"),
    ("NUL in a nested list", "PATCH", "/v1/investors/{inv}", "admin",
     lambda a: {"sectors": ["先进材料", "生物\x00医药"]}, {}, "sectors.1", "生物\\u0000医药"),
    ("NUL in a key of an object", "PATCH", "/v1/investors/{inv}", "admin", lambda a: {"desc\x00": "x"}, {},
     "desc\\u0000", "desc\\u0000"),
    ("NUL in a form field", "POST", "/web/signin", "none",
     lambda a: (b"api_key=cck_%00&csrf=x", "application/x-www-form-urlencoded"), {}, "api_key", "cck_\\u0000"),
]


@pytest.mark.parametrize(("case", "method", "path", "key", "body", "params", "field", "shown"), CASES,
                         ids=[c[0] for c in CASES])
def test_refused_text_is_a_422_naming_the_field(api: ApiEnv, case: str, method: str, path: str, key: str, body: Any,
                                                params: dict[str, str], field: str, shown: str) -> None:
    before = _rows(api)
    payload = body(api) if body else None
    kw: dict[str, Any] = {"params": params, "headers": api.auth(None if key == "none" else key)}
    if isinstance(payload, tuple):
        kw["content"], kw["headers"] = payload[0], {**kw["headers"], "Content-Type": payload[1]}
    elif payload is not None:
        kw["json"] = payload
    r = api.client.request(method, path.format(**api.ids), **kw)
    assert r.status_code == 422, r.text[:500]
    err = error_of(r)
    assert err["code"] == "validation_error" and field in err["message"], err["message"]
    assert err["fields"] == [{"field": field, "value": shown, "reason": err["fields"][0]["reason"],
                              "allowed": ["text without U+0000 (NUL) or unpaired surrogates (U+D800-U+DFFF)"]}]
    assert "cannot be stored" in err["fields"][0]["reason"] and "position" in err["fields"][0]["reason"]
    api.state.impressions.flush(5)
    assert _rows(api) == before  # nothing written: no list, no event, no record


def _rows(api: ApiEnv) -> tuple[int, ...]:
    return api.sql("SELECT (SELECT count(*) FROM served_lists), (SELECT count(*) FROM funnel_events), "
                   "(SELECT count(*) FROM enterprises), (SELECT count(*) FROM impression_dead_letters)")[0]


@pytest.mark.parametrize("text", ["C:\\u0000", "\\\\u0000", "emoji \U0001F4B0 pair", "\u00e9\u4e2d"])
def test_lookalikes_and_surrogate_pairs_are_ordinary_text(api: ApiEnv, text: str) -> None:
    made = api.client.post("/v1/enterprises", headers={**api.auth("admin"), "Content-Type": "application/json"},
                           content=raw_json({"credit_code": code(), "name": "正常文本测试", "description": text})[0])
    assert made.status_code == 201, made.text
    assert api.get(f"/v1/enterprises/{made.json()['id']}", "admin").json()["description"] == text


def test_a_refused_search_never_reaches_the_impression_log(api: ApiEnv) -> None:
    bad = api.get("/v1/search", "inv", q="芯\x00", side="enterprise")
    assert bad.status_code == 422
    good = api.get("/v1/search", "inv", q="芯片", side="enterprise")
    assert good.status_code == 200
    assert api.state.impressions.flush(5)
    assert api.sql("SELECT count(*) FROM served_lists WHERE id = %s", (good.json()["list_id"],)) == [(1,)]


@pytest.mark.parametrize("cell", ["空\x00字符", "代理\ud800"])
def test_an_uploaded_file_with_refused_text_names_the_row_and_field(api: ApiEnv, cell: str) -> None:
    header = "统一社会信用代码,企业名称,所属区县,所属行业,层级\r\n"
    good = f"{code()},上传正常公司,渝中区,软件信息服务,基础层\r\n"
    bad = f"{code()},{cell},渝中区,软件信息服务,基础层\r\n"
    data = (header + good + bad).encode("utf-8", "surrogatepass")
    r = api.client.post("/v1/imports/enterprises", headers=api.auth("admin"),
                        files={"file": ("名单.csv", data, "text/csv")})
    assert r.status_code == 422, r.text[:500]
    err = error_of(r)
    assert any(f.get("row") == 3 for f in err["fields"]), err
