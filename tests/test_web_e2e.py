"""The web console in a real browser: headless Chromium (Debian's ``chromium`` package) driven by Playwright
against a live uvicorn server on loopback, over the small generated market of :mod:`helpers_api`.

Three journeys: an investor signs in, reads a deal list with reasons and saves a deal (stored); an
enterprise accepts a contact request and the investor then sees its financials; an operator uploads a
file with a bad row and sees the row's error. Every page is saved as a screenshot at laptop and phone
widths under ``test-artifacts/screenshots/`` (not committed).

Chromium is required, not optional: without ``/usr/bin/chromium`` these tests fail and say how to
install it (``apt-get install chromium``; CI does it in ``scripts/bootstrap``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from helpers_api import ApiEnv, api_service

from store import keys as keys_db

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[ApiEnv, str]]:
    """The service (started by its lifespan in :func:`api_service`) also served by uvicorn on a free port."""
    with api_service(pg_admin_url, tmp_path_factory.mktemp("web_e2e")) as env:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # lifespan off: the app's state is the one api_service's lifespan built (same pool, matcher, keys)
        server = uvicorn.Server(uvicorn.Config(env.client.app, host="127.0.0.1", port=port, lifespan="off",
                                               log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield env, f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium from Debian's package (Playwright's own browser downloads do not work here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the web console's end-to-end tests need Debian's Chromium. Install it "
                    "with `sudo apt-get install -y chromium` (scripts/bootstrap does this on CI)", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run scripts/bootstrap (it installs the test extra)", pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(chromium: Any, base: str, key: str | None, start: str = "/web") -> Any:
    """A fresh browser context (its own cookies) that opens ``start``, lands on the sign-in form and signs in
    with ``key`` (stays on the form when ``key`` is ``None``); returns its page. Shared by every browser test."""
    context = chromium.new_context(viewport=LAPTOP, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}{start}")
    assert "/web/signin" in page.url
    if key:
        page.fill("#api_key", key)
        page.click("form.stack button[type=submit]")
        page.wait_for_load_state()
        assert "/web/signin" not in page.url, page.content()[:2000]
    return page


def shoot(page: Any, name: str) -> None:
    """Screenshots of the current page at laptop and phone widths (full page), as ``SHOTS/<name>-<width>.png``."""
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


def test_an_investor_saves_a_deal_and_the_event_is_stored(live: tuple[ApiEnv, str], chromium: Any) -> None:
    env, base = live
    signin = chromium.new_page(viewport=LAPTOP)
    signin.goto(f"{base}/web/signin")
    shoot(signin, "signin")
    signin.close()
    page = sign_in(chromium, base, env.keys["inv"])
    assert page.url.endswith("/web/investor")
    cards = page.locator("li.deal")
    assert cards.count() >= 5
    assert cards.first.locator("li.reason").count() >= 1
    shoot(page, "investor-deals")
    list_id = page.locator("input[name=list_id]").first.input_value()
    card = page.locator("li.deal:has(button[data-action=saved])").first  # the market's history saved some
    enterprise_id = int(card.get_attribute("data-enterprise"))
    card.locator("button[data-action=saved]").click()
    saved = page.locator(f"li.deal[data-enterprise='{enterprise_id}'] form.act:has(input[value=saved]) button.done")
    saved.wait_for()
    assert "已收藏" in saved.inner_text()
    stored = env.sql("SELECT event_type, list_id::text, actor, source FROM funnel_events WHERE investor_id = %s "
                     "AND enterprise_id = %s AND event_type = 'saved'", (env.ids["inv"], enterprise_id))
    assert stored == [("saved", list_id, "investor", "api")]
    page.goto(f"{base}/web/investor?lang=en&tier=growth")
    assert "Deals for you" in page.inner_text("h1")
    shoot(page, "investor-deals-en-filtered")
    page.context.close()


def test_an_enterprise_accepts_contact_and_the_investor_sees_financials(live: tuple[ApiEnv, str],
                                                                         chromium: Any) -> None:
    env, base = live
    investor = sign_in(chromium, base, env.keys["inv2"])
    shown = {int(x) for x in investor.locator("li.deal").evaluate_all(
        "els => els.map(e => e.dataset.enterprise)")}
    hidden = {r[0] for r in env.sql(
        "SELECT e.id FROM enterprises e WHERE e.tier IN ('basic', 'growth') AND e.disclosure = 'tier_default' "
        "AND EXISTS (SELECT 1 FROM enterprise_financials f WHERE f.enterprise_id = e.id AND f.revenue IS NOT NULL)")}
    candidates = sorted(shown & hidden)
    assert candidates, "no deal of inv2 withholds financials: the market changed"
    ent = candidates[0]
    card = investor.locator(f"li.deal[data-enterprise='{ent}']")
    card.locator("button[data-action=contact_requested]").click()
    investor.wait_for_selector(f"li.deal[data-enterprise='{ent}'] button.done")
    investor.goto(f"{base}/web/enterprises/{ent}")
    assert "企业同意您的联系请求后披露" in investor.inner_text("#disclosure")
    shoot(investor, "profile-withheld")

    with env.db.connect(autocommit=True) as conn:
        secret = keys_db.create_key(conn, role="enterprise", enterprise_id=ent, label="e2e").secret
    owner = sign_in(chromium, base, secret)
    assert owner.url.endswith("/web/enterprise")
    request = owner.locator(f"li.request[data-investor='{env.ids['inv2']}']")
    assert request.count() == 1
    shoot(owner, "enterprise")
    request.locator("button.primary").click()
    owner.wait_for_url("**/web/enterprise?answered=accept")
    assert owner.locator(f"li.request[data-investor='{env.ids['inv2']}']").count() == 0
    owner.context.close()

    investor.reload()
    assert "财务数据已向您披露" in investor.inner_text("#disclosure")
    financials = investor.inner_text("#financials")
    assert "未披露" not in financials and "万元" in financials
    shoot(investor, "profile-revealed")
    investor.context.close()


def test_an_operator_uploads_a_bad_file_and_sees_the_row(live: tuple[ApiEnv, str], chromium: Any,
                                                         tmp_path: Path) -> None:
    env, base = live
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/operator?from=2024-01-01&metric=meetings")
    assert page.locator("figure.chart svg").count() == 4
    shoot(page, "operator-report")
    bad = tmp_path / "企业导入.csv"
    bad.write_text("name,credit_code,tier,district\n测试企业甲,91500000MA5U000010,basic,渝北区\n"
                   "测试企业乙,91500000MA5U000023,platinum,渝北区\n", encoding="gb18030")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#import button[type=submit]")
    page.wait_for_selector("#import-result")
    errors = page.inner_text("#import-result table")
    assert "platinum" in errors and "3" in errors and "第 3 行" in page.inner_text("#import-result .alert")
    page.locator("#import-result").scroll_into_view_if_needed()
    shoot(page, "operator-import-error")
    page.context.close()

    scientist = sign_in(chromium, base, env.keys["ds"])
    assert scientist.url.endswith("/web/models")
    shoot(scientist, "models")
    scientist.context.close()
