"""Authentication comes before the body (finding 6 of issue 14): a request with a body and no valid key is
refused before anything reads, spools or parses it: uploads, JSON bodies and the console's forms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service, error_of
from starlette.requests import Request


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("gate"), max_upload_bytes=8 * 1024 * 1024) as env:
        yield env


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a route's machinery reads a body (parses a form, reads the bytes), by path."""
    seen: list[str] = []
    real_form, real_body = Request._get_form, Request.body

    async def form(self: Request, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"form {self.url.path}")
        return await real_form(self, *args, **kwargs)

    async def body(self: Request) -> bytes:
        seen.append(f"body {self.url.path}")
        return await real_body(self)

    monkeypatch.setattr(Request, "_get_form", form)
    monkeypatch.setattr(Request, "body", body)
    return seen


UPLOAD = {"file": ("big.csv", b"credit_code,name\r\n" + b"x" * (5 * 1024 * 1024), "text/csv")}


@pytest.mark.parametrize("key", [None, "revoked", "cck_abcdef12_not-a-real-key"])
def test_a_keyless_upload_is_refused_before_it_is_parsed(api: ApiEnv, reads: list[str], key: str | None) -> None:
    headers = {} if key is None else {"Authorization": f"Bearer {api.keys.get(key, key)}"}
    r = api.client.post("/v1/imports/enterprises", headers=headers, files=UPLOAD)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), r.text[:300]
    assert error_of(r)["code"] == "unauthorized"
    assert reads == []  # nothing spooled, nothing parsed


def test_a_keyless_json_body_is_refused_before_it_is_read(api: ApiEnv, reads: list[str]) -> None:
    # a NUL in the body would be a 422 naming the field if anything read the body before the key was checked
    r = api.client.post("/v1/events", content=b'{"event_id": "a\\u0000", "event_type": "viewed"}',
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and error_of(r)["code"] == "unauthorized", r.text
    assert reads == []


def test_a_console_form_without_a_session_is_refused_before_it_is_parsed(api: ApiEnv, reads: list[str]) -> None:
    client = TestClient(api.client.app, follow_redirects=False)
    r = client.post("/web/operator/import", files=UPLOAD, data={"csrf": "x", "entity": "enterprises"})
    assert r.status_code == 303 and r.headers["location"].startswith("/web/signin?next=%2Fweb%2Foperator%2Fimport")
    for cookie in ("cc_key", "cc_session"):  # a forged session, whatever the cookie is called
        client.cookies.set(cookie, "cck_abcdef12_not-a-real-key")
    forged = client.post("/web/operator/import", files=UPLOAD, data={"csrf": "x", "entity": "enterprises"})
    assert forged.status_code == 303 and forged.headers["location"].startswith("/web/signin")
    assert reads == []


def test_a_valid_key_still_reaches_the_route(api: ApiEnv, reads: list[str]) -> None:
    r = api.client.post("/v1/imports/enterprises", headers=api.auth("admin"),
                        files={"file": ("e.csv", "统一社会信用代码,企业名称\r\n".encode(), "text/csv")})
    assert r.status_code in (200, 422), r.text  # parsed and handled by the route
    assert reads == ["form /v1/imports/enterprises"]
    ds = api.client.post("/v1/imports/enterprises", headers=api.auth("ds"), files=UPLOAD)
    assert ds.status_code == 403  # authenticated first; the role is the route's to refuse
