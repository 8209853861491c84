"""API keys and roles: who may call what, 401/403/429/413, the keys command, request ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_api import ApiEnv, api_service, error_of
from typer.testing import CliRunner

from api.ratelimit import RateLimiter
from cli.main import app as cli_app
from matching.config import get_settings


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_access")) as env:
        yield env


# -- authentication --------------------------------------------------------------------------------
def test_requests_without_a_valid_key_get_401_in_the_one_error_shape(api: ApiEnv) -> None:
    path = f"/v1/investors/{api.ids['inv']}/deals"
    none = api.client.get(path)
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    err = error_of(none)
    assert err["code"] == "unauthorized" and "API key is required" in err["message"]
    assert "缺少 API 密钥" in err["message"]
    bad = api.client.get(path, headers={"Authorization": "Bearer cck_0123abcd_not-a-real-secret"})
    assert bad.status_code == 401 and "not valid" in error_of(bad)["message"]
    garbage = api.client.get(path, headers={"X-API-Key": "hunter2"})
    assert garbage.status_code == 401 and error_of(garbage)["code"] == "unauthorized"
    revoked = api.get(path, "revoked")
    assert revoked.status_code == 401 and "was revoked" in error_of(revoked)["message"]
    # the same key is accepted in either header
    assert api.get(path, "inv").status_code == 200
    assert api.client.get(path, headers={"X-API-Key": api.keys["inv"]}).status_code == 200


def test_keys_are_stored_only_as_their_sha256(api: ApiEnv) -> None:
    secret = api.keys["inv"]
    rows = api.sql("SELECT key_hash, prefix, role, investor_id FROM api_keys WHERE key_hash = %s",
                   (hashlib.sha256(secret.encode()).hexdigest(),))
    assert len(rows) == 1
    key_hash, prefix, role, investor_id = rows[0]
    assert secret.startswith(f"cck_{prefix}_") and role == "investor" and investor_id == api.ids["inv"]
    dump = api.sql("SELECT string_agg(t::text, '|') FROM api_keys t")[0][0]
    assert all(api.keys[k] not in dump for k in api.keys)


# -- roles -------------------------------------------------------------------------------------------
ROLE_TABLE = [
    # (method, path, key, status)
    ("GET", "/v1/investors/{inv}/deals", "inv", 200),
    ("GET", "/v1/investors/{inv}/deals", "inv2", 403),
    ("GET", "/v1/investors/{inv}/deals", "ent", 403),
    ("GET", "/v1/investors/{inv}/deals", "ds", 403),
    ("GET", "/v1/investors/{inv}/deals", "operator", 200),
    ("GET", "/v1/investors/{inv}/deals", "admin", 200),
    ("GET", "/v1/enterprises/{ent}/investors", "ent", 200),
    ("GET", "/v1/enterprises/{ent}/investors", "ent2", 403),
    ("GET", "/v1/enterprises/{ent}/investors", "inv", 403),
    ("GET", "/v1/enterprises/{ent}/investors", "ds", 403),
    ("GET", "/v1/enterprises/{ent}/investors", "operator", 200),
    ("GET", "/v1/enterprises/{ent}/investors", "admin", 200),
    ("GET", "/v1/investors/{sfund}/secondaries", "sfund", 200),
    ("GET", "/v1/investors/{sfund}/secondaries", "inv", 403),
    ("GET", "/v1/investors/{sfund}/secondaries", "ent", 403),
    ("GET", "/v1/investors/{sfund}/secondaries", "ds", 403),
    ("GET", "/v1/investors/{sfund}/secondaries", "operator", 200),
    ("GET", "/v1/search?q=生物医药&side=enterprise", "inv", 200),
    ("GET", "/v1/search?q=生物医药&side=investor", "inv", 403),
    ("GET", "/v1/search?q=生物医药&side=investor", "ent", 200),
    ("GET", "/v1/search?q=生物医药&side=enterprise", "ent", 403),
    ("GET", "/v1/search?q=生物医药&side=enterprise", "ds", 403),
    ("GET", "/v1/search?q=生物医药&side=investor", "admin", 200),
    ("GET", "/v1/events", "inv", 200),
    ("GET", "/v1/events", "ent", 200),
    ("GET", "/v1/events", "ds", 200),
    ("GET", "/v1/events", "operator", 200),
    ("GET", "/v1/events?investor_id={inv2}", "inv", 403),
    ("GET", "/v1/events?enterprise_id={ent2}", "ent", 403),
    ("GET", "/v1/models", "ds", 200),
    ("GET", "/v1/models", "admin", 200),
    ("GET", "/v1/models", "operator", 403),
    ("GET", "/v1/models", "inv", 403),
    ("GET", "/v1/models", "ent", 403),
    ("POST", "/v1/models/rollback", "operator", 403),
    ("POST", "/v1/models/retrain", "inv", 403),
    ("POST", "/v1/events", "ds", 403),
    ("GET", "/healthz", None, 200),
    ("GET", "/readyz", None, 200),
    ("GET", "/metrics", None, 401),
    ("GET", "/metrics", "inv", 403),
    ("GET", "/metrics", "operator", 200),
]


@pytest.mark.parametrize(("method", "path", "key", "status"), ROLE_TABLE,
                         ids=[f"{m} {p} as {k}" for m, p, k, _ in ROLE_TABLE])
def test_every_route_admits_exactly_its_roles(api: ApiEnv, method: str, path: str, key: str | None,
                                              status: int) -> None:
    url = path.format(**api.ids)
    r = api.client.request(method, url, headers=api.auth(key), json={} if method == "POST" else None)
    assert r.status_code == status, r.text
    if status == 403:
        err = error_of(r)
        assert err["code"] == "forbidden"
        assert "only" in err["message"] or "allowed roles" in err["message"], err["message"]
    elif any(part in path for part in ("/deals", "/investors", "/secondaries", "/search")):
        body = r.json()
        assert body["items"] and body["list_id"] and body["model_version"], body


def test_a_forbidden_role_is_told_which_roles_may(api: ApiEnv) -> None:
    r = api.get("/v1/models", "operator")
    assert r.status_code == 403
    assert error_of(r)["message"].endswith(
        "Keys of role operator may not call this; allowed roles: data_scientist, admin")
    own = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv2")
    assert f"acts for investor {api.ids['inv2']} only, not {api.ids['inv']}" in error_of(own)["message"]


# -- rate limit, body size ---------------------------------------------------------------------------
def test_a_key_over_its_rate_gets_429_with_retry_after(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.state, "limiter", RateLimiter(rate=0.1, burst=2))
    path = f"/v1/investors/{api.ids['inv']}/deals"
    assert [api.get(path, "inv", k=1).status_code for _ in range(2)] == [200, 200]
    limited = api.get(path, "inv", k=1)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 20  # 2 per 20 s window
    err = error_of(limited)
    assert err["code"] == "rate_limited" and "Retry-After" in err["message"]
    # limits are per key: another key is not affected
    assert api.get(f"/v1/investors/{api.ids['inv2']}/deals", "inv2", k=1).status_code == 200


def test_oversized_bodies_get_413_declared_or_streamed(api: ApiEnv) -> None:
    big = b'{"event_id": "' + b"x" * 5000 + b'"}'
    declared = api.client.post("/v1/events", content=big,
                               headers={**api.auth("inv"), "Content-Type": "application/json"})
    assert declared.status_code == 413
    err = error_of(declared)
    assert err["code"] == "payload_too_large" and "limit of 4096 bytes" in err["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the middleware counts what streams in
        for _ in range(10):
            yield b" " * 1000

    streamed = api.client.post("/v1/events", content=chunks(),
                               headers={**api.auth("inv"), "Content-Type": "application/json"})
    assert streamed.status_code == 413 and error_of(streamed)["code"] == "payload_too_large"
    # without a key an oversized body is still refused before anything else
    assert api.client.post("/v1/events", content=big).status_code == 413


# -- request ids, unknown routes ---------------------------------------------------------------------
def test_request_ids_are_echoed_or_generated(api: ApiEnv) -> None:
    given = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123" and given.json() == {"status": "ok"}
    made = api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "bad id with spaces"
    missing = api.client.get("/v1/nothing-here", headers={"X-Request-ID": "trace-9"})
    assert missing.status_code == 404 and error_of(missing)["request_id"] == "trace-9"
    wrong_method = api.client.delete("/v1/events", headers=api.auth("inv"))
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"


# -- the keys command --------------------------------------------------------------------------------
@pytest.fixture
def cli(api: ApiEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CAPCONNECT_DATABASE_URL", api.db.url)
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli_app, list(args), catch_exceptions=False)
    get_settings.cache_clear()


def test_keys_command_creates_lists_and_revokes(api: ApiEnv, cli) -> None:  # type: ignore[no-untyped-def]
    made = cli("keys", "create", "--role", "enterprise", "--for", str(api.ids["ent2"]), "--label", "财务部")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("cck_") and "shown once" in made.stderr
    assert api.client.get(f"/v1/enterprises/{api.ids['ent2']}/investors",
                          headers={"X-API-Key": secret}).status_code == 200
    listed = cli("keys", "list")
    prefix = secret.split("_")[1]
    assert listed.exit_code == 0 and f"cck_{prefix}_…" in listed.stdout and "财务部" in listed.stdout
    assert secret not in listed.stdout
    revoked = cli("keys", "revoke", prefix)
    assert revoked.exit_code == 0 and "revoked enterprise key" in revoked.stdout
    after = api.client.get(f"/v1/enterprises/{api.ids['ent2']}/investors", headers={"X-API-Key": secret})
    assert after.status_code == 401 and "was revoked" in error_of(after)["message"]
    assert f"cck_{prefix}_…" not in cli("keys", "list").stdout
    assert f"cck_{prefix}_…" in cli("keys", "list", "--all").stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "investor"), "an investor key acts for one investor: give its id (--for ID)"),
    (("--role", "admin", "--for", "3"), "--for binds investor and enterprise keys only"),
    (("--role", "king"), "unknown value; allowed: admin (管理员), operator"),
    (("--role", "investor", "--for", "999999"), "--for 999999: no investor with this id"),
])
def test_keys_command_refuses_bad_arguments_saying_why(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("keys", "create", *args)
    assert result.exit_code == 1 and message in " ".join(result.stderr.split()), result.stderr


def test_bulk_uploads_have_their_own_larger_limit(api: ApiEnv) -> None:
    """A 6 KB upload passes the 4 KB default body limit (uploads have max_upload_bytes), reaches the
    import route, and is refused there for its content, not for its size."""
    rows = "name,credit_code\n" + "".join(f"企业{i},not-a-code-{i}\n" for i in range(300))
    body = rows.encode("utf-8")
    assert len(body) > 4096
    r = api.client.post("/v1/imports/enterprises", files={"file": ("e.csv", body, "text/csv")},
                        headers=api.auth("admin"))
    assert r.status_code == 422 and error_of(r)["code"] != "payload_too_large"
    assert api.client.post("/v1/events", content=body, headers=api.auth("inv")).status_code == 413
