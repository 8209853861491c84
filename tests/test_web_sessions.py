"""Console sessions (finding 8 of issue 14): the cookie holds a server-side session, not the API key; sessions
expire when idle and absolutely, end on sign-out and when their key is revoked; cookies are Secure by setting;
the CSRF token is the session's; failed sign-ins and invalid keys are throttled per client address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service, error_of

from matching.config import Settings
from store import keys as keys_db

SESSION = "cc_session"


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("web_sessions")) as env:
        yield env


def browser(api: ApiEnv, secret: str | None = None, address: str = "testclient") -> TestClient:
    """A client of its own, signed in with ``secret`` through the sign-in form."""
    client = TestClient(api.client.app, follow_redirects=False, client=(address, 50000))
    assert client.get("/web/signin").status_code == 200
    if secret:
        r = client.post("/web/signin", data={"api_key": secret, "csrf": client.cookies["cc_csrf"]})
        assert r.status_code == 303, r.text
    return client


def fresh_key(api: ApiEnv, role: str = "operator") -> str:
    with api.db.connect(autocommit=True) as conn:
        return keys_db.create_key(conn, role=role, label="session test").secret


def signed_out(client: TestClient, path: str = "/web/operator") -> bool:
    r = client.get(path)
    return r.status_code == 303 and r.headers["location"].startswith("/web/signin")


def test_the_cookie_holds_a_session_never_the_key(api: ApiEnv) -> None:
    secret = fresh_key(api)
    client = browser(api, secret)
    token = client.cookies[SESSION]
    assert token and token != secret and secret not in str(client.cookies)
    assert client.get("/web/operator").status_code == 200
    rows = api.sql("SELECT s.id, k.label, s.expires_at - s.created_at, s.revoked_at FROM web_sessions s "
                   "JOIN api_keys k ON k.id = s.api_key_id WHERE k.key_hash = %s", (keys_db.hash_key(secret),))
    assert len(rows) == 1 and rows[0][0] == keys_db.hash_key(token)  # only the token's hash is stored
    assert rows[0][2].total_seconds() == api.settings.session_max_hours * 3600 and rows[0][3] is None
    raw = TestClient(api.client.app, follow_redirects=False)
    raw.cookies.set(SESSION, secret)  # the key itself is no session
    assert signed_out(raw)
    raw.cookies.set("cc_key", secret)
    assert signed_out(raw)


def test_signing_in_again_replaces_the_session(api: ApiEnv) -> None:
    client = browser(api, fresh_key(api))
    first = client.cookies[SESSION]
    r = client.post("/web/signin", data={"api_key": fresh_key(api), "csrf": client.cookies["cc_csrf"]})
    assert r.status_code == 303 and client.cookies[SESSION] != first
    old = TestClient(api.client.app, follow_redirects=False)
    old.cookies.set(SESSION, first)
    assert signed_out(old)


def test_sign_out_ends_the_session_on_the_server(api: ApiEnv) -> None:
    client = browser(api, fresh_key(api))
    stolen = client.cookies[SESSION]
    out = client.post("/web/signout", data={"csrf": client.cookies["cc_csrf"]})
    assert out.status_code == 303 and out.headers["location"] == "/web/signin?why=signed_out"
    replay = TestClient(api.client.app, follow_redirects=False)
    replay.cookies.set(SESSION, stolen)
    assert signed_out(replay)
    assert api.sql("SELECT revoked_reason FROM web_sessions WHERE id = %s", (keys_db.hash_key(stolen),)) == [
        ("signed_out",)]


def test_revoking_the_key_ends_its_sessions(api: ApiEnv) -> None:
    secret = fresh_key(api)
    client = browser(api, secret)
    assert client.get("/web/operator").status_code == 200
    with api.db.connect(autocommit=True) as conn:
        keys_db.revoke_key(conn, secret)
    assert signed_out(client)
    assert api.sql("SELECT revoked_reason FROM web_sessions WHERE id = %s",
                   (keys_db.hash_key(client.cookies.get(SESSION) or "gone"),)) in ([("key_revoked",)], [])
    assert api.sql("SELECT count(*) FROM web_sessions s JOIN api_keys k ON k.id = s.api_key_id "
                   "WHERE k.key_hash = %s AND s.revoked_reason = 'key_revoked'", (keys_db.hash_key(secret),)) == [(1,)]


@pytest.mark.parametrize("expiry", ["idle", "absolute"])
def test_sessions_expire_when_idle_and_absolutely(api: ApiEnv, expiry: str) -> None:
    client = browser(api, fresh_key(api))
    token_hash = keys_db.hash_key(client.cookies[SESSION])
    assert client.get("/web/operator").status_code == 200
    if expiry == "idle":  # untouched for longer than session_idle_minutes
        api.sql("UPDATE web_sessions SET last_seen_at = now() - %s * interval '1 minute' - interval '1 minute' "
                "WHERE id = %s RETURNING id", (api.settings.session_idle_minutes, token_hash))
    else:  # active all along, but older than session_max_hours
        api.sql("UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE id = %s RETURNING id",
                (token_hash,))
    r = client.get("/web/operator")
    assert r.status_code == 303 and "why=session_expired" in r.headers["location"]


def test_cookies_are_secure_by_setting(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(env="production").secure_cookies and not Settings(env="development").secure_cookies
    assert not Settings(env="production", cookie_secure=False).secure_cookies
    monkeypatch.setattr(api.state, "settings", api.settings.model_copy(update={"cookie_secure": True}))
    client = TestClient(api.client.app, follow_redirects=False)  # plain http, as behind a TLS-ending proxy
    page = client.get("/web/signin")
    assert "secure" in page.headers["set-cookie"].lower()
    token = page.cookies["cc_csrf"]  # a browser would not send a Secure cookie over http: the test does
    r = client.post("/web/signin", data={"api_key": fresh_key(api), "csrf": token},
                    headers={"Cookie": f"cc_csrf={token}"})
    cookies = [c.lower() for c in r.headers.get_list("set-cookie")]
    session = [c for c in cookies if c.startswith(SESSION + "=")]
    assert session and all("secure" in c and "httponly" in c and "samesite=strict" in c for c in session)


def test_the_csrf_token_is_bound_to_the_session(api: ApiEnv) -> None:
    client = browser(api, fresh_key(api))
    other = browser(api, fresh_key(api))
    assert client.cookies["cc_csrf"] != other.cookies["cc_csrf"]
    # a token planted in the browser (a sibling subdomain can set cookies) is not this session's token
    theirs = other.cookies["cc_csrf"]
    client.cookies.delete("cc_csrf")
    client.cookies.set("cc_csrf", "planted")
    assert client.post("/web/signout", data={"csrf": "planted"}).status_code == 403
    client.cookies.delete("cc_csrf")
    client.cookies.set("cc_csrf", theirs)  # another session's token, even as the cookie, is not this one's
    assert client.post("/web/signout", data={"csrf": theirs}).status_code == 403
    assert client.get("/web/operator").status_code == 200  # still signed in


def test_failed_sign_ins_and_invalid_keys_are_throttled_per_address(api: ApiEnv,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.state, "settings", api.settings.model_copy(update={"auth_max_failures": 3}))
    attacker = browser(api, address="203.0.113.7")
    csrf = attacker.cookies["cc_csrf"]
    for guess in ("cck_abcdef12_guess-1", "cck_abcdef12_guess-2"):
        assert attacker.post("/web/signin", data={"api_key": guess, "csrf": csrf}).status_code == 401
    api_call = TestClient(api.client.app, client=("203.0.113.7", 1))
    bad = api_call.get("/v1/enterprises", headers={"Authorization": "Bearer cck_abcdef12_guess-3"})
    assert bad.status_code == 401  # the third failure
    for attempt in (lambda: attacker.post("/web/signin", data={"api_key": api.keys["admin"], "csrf": csrf}),
                    lambda: api_call.get("/v1/enterprises", headers=api.auth("admin")),
                    lambda: api_call.post("/v1/events", headers=api.auth("admin"), json={})):
        r = attempt()  # refused before the key is even looked up, valid or not
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 900, r.text[:300]
    err = error_of(api_call.get("/v1/enterprises", headers=api.auth("admin")))
    assert err["code"] == "rate_limited" and "3 failed sign-ins or invalid API keys" in err["message"]
    assert err["fields"] == [{"field": "client_address", "value": "203.0.113.7",
                              "reason": "at most 3 failures per 900 s; retry after Retry-After seconds"}]
    elsewhere = browser(api, api.keys["admin"], address="198.51.100.9")  # another address is not held back
    assert elsewhere.get("/web/operator").status_code == 200
    assert TestClient(api.client.app, client=("198.51.100.9", 1)).get(
        "/v1/enterprises", headers=api.auth("admin")).status_code == 200
