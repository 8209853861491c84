"""The authorization matrix: every route × every role (own and another party's entity) → the status.

One table, :data:`MATRIX`, read row by row: a route, the body it is sent with, and the status each
caller gets. Callers: ``admin``, ``operator``, ``ds`` (data scientist), ``inv`` (the investor whose
``{inv}`` the path names), ``inv2`` (another investor), ``ent`` / ``ent2`` (the enterprise named,
another one), ``sfund`` where an S fund owns the entity, ``none`` (no key) and ``revoked`` (a revoked key
of ``inv``). A write by a role that may write is expected to succeed (or, where a real success would
start heavy work, to reach the body's validation: 422 means "past the authorization gate").

The matrix covers every route the app answers, read from ``app.routes`` (not from ``/openapi.json``, which
leaves out the console's pages, ``/docs``, ``/redoc`` and the static files): a route missing from
:data:`MATRIX` fails :func:`test_the_matrix_covers_every_route_and_every_role`. Console pages (``/web``) are
called as a browser calls them: signed in through the sign-in form, forms with the CSRF token the pages
render; no session (or a revoked key's) is :data:`SIGNIN` (a 303 to the sign-in page).

There are no key-management routes in the API: keys are created, listed and revoked only with the
``capconnect keys`` command on the server (tested in ``test_api_access.py``), so no HTTP caller can
manage keys at all.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service, error_of
from starlette.routing import Mount

from api.ratelimit import TokenBucketLimiter
from matching.domain.credit_code import make_credit_code

_serial = itertools.count(1)
ROLES = ("admin", "operator", "ds", "inv", "inv2", "ent", "ent2", "none", "revoked")
CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "validation_error"}


def E(admin: int, operator: int, ds: int, inv: int, inv2: int, ent: int, ent2: int, *, none: int = 401,
      revoked: int = 401, **extra: int) -> dict[str, int]:
    """One row's expectations: a status for every caller (keyless and revoked default to 401)."""
    return {"admin": admin, "operator": operator, "ds": ds, "inv": inv, "inv2": inv2, "ent": ent, "ent2": ent2,
            "none": none, "revoked": revoked, **extra}


ALL_200 = E(200, 200, 200, 200, 200, 200, 200)
PUBLIC = E(200, 200, 200, 200, 200, 200, 200, none=200, revoked=200)
SCIENTIST = E(200, 403, 200, 403, 403, 403, 403)
#: A console page's answer to no session or a revoked one: 303 to the sign-in page.
SIGNIN = 3030


def W(admin: int, operator: int, ds: int, inv: int, inv2: int, ent: int, ent2: int, **extra: int) -> dict[str, int]:
    """A console row: like :func:`E`, but keyless and revoked callers are sent to sign in."""
    return E(admin, operator, ds, inv, inv2, ent, ent2, **{"none": SIGNIN, "revoked": SIGNIN, **extra})


STAFF_PAGE = W(200, 200, 403, 403, 403, 403, 403)
SCIENTIST_PAGE = W(200, 403, 200, 403, 403, 403, 403)
UPLOAD = ("files", {"file": ("矩阵.csv", "统一社会信用代码,企业名称\r\n".encode(), "text/csv")})

Body = Callable[[dict[str, Any]], Any] | None


def event(ids: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"event_id": f"mx-{uuid.uuid4().hex}", "event_type": "viewed", "investor_id": ids["inv"],
            "enterprise_id": ids["ent"], **kw}


