"""The console's words: a URL parameter is never used as a format string (finding 7 of issue 14)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service

from api.web.i18n import TEXT, translator


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("web_i18n")) as env:
        yield env


def _signed_in(api: ApiEnv, key: str) -> TestClient:
    client = TestClient(api.client.app, follow_redirects=False)
    client.get("/web/signin")
    r = client.post("/web/signin", data={"api_key": api.keys[key], "csrf": client.cookies["cc_csrf"]})
    assert r.status_code == 303, r.text
    return client


def test_an_unknown_key_is_shown_as_itself_never_formatted() -> None:
    t = translator("en")
    t0 = time.perf_counter()
    assert t("{nope}", version="v1") == "{nope}"
    assert t("{version:>999999999}", version="v1") == "{version:>999999999}"
    assert t("{0.__class__}", version="v1") == "{0.__class__}"
    assert time.perf_counter() - t0 < 0.1  # no gigabyte string was built
    assert t("promoted", version="v{1}", serving="{x}") == "Promoted v{1}; serving {x}."  # values stay literal
    assert t("promoted") == TEXT["promoted"][1]


@pytest.mark.parametrize("done", ["{nope}", "{version:>999999999}", "{0}", "promoted}", "{serving!r:{version}}"])
def test_the_models_page_never_formats_the_done_parameter(api: ApiEnv, done: str) -> None:
    client = _signed_in(api, "ds")
    t0 = time.perf_counter()
    r = client.get("/web/models", params={"done": done, "version": "{x:>99999999}"})
    assert r.status_code == 200, r.text
    assert time.perf_counter() - t0 < 5 and len(r.content) < 200_000
    assert done not in r.text  # an unknown notice is not shown at all


def test_a_known_notice_is_still_shown(api: ApiEnv) -> None:
    client = _signed_in(api, "ds")
    r = client.get("/web/models", params={"done": "rolled_back", "version": "v-1", "lang": "en"})
    assert r.status_code == 200 and "Rolled back to v-1." in r.text
