"""The console's "组建银团/联合投资" panel (issue 17 item 2): on the investor's deal cards and on the enterprise page.

Over HTTP (the console's own client): the card carries the folded panel with the need's sets URL (the investor as
lead), the sets page shows the sets the API gives, with no co-investor figure for an investor. In Chromium (as
``test_web_e2e``): opening the panel loads the sets in place; screenshots at laptop and phone widths under
``test-artifacts/screenshots/issue17-syndicates-*``.
"""

from __future__ import annotations

import re
from typing import Any

from helpers_api import ApiEnv, console_client
from test_web_e2e import chromium, live, shoot, sign_in  # noqa: F401  (fixtures)

from api.web.common import money
from store import keys as keys_db


def _deal_with_sets(env: ApiEnv) -> tuple[int, int, dict[str, Any]]:
    """``(enterprise id, need id, the investor's syndicates)``: the first card of ``inv``'s deal list whose need
    has sets with ``inv`` as lead."""
    for it in env.state.matcher.recommend_enterprises(env.ids["inv"], 20).items:
        if it.need_id is None:
            continue
        r = env.get(f"/v1/needs/{it.need_id}/syndicates", "inv")
        if r.status_code == 200 and r.json()["items"]:
            return int(it.enterprise_id), int(it.need_id), r.json()
    raise AssertionError("no deal of the investor has syndicate sets")


def _owner_key(env: ApiEnv, enterprise_id: int) -> str:
    name = f"owner-{enterprise_id}"
    if name not in env.keys:
        with env.db.connect(autocommit=True) as conn:
            env.keys[name] = keys_db.create_key(conn, role="enterprise", enterprise_id=enterprise_id,
                                                label="test syndicate owner").secret
    return name


def test_the_deal_card_links_the_sets_and_the_page_hides_peers_figures(live: tuple[ApiEnv, str]) -> None:  # noqa: F811
    env, _ = live
    ent, need, mine = _deal_with_sets(env)
    html = console_client(env, "inv").get("/web/investor?lang=zh").text
    assert f'data-src="/web/needs/{need}/syndicates?lead={env.ids["inv"]}&amp;fragment=1"' in html
    assert "组建银团/联合投资" in html
    page = console_client(env, "inv").get(f"/web/needs/{need}/syndicates?lang=zh")
    assert page.status_code == 200
    names = re.findall(r'<span class="member-name">(?:<span class="chip ok">领投</span> )?([^<]+)</span>', page.text)
    assert names == [m["name"] for s in mine["items"] for m in s["members"]]
    sets = page.text[page.text.index('<ol class="syndicate-list">'):]
    assert "拟投 不公开" in sets and "单笔" not in sets and "共同投资" not in sets
    staff = env.get(f"/v1/needs/{need}/syndicates", "admin", lead=env.ids["inv"]).json()
    members = re.sub(r'<div class="set-head">.*?</div>', "", sets, flags=re.S)  # the totals (the need's amount) aside
    for m in (m for s in staff["items"] for m in s["members"]):
        shown = re.escape(money(m["amount"], "zh"))
        assert not re.search(rf"(?<![\d,]){shown}", members)  # no share, the lead's own neither
        for lo_hi in (m["ticket_min"], m["ticket_max"]):
            assert lo_hi is None or not re.search(rf"(?<![\d,]){re.escape(money(lo_hi, 'zh'))}", members)
    fragment = console_client(env, "inv").get(f"/web/needs/{need}/syndicates?lead={env.ids['inv']}&fragment=1")
    assert "<html" not in fragment.text
    assert 'class="syndicate-sets"' in fragment.text
    other = console_client(env, "inv").get(f"/web/needs/{need}/syndicates?lead={env.ids['inv2']}&lang=en")
    assert "may name only itself" in other.text  # the service's 403, shown in the panel


def test_opening_the_panel_loads_the_sets_in_the_browser(live: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = live
    ent, need, mine = _deal_with_sets(env)
    page = sign_in(chromium, base, env.keys["inv"])
    page.goto(f"{base}/web/investor?lang=zh")
    card = page.locator(f"li.deal[data-enterprise='{ent}']").first
    box = card.locator("details.syndicate")
    assert box.locator("summary").inner_text() == "组建银团/联合投资"
    box.locator("summary").click()
    sets = box.locator(".syndicate-set")
    sets.first.wait_for()
    assert box.get_attribute("data-loaded") == "done"
    assert sets.count() == len(mine["items"])
    first = [m["name"] for m in mine["items"][0]["members"]]
    assert [x.inner_text().removeprefix("领投").strip() for x in sets.first.locator(".member-name").all()] == first
    assert "家合计" in sets.first.locator(".set-head").inner_text()
    assert "不公开" in sets.first.inner_text()
    card.scroll_into_view_if_needed()
    shoot(page, "issue17-syndicates-investor")
    page.context.close()

    owner = _owner_key(env, ent)
    page = sign_in(chromium, base, env.keys[owner])
    page.goto(f"{base}/web/enterprise?lang=zh")
    panel = page.locator("#syndicates")
    assert "组建银团/联合投资" in panel.locator("h2").inner_text()
    box = panel.locator(f"li[data-need='{need}'] details.syndicate")
    box.locator("summary").click()
    box.locator(".syndicate-set").first.wait_for()
    own = env.get(f"/v1/needs/{need}/syndicates", owner).json()
    text = box.locator(".syndicate-set").first.inner_text()
    assert "拟投" in text and "不公开" not in text  # the enterprise sees the shares of its own need's sets
    assert [x.inner_text().strip() for x in box.locator(".syndicate-set").first.locator(".member-name").all()] == \
        [m["name"] for m in own["items"][0]["members"]]
    panel.scroll_into_view_if_needed()
    shoot(page, "issue17-syndicates-enterprise")
    page.goto(f"{base}/web/enterprise?lang=en")
    box = page.locator(f"#syndicates li[data-need='{need}'] details.syndicate")
    box.locator("summary").click()
    box.locator(".syndicate-set").first.wait_for()
    assert "investors together" in box.inner_text() and "Share" in box.inner_text()
    page.locator("#syndicates").scroll_into_view_if_needed()
    shoot(page, "issue17-syndicates-enterprise-en")
    page.context.close()
