"""Security hygiene: keys never in clear, constant-time comparison, secrets from the environment only,
the append-only audit log of confidential views, strict CORS and the security headers.

Rate limits per key are tested for every role in ``test_authz_matrix.py``; body-size limits (declared
and streamed) in ``test_api_access.py``.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service
from pydantic import ValidationError

from api.app import create_app
from api.logs import JsonFormatter, RequestIdFilter
from matching.config import Settings
from matching.domain.credit_code import make_credit_code
from store import keys as keys_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("security")) as env:
        yield env


# -- keys ---------------------------------------------------------------------------------------------------
def test_keys_never_reach_logs_or_any_table(api: ApiEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    inv = api.ids["inv"]
    for key in ("inv", "revoked", "ent", "admin"):
        api.get(f"/v1/investors/{inv}/deals", key)
        api.client.get("/v1/enterprises/1", headers={"X-API-Key": api.keys[key]})
        api.client.post("/v1/events", content=b"{broken", headers={**api.auth(key), "Content-Type": "application/json"})
    near_miss = api.keys["inv"][:-1] + ("x" if api.keys["inv"][-1] != "x" else "y")
    api.client.get("/v1/events", headers={"Authorization": f"Bearer {near_miss}"})
    formatter, rid = JsonFormatter(), RequestIdFilter()
    lines = []
    for record in caplog.records:
        rid.filter(record)
        lines.append(formatter.format(record))
    text = "\n".join(lines)
    assert "api.access" in text and len(caplog.records) > 12
    for secret in (*api.keys.values(), near_miss):
        assert secret not in text
        assert secret.split("_", 2)[2] not in text  # not even the secret part after the prefix
    with api.db.connect(autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = "".join(conn.execute(f'SELECT coalesce(string_agg(t::text, \'|\'), \'\') FROM "{t}" t').fetchone()[0]
                       for t in tables)
    assert all(secret not in dump for secret in api.keys.values())


def test_keys_are_compared_in_constant_time() -> None:
    tree = ast.parse(inspect.getsource(keys_db.verify_key))
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "hmac.compare_digest" in calls
    compares = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert not [c for c in compares if "hash" in c or "digest" in c], compares  # no == on hashes


def test_secrets_come_only_from_the_environment() -> None:
    readers, literals = [], []
    url_with_password = re.compile(r"postgres(?:ql)?://[^/@\s:'\"]+:[^/@\s'\"]+@")
    for package in ("api", "cli", "store", "matching", "training", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            rel = str(path.relative_to(ROOT))
            if re.search(r"os\.environ\[|os\.getenv|environ\.get\(", source) and rel != "matching/config.py":
                readers.append(rel)
            if url_with_password.search(source) or re.search(r"(?i)(password|secret|api_key)\s*=\s*['\"][^'\"]{6,}",
                                                             source):
                literals.append(rel)
    assert readers == [] and literals == []
    with pytest.raises(ValidationError, match="not allowed"):
        Settings(cors_origins=["*"])


# -- the audit log of confidential views ------------------------------------------------------------------
def test_every_confidential_view_by_a_non_owner_is_audited(api: ApiEnv) -> None:
    made = api.post("/v1/enterprises", "admin", {
        "credit_code": make_credit_code("9", "1", "500112", "AU0000001"), "name": "审计测试企业", "tier": "basic",
        "registered_capital": "1000万", "financials": [{"year": 2024, "revenue": "8000万", "employees": 50}]})
    assert made.status_code == 201
    eid = made.json()["id"]
    with api.db.connect(autocommit=True) as conn:
        api.keys["audited"] = keys_db.create_key(conn, role="enterprise", enterprise_id=eid).secret

    def rows() -> list[tuple]:
        return api.sql("SELECT role, key_prefix, viewer_investor_id, fields, basis, request_id FROM audit_log "
                       "WHERE enterprise_id = %s ORDER BY id", (eid,))

    start = len(rows())  # the admin's create returned the record: audited already
    assert rows()[0][0] == "admin" and start == 1
    assert api.get(f"/v1/enterprises/{eid}", "inv").json()["financials"] is None
    api.get(f"/v1/enterprises/{eid}", "audited")  # the enterprise itself
    api.get(f"/v1/enterprises/{eid}", "ent2")  # another enterprise: public profile only
    assert len(rows()) == start  # nothing confidential shown to a non-owner: nothing to audit
    api.post("/v1/events", "audited", {"event_id": "au-1", "event_type": "contact_accepted",
                                       "investor_id": api.ids["inv"], "enterprise_id": eid})
    shown = api.get(f"/v1/enterprises/{eid}", "inv")
    assert shown.json()["financials"][0]["revenue"] == 8e7
    listed = api.get("/v1/enterprises", "ds", q="审计测试企业")
    assert listed.json()["items"][0]["id"] == eid
    new = rows()[start:]
    assert [(r[0], r[2], r[3], r[4]) for r in new] == [
        ("investor", api.ids["inv"], ["registered_capital", "operating_metrics", "financials"], "contact_accepted"),
        ("data_scientist", None, ["registered_capital", "operating_metrics", "financials"], "internal")]
    assert new[0][5] == shown.headers["x-request-id"] and new[1][5] == listed.headers["x-request-id"]
    assert all(r[1].startswith("cck_") and r[1].endswith("…") and len(r[1]) < 20 for r in new)  # prefix only


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET role = 'admin'", "DELETE FROM audit_log",
                                       "TRUNCATE audit_log"])
def test_the_audit_log_is_append_only(api: ApiEnv, statement: str) -> None:
    api.get("/v1/enterprises", "admin", limit=1)
    before = api.sql("SELECT count(*), max(id) FROM audit_log")[0]
    assert before[0] > 0
    with api.db.connect(autocommit=True) as conn, pytest.raises(psycopg.Error, match="append-only"):
        conn.execute(statement)
    assert api.sql("SELECT count(*), max(id) FROM audit_log")[0] == before


# -- CORS and headers ----------------------------------------------------------------------------------------
def test_cors_is_closed_by_default_and_open_only_to_configured_origins() -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    closed = TestClient(create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/x")))
    r = closed.options("/v1/enterprises", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in closed.get("/openapi.json", headers={"Origin": "https://evil.example"}
                                                          ).headers
    console = "https://console.capconnect.example"
    open_ = TestClient(create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/x", cors_origins=[console])))
    ok = open_.options("/v1/enterprises", headers={**preflight, "Origin": console})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == console
    assert "access-control-allow-credentials" not in ok.headers
    evil = open_.options("/v1/enterprises", headers=preflight)
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers


@pytest.mark.parametrize(("method", "path", "key", "body", "status"), [
    ("GET", "/v1/investors/{inv}/deals", "inv", None, 200),
    ("GET", "/v1/enterprises/{ent}", "inv", None, 200),
    ("GET", "/v1/enterprises/{ent}", None, None, 401),
    ("GET", "/v1/investors/{inv}/deals", "inv2", None, 403),
    ("GET", "/v1/enterprises/99999999", "admin", None, 404),
    ("POST", "/v1/events", "inv", {"event_id": "x"}, 422),
    ("POST", "/v1/events", "inv", {"event_id": "x" * 5000}, 413),
    ("GET", "/healthz", None, None, 200),
])
def test_security_headers_on_every_answer(api: ApiEnv, method: str, path: str, key: str | None, body: object,
                                          status: int) -> None:
    r = api.client.request(method, path.format(**api.ids), json=body, headers=api.auth(key))
    assert r.status_code == status
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    if key:
        assert r.headers["cache-control"] == "no-store"
