"""Issue 17, item 4 in a real browser (headless Debian Chromium, Playwright, a live uvicorn on loopback): a
newcomer opens the service's root and lands on the sign-in page with the API docs linked; an investor reads
the deal cards' bands with the probability on hover; an enterprise without an open need publishes one from
the form; a data scientist presses retrain and follows the queued job. Screenshots at 1366x768 and 390x844
under ``test-artifacts/screenshots/newcomer-*`` (not committed). Fixtures as ``test_web_e2e.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv
from test_web_e2e import CHROMIUM, LAPTOP, chromium, live, shoot, sign_in  # noqa: F401 (fixtures)

from store import keys as keys_db

assert CHROMIUM




@pytest.fixture(scope="module")
def newcomer_key(live: tuple[ApiEnv, str]) -> Iterator[tuple[int, str]]:  # noqa: F811
    env, _ = live
    ent = env.sql("SELECT e.id FROM enterprises e WHERE e.status = 'active' AND NOT EXISTS (SELECT 1 FROM "
                  "financing_needs n WHERE n.enterprise_id = e.id AND n.status = 'open') ORDER BY e.id LIMIT 1")[0][0]
    with env.db.connect(autocommit=True) as conn:
        yield ent, keys_db.create_key(conn, role="enterprise", enterprise_id=ent, label="e2e newcomer").secret


def test_root_signin_docs_and_deal_bands(live: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = live
    page = sign_in(chromium, base, start='/', key=None)
    assert page.locator("footer a[href='/docs']").count() == 1
    shoot(page, "newcomer-signin")
    page = sign_in(chromium, base, start='/', key=env.keys["inv"])
    bands = page.locator(".deal .band")
    assert bands.count() >= 5
    first = bands.first
    assert first.inner_text().strip() == "高匹配" and "本次推荐第 1/" in (first.get_attribute("title") or "")
    shoot(page, "newcomer-deals")


def test_an_enterprise_publishes_its_first_need(live: tuple[ApiEnv, str], chromium: Any,  # noqa: F811
                                                newcomer_key: tuple[int, str]) -> None:
    env, base = live
    ent, secret = newcomer_key
    page = sign_in(chromium, base, start='/', key=secret)
    assert "/web/enterprise" in page.url
    assert page.locator("#publish-need").is_visible() and page.locator("#products li.product").count() >= 1
    shoot(page, "newcomer-enterprise-no-need")
    page.select_option("#publish-need select[name=instrument]", "ip_pledge")
    page.fill("#publish-need input[name=amount]", "1500")
    page.fill("#publish-need textarea[name=use_of_funds]", "研发中心建设")
    page.click("#publish-need button[type=submit]")
    page.wait_for_load_state()
    assert "published=" in page.url and page.locator("#publish-need").count() == 0
    assert env.sql("SELECT amount FROM financing_needs WHERE enterprise_id = %s AND status = 'open'",
                   (ent,)) == [(15_000_000,)]
    shoot(page, "newcomer-enterprise-published")


def test_a_data_scientist_queues_a_retraining(live: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = live
    page = sign_in(chromium, base, start='/', key=env.keys["ds"])
    page.goto(f"{base}/web/models")
    page.click("#retrain button[type=submit]")
    page.wait_for_load_state()
    assert "job=" in page.url and "排队中" in page.locator("#retrain").inner_text()
    shoot(page, "newcomer-models-queued")
    job = page.url.rsplit("=", 1)[1]
    env.sql("UPDATE model_jobs SET status = 'failed', finished_at = now(), error = 'stopped by the test' "
            "WHERE id = %s RETURNING id", (job,))