# (method, path, body factory, expectations); placeholders: {inv} {inv2} {ent} {ent2} {sfund} {need} {sec} {list}
MATRIX: list[tuple[str, str, Body, dict[str, int]]] = [
    ("GET", "/healthz", None, PUBLIC),
    ("GET", "/readyz", None, PUBLIC),
    ("GET", "/metrics", None, E(200, 200, 403, 403, 403, 403, 403)),  # staff keys (or metrics_public)
    # matching: own lists only
    ("GET", "/v1/investors/{inv}/deals", None, E(200, 200, 403, 200, 403, 403, 403)),
    ("GET", "/v1/enterprises/{ent}/investors", None, E(200, 200, 403, 403, 403, 200, 403)),
    ("GET", "/v1/investors/{sfund}/secondaries", None, E(200, 200, 403, 403, 403, 403, 403, sfund=200)),
    ("GET", "/v1/search?q=生物医药&side=enterprise", None, E(200, 200, 403, 200, 200, 403, 403)),
    ("GET", "/v1/search?q=生物医药&side=investor", None, E(200, 200, 403, 403, 403, 200, 200)),
    # feedback: own side only; another investor's events and lists
    ("POST", "/v1/events", event, E(201, 201, 403, 201, 403, 201, 403)),
    ("POST", "/v1/events", lambda ids: event(ids, investor_id=ids["inv2"], enterprise_id=ids["list_ent"],
                                               list_id=ids["list"]),  # inv's list, reported for inv2
     E(422, 422, 403, 403, 403, 403, 403)),
    ("POST", "/v1/events/batch", lambda ids: {"events": [event(ids)]}, E(201, 201, 403, 201, 403, 201, 403)),
    ("GET", "/v1/events", None, ALL_200),
    ("GET", "/v1/events?investor_id={inv2}", None, E(200, 200, 200, 403, 200, 200, 200)),
    ("GET", "/v1/events?enterprise_id={ent2}", None, E(200, 200, 200, 200, 200, 403, 200)),
    # models: data scientists and admins; promotion by anyone else is refused before the version is looked up
    ("GET", "/v1/models", None, SCIENTIST),
    ("GET", "/v1/models/no-such-version", None, E(404, 403, 404, 403, 403, 403, 403)),
    ("GET", "/v1/models/jobs/no-such-job", None, E(404, 403, 404, 403, 403, 403, 403)),
    ("POST", "/v1/models/no-such-version/promote", lambda ids: {"force": True}, E(404, 403, 404, 403, 403, 403, 403)),
    ("POST", "/v1/models/rollback", lambda ids: {}, E(409, 403, 409, 403, 403, 403, 403)),
    ("POST", "/v1/models/retrain", lambda ids: {"seed": "not-a-number"}, E(422, 403, 422, 403, 403, 403, 403)),
    # enterprises: staff write, the enterprise updates itself, everyone reads (disclosure applies)
    ("POST", "/v1/enterprises", lambda ids: {"credit_code": make_credit_code("9", "1", "500112",
                                                                             f"MX{next(_serial):07d}"),
                                             "name": "矩阵测试企业"}, E(201, 201, 403, 403, 403, 403, 403)),
    ("GET", "/v1/enterprises", None, ALL_200),
    ("GET", "/v1/enterprises/{ent}", None, ALL_200),
    ("PATCH", "/v1/enterprises/{ent}", lambda ids: {"city": "重庆"}, E(200, 200, 403, 403, 403, 200, 403)),
    # credential claims: staff and the enterprise itself read them; only staff decide (no such claim: 404)
    ("GET", "/v1/enterprises/{ent}/claims", None, E(200, 200, 403, 403, 403, 200, 403)),
    ("POST", "/v1/enterprises/{ent}/claims/999999999/decision", lambda ids: {"decision": "verified"},
     E(404, 404, 403, 403, 403, 403, 403)),
    # investors: staff write, the investor updates itself, investors never read each other
    ("POST", "/v1/investors", lambda ids: {"name": "矩阵测试机构", "investor_type": "vc"},
     E(201, 201, 403, 403, 403, 403, 403)),
    ("GET", "/v1/investors", None, E(200, 200, 200, 403, 403, 200, 200)),
    ("GET", "/v1/investors/{inv}", None, E(200, 200, 200, 200, 403, 200, 200)),
    ("PATCH", "/v1/investors/{inv}", lambda ids: {"description": "矩阵测试"}, E(200, 200, 403, 200, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/mandates", None, E(200, 200, 200, 200, 403, 403, 403)),
    ("PUT", "/v1/investors/{inv}/mandate", lambda ids: {"sectors": ["先进材料"], "ticket_min": 5e6, "ticket_max": 5e7},
     E(201, 201, 403, 201, 403, 403, 403)),
    ("PATCH", "/v1/investors/{inv}/mandate", lambda ids: {"thesis": "矩阵"}, E(201, 201, 403, 201, 403, 403, 403)),
    # needs: the enterprise's own; secondaries: the selling investor's own, no enterprise keys
    ("POST", "/v1/needs", lambda ids: {"enterprise_id": ids["ent"], "instrument": "equity", "amount": 1_000_000},
     E(201, 201, 403, 403, 403, 201, 403)),
    ("GET", "/v1/needs", None, ALL_200),
    ("GET", "/v1/needs/{need}", None, E(200, 200, 200, 200, 200, 200, 403)),
    ("PATCH", "/v1/needs/{need}", lambda ids: {"use_of_funds": "扩产"}, E(200, 200, 403, 403, 403, 200, 403)),
    ("POST", "/v1/secondaries", lambda ids: {"kind": "fund_interest", "seller_name": "某S基金", "fund_name": "矩阵基金",
                                             "asking_price": 1_000_000, "seller_investor_id": ids["sfund"]},
     E(201, 201, 403, 403, 403, 403, 403, sfund=201)),
    ("GET", "/v1/secondaries", None, E(200, 200, 200, 200, 200, 403, 403)),
    ("GET", "/v1/secondaries/{sec}", None, E(200, 200, 200, 403, 403, 403, 403, sfund=200)),  # S funds, seller
    ("PATCH", "/v1/secondaries/{sec}", lambda ids: {"status": "open"}, E(200, 200, 403, 403, 403, 403, 403, sfund=200)),
    # bulk imports and reports: staff only (an import without a file reaches validation)
    ("POST", "/v1/imports/enterprises", None, E(422, 422, 403, 403, 403, 403, 403)),
    ("GET", "/v1/reports/outcomes", None, E(200, 200, 403, 403, 403, 403, 403)),
    # listing readiness: the enterprise itself and internal roles; investors only where every figure is disclosed
    ("GET", "/v1/enterprises/{ent}/readiness", None, E(200, 200, 200, 403, 403, 200, 403)),
    ("GET", "/v1/reports/readiness", None, E(200, 200, 403, 403, 403, 403, 403)),
    ("GET", "/v1/standards", None, E(200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/v1/imports/standards", None, E(422, 422, 403, 403, 403, 403, 403)),
    ("GET", "/v1/exports/profiles", None, E(200, 200, 403, 403, 403, 403, 403)),  # 企业画像 for government platforms
    # support programmes: an enterprise's own (and staff); the overview and the import for staff only
    ("GET", "/v1/enterprises/{ent}/programmes", None, E(200, 200, 403, 403, 403, 200, 403)),
    ("GET", "/v1/programmes", None, E(200, 200, 403, 403, 403, 403, 403)),
    ("POST", "/v1/imports/programmes", None, E(422, 422, 403, 403, 403, 403, 403)),
    # more like this: any enterprise for staff, data scientists and investors (hard rules filter the list), an
    # enterprise its own; an investor's similar investors for staff, data scientists and enterprises (never investors)
    ("GET", "/v1/enterprises/{ent}/similar", None, E(200, 200, 200, 200, 200, 200, 403)),
    ("GET", "/v1/investors/{inv}/similar", None, E(200, 200, 200, 403, 403, 200, 200)),
    # syndicates (issue 17): staff, data scientists, investors (as their own lead), the need's enterprise; {need} is
    # created after the market snapshot, so every caller past the gate gets the 404 "not in the snapshot yet"
    ("GET", "/v1/needs/{need}/syndicates", None, E(404, 404, 404, 404, 404, 404, 403)),
    # alerts (issue 17): an investor its own; staff and data scientists read, staff change; enterprises nothing
    ("GET", "/v1/investors/{inv}/alerts", None, E(200, 200, 200, 200, 403, 403, 403)),
    ("POST", "/v1/investors/{inv}/alerts/read", lambda ids: {"all": True}, E(200, 200, 403, 200, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/alert-settings", None, E(200, 200, 200, 200, 403, 403, 403)),
    ("PUT", "/v1/investors/{inv}/alert-settings", lambda ids: {"top_n": 10}, E(200, 200, 403, 200, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/saved-searches", None, E(200, 200, 200, 200, 403, 403, 403)),
    ("POST", "/v1/investors/{inv}/saved-searches", lambda ids: {"name": "矩阵检索"},
     E(201, 201, 403, 201, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/saved-searches/999999999", None, E(404, 404, 404, 404, 403, 403, 403)),
    ("PATCH", "/v1/investors/{inv}/saved-searches/999999999", lambda ids: {"top_n": 3},
     E(404, 404, 403, 404, 403, 403, 403)),
    ("DELETE", "/v1/investors/{inv}/saved-searches/999999999", None, E(404, 404, 403, 404, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/webhook", None, E(404, 404, 404, 404, 403, 403, 403)),  # none registered
    ("PUT", "/v1/investors/{inv}/webhook", lambda ids: {"url": "ftp://example.com/hook"},  # refused past the gate
     E(422, 422, 403, 422, 403, 403, 403)),
    ("DELETE", "/v1/investors/{inv}/webhook", None, E(404, 404, 403, 404, 403, 403, 403)),
    ("GET", "/v1/investors/{inv}/webhook/deliveries", None, E(200, 200, 200, 200, 403, 403, 403)),
    # documentation and the console's static files: public
    ("GET", "/openapi.json", None, PUBLIC),
    ("GET", "/docs", None, PUBLIC),
    ("GET", "/docs/oauth2-redirect", None, PUBLIC),
    ("GET", "/redoc", None, PUBLIC),
    ("GET", "/web/static/app.css", None, PUBLIC),
    ("GET", "/", None, PUBLIC),  # a 307 to the console, followed here to its sign-in page (test_newcomer.py)
    # the console: the same roles as the API routes each page uses; 303 = done, off to the next page
    ("GET", "/web", None, W(303, 303, 303, 303, 303, 303, 303)),  # each role's home page
    ("GET", "/web/", None, W(303, 303, 303, 303, 303, 303, 303)),
    ("GET", "/web/signin", None, PUBLIC),
    ("POST", "/web/signin", lambda ids: {"api_key": ids["key"]}, E(303, 303, 303, 303, 303, 303, 303)),
    ("POST", "/web/signout", lambda ids: {}, W(*[SIGNIN] * 7)),
    ("GET", "/web/investor", None, W(200, 200, 403, 200, 200, 403, 403)),
    ("POST", "/web/investor/events", lambda ids: {"event_id": f"mx-{uuid.uuid4().hex}", "event_type": "saved",
                                                  "investor_id": ids["inv"], "enterprise_id": ids["list_ent"],
                                                  "list_id": ids["list"]},
     W(303, 303, 403, 303, 403, 403, 403)),  # inv's list: inv and staff only
    ("GET", "/web/enterprises/{ent}", None, W(200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/web/enterprise", None, W(200, 200, 403, 403, 403, 200, 200)),
    ("POST", "/web/enterprise/contacts", lambda ids: {"investor_id": ids["inv"], "enterprise_id": ids["ent"],
                                                      "decision": "decline"}, W(303, 303, 403, 403, 403, 303, 403)),
    ("POST", "/web/enterprise/needs", lambda ids: {"instrument": "equity", "amount": "100",
                                                   "enterprise_id": ids["ent"]}, W(303, 303, 403, 403, 403, 303, 403)),
    ("GET", "/web/needs/{need}/syndicates", None, W(404, 404, 404, 404, 404, 404, 403)),  # the same service
    # 提醒: an investor its own alerts (the parameter is not the key's), staff any investor's read-only
    ("GET", "/web/alerts?investor_id={inv}", None, W(200, 200, 403, 200, 200, 403, 403)),
    ("POST", "/web/alerts/read", lambda ids: {"all": "1"}, W(403, 403, 403, 303, 303, 403, 403)),
    ("POST", "/web/alerts/settings", lambda ids: {"top_n": "0"}, W(403, 403, 403, 422, 422, 403, 403)),
    ("POST", "/web/alerts/searches", lambda ids: {"name": ""}, W(403, 403, 403, 422, 422, 403, 403)),
    ("POST", "/web/alerts/searches/999999999/delete", lambda ids: {}, W(403, 403, 403, 404, 404, 403, 403)),
    ("POST", "/web/alerts/webhook", lambda ids: {"url": "x"}, W(403, 403, 403, 422, 422, 403, 403)),
    ("POST", "/web/alerts/webhook/delete", lambda ids: {}, W(403, 403, 403, 404, 404, 403, 403)),
    ("GET", "/web/operator", None, STAFF_PAGE),
    ("POST", "/web/operator/import", lambda ids: (*UPLOAD, {"entity": "enterprises"}), STAFF_PAGE),
    ("GET", "/web/operator/report.csv", None, STAFF_PAGE),
    ("GET", "/web/exports/profiles", None, STAFF_PAGE),
    ("GET", "/web/programmes", None, STAFF_PAGE),
    ("GET", "/web/readiness", None, STAFF_PAGE),
    ("GET", "/web/models", None, SCIENTIST_PAGE),
    ("GET", "/web/models/no-such-version/files/plot.png", None, W(404, 403, 404, 403, 403, 403, 403)),
    ("POST", "/web/models/no-such-version/promote", lambda ids: {"force": "true"},
     W(404, 403, 404, 403, 403, 403, 403)),
    ("POST", "/web/models/rollback", lambda ids: {}, W(409, 403, 409, 403, 403, 403, 403)),
    ("POST", "/web/models/retrain", lambda ids: {"promote": "maybe"}, W(422, 403, 422, 403, 403, 403, 403)),
]

CASES = [(m, p, body, role, exp[role]) for m, p, body, exp in MATRIX for role in exp]


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("authz")) as env:
        ids = env.ids
        need = env.post("/v1/needs", "ent", {"instrument": "equity", "amount": 5_000_000})
        sec = env.post("/v1/secondaries", "sfund", {"kind": "fund_interest", "seller_name": "某S基金",
                                                    "fund_name": "矩阵基金一期", "asking_price": 3e7})
        deals = env.get(f"/v1/investors/{ids['inv']}/deals", "inv", k=5)
        assert need.status_code == 201 and sec.status_code == 201 and deals.status_code == 200, (need.text, sec.text)
        ids["need"], ids["sec"] = need.json()["id"], sec.json()["id"]
        ids["list"], ids["list_ent"] = deals.json()["list_id"], deals.json()["items"][0]["enterprise"]["id"]
        yield env


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every ``(method, path template)`` the app answers, from ``app.routes``: API routes, console pages, the
    documentation and mounted static files (``/web/static/{path:path}``); ``HEAD`` goes with ``GET``."""

    def walk(routes: Any) -> Iterator[Any]:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI 0.16x)
                yield from route.effective_route_contexts()
            else:
                yield route

    found: set[tuple[str, str]] = set()
    for route in walk(app.routes):
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{path:path}"))
        else:
            found |= {(m, route.path) for m in (route.methods or ()) if m != "HEAD"}
    return found


def uncovered(app: Any, matrix: list[tuple[str, str, Body, dict[str, int]]]) -> set[tuple[str, str]]:
    """The app's routes no row of ``matrix`` calls."""
    routes = app_routes(app)
    templates = {p for _, p in routes}
    return routes - {(m, _template(p, templates)) for m, p, _, _ in matrix}


def test_the_matrix_covers_every_route_and_every_role(api: ApiEnv) -> None:
    routes = app_routes(api.client.app)
    assert {("GET", "/docs"), ("GET", "/redoc"), ("GET", "/web/static/{path:path}"), ("GET", "/web/models"),
            ("POST", "/web/operator/import")} <= routes  # not only what OpenAPI documents
    assert uncovered(api.client.app, MATRIX) == set(), "add these routes to MATRIX"
    templates = {p for _, p in routes}
    assert {(m, _template(p, templates)) for m, p, _, _ in MATRIX} <= routes, "these MATRIX rows match no route"
    assert all(set(ROLES) <= set(exp) for *_, exp in MATRIX)


def test_a_route_missing_from_the_matrix_is_named(api: ApiEnv) -> None:
    without = [row for row in MATRIX if row[1] not in ("/web/models/rollback", "/web/static/app.css")]
    assert uncovered(api.client.app, without) == {("POST", "/web/models/rollback"), ("GET", "/web/static/{path:path}")}


def _template(path: str, templates: set[str]) -> str:
    """The route template a matrix path belongs to (a literal template wins over one with parameters)."""
    bare = path.split("?")[0]
    if bare in templates:
        return bare
    for template in sorted(templates, key=lambda t: t.count("{")):
        pattern = re.sub(r"\\\{[^}]*:path\\\}", ".+", re.escape(template))
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern), bare):
            return template
    return bare


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), CASES,
                         ids=[f"{m} {p} as {r} -> {s}" for m, p, _, r, s in CASES])
def test_route_by_role(api: ApiEnv, method: str, path: str, body: Body, role: str, status: int) -> None:
    url = path.format(**api.ids)
    payload = body({**api.ids, "key": api.keys.get(role, "")}) if body else None
    if url.startswith("/web"):
        r = _console(api, method, url, payload, role)
        if status == SIGNIN:
            assert r.status_code == 303 and r.headers["location"].startswith("/web/signin"), r.text[:300]
        else:
            assert r.status_code == status, r.text[:300]
            if status == 303:
                assert not r.headers["location"].startswith("/web/signin"), r.headers["location"]
        return
    r = api.client.request(method, url, json=payload, headers=api.auth(None if role == "none" else role))
    assert r.status_code == status, r.text
    if status >= 400:
        assert error_of(r)["code"] == CODES[status]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def _console(api: ApiEnv, method: str, url: str, payload: Any, role: str) -> httpx.Response:
    """A console request as a browser sends it: signed in through the form with the key of ``role`` (none:
    not signed in; revoked: refused), forms carrying the CSRF token the pages render."""
    client = TestClient(api.client.app, follow_redirects=False)
    csrf = _csrf(client.get("/web/signin").text)
    if role != "none":
        client.post("/web/signin", data={"api_key": api.keys[role], "csrf": csrf})
        if role != "revoked":
            csrf = _csrf(client.get(f"/web/enterprises/{api.ids['ent']}").text)  # the session's token
    if method == "GET":
        return client.get(url)
    files, form = (payload[1], payload[2]) if isinstance(payload, tuple) else (None, payload or {})
    return client.request(method, url, data={**form, "csrf": csrf}, files=files)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


# -- undisclosed financials, before and after the mutual reveal ------------------------------------------
DISCLOSURE = [  # (caller, sees financials before the enterprise accepts inv's contact, after)
    ("admin", True, True), ("operator", True, True), ("ds", True, True),
    ("inv", False, True),  # the investor whose contact the enterprise accepted
    ("inv2", False, False),  # another investor: the reveal is for one investor only
    ("ent2", False, False),  # another enterprise: public profile only
    ("basic_own", True, True),  # the enterprise itself
]


def test_undisclosed_financials_follow_the_mutual_reveal(api: ApiEnv) -> None:
    ent = api.post("/v1/enterprises", "admin", {
        "credit_code": make_credit_code("9", "1", "500112", f"MX{next(_serial):07d}"), "name": "矩阵披露测试企业",
        "tier": "basic", "registered_capital": "5000万",
        "financials": [{"year": 2024, "revenue": "1.2亿", "net_profit": "300万", "employees": 80}]}).json()
    from store import keys as keys_db

    with api.db.connect(autocommit=True) as conn:
        api.keys["basic_own"] = keys_db.create_key(conn, role="enterprise", enterprise_id=ent["id"]).secret

    def sees(role: str) -> bool:
        body = api.get(f"/v1/enterprises/{ent['id']}", role).json()
        listed = api.get("/v1/enterprises", role, q="矩阵披露测试企业").json()["items"]
        assert listed[0]["financials"] == body["financials"]  # the list shows no more than the record
        return body["financials"] is not None and body["financials"][0]["revenue"] == 1.2e8

    assert {r: sees(r) for r, _, _ in DISCLOSURE} == {r: before for r, before, _ in DISCLOSURE}
    accept = api.post("/v1/events", "basic_own", {"event_id": "mx-accept", "event_type": "contact_accepted",
                                                  "investor_id": api.ids["inv"], "enterprise_id": ent["id"]})
    assert accept.status_code == 201, accept.text
    assert {r: sees(r) for r, _, _ in DISCLOSURE} == {r: after for r, _, after in DISCLOSURE}


def test_another_investors_list_and_events_stay_hidden(api: ApiEnv) -> None:
    api.post("/v1/events", "inv", event(api.ids, enterprise_id=api.ids["list_ent"], list_id=api.ids["list"]))
    mine = api.get("/v1/events", "inv", list_id=api.ids["list"]).json()["items"]
    theirs = api.get("/v1/events", "inv2", list_id=api.ids["list"]).json()["items"]
    assert mine and theirs == []
    assert all(e["investor_id"] == api.ids["inv2"] for e in api.get("/v1/events", "inv2", limit=200).json()["items"])


# -- rate limits, per key, for every role ------------------------------------------------------------------
@pytest.mark.parametrize(("role", "path"), [("admin", "/v1/models"), ("operator", "/v1/enterprises"),
                                            ("ds", "/v1/models"), ("inv", "/v1/investors/{inv}"),
                                            ("ent", "/v1/enterprises/{ent}")])
def test_rate_limit_is_per_key_for_every_role(api: ApiEnv, role: str, path: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.state, "limiter", TokenBucketLimiter(rate=0.01, burst=3))
    url = path.format(**api.ids)
    statuses = [api.get(url, role).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = api.get(url, role)
    assert error_of(limited)["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    other = "inv2" if role != "inv2" else "inv"
    assert api.get("/v1/enterprises", other).status_code == 200  # another key's bucket is untouched


# -- the console holds the API's checks on what the path and the form name ---------------------------------
BIG = "99999999999999999999999"
CONSOLE_PROBES = [  # (role, method, url, form): never a 500, never another party's data
    ("admin", "GET", f"/web/enterprises/{BIG}", None),
    ("admin", "GET", "/web/enterprises/0", None),
    ("admin", "GET", "/web/enterprises/-1", None),
    ("operator", "GET", f"/web/investor?investor_id={BIG}", None),
    ("operator", "GET", f"/web/enterprise?enterprise_id={BIG}", None),
    ("admin", "POST", "/web/models/..%2F..%2Fetc/promote", {}),
    ("ds", "GET", "/web/models/x/files/..%2F..%2Fetc%2Fpasswd", None),
    ("operator", "POST", "/web/investor/events", {"event_id": "probe-1", "event_type": "saved",
                                                   "investor_id": BIG, "enterprise_id": "1"}),
    ("admin", "POST", "/web/enterprise/contacts", {"investor_id": "1", "enterprise_id": BIG, "decision": "accept"}),
    ("operator", "GET", "/web/operator/report.csv?from=2024-99-99&group_by=nope", None),
    ("operator", "GET", "/web/operator?from=9999999-01-01", None),
]


@pytest.mark.parametrize(("role", "method", "url", "form"), CONSOLE_PROBES, ids=[p[2] for p in CONSOLE_PROBES])
def test_console_pages_hold_the_api_checks(api: ApiEnv, role: str, method: str, url: str,
                                           form: dict[str, str] | None) -> None:
    r = _console(api, method, url, form, role)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
