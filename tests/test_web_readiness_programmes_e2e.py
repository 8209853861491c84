"""Issue 18 in a real browser: listing readiness and support programmes in the console.

Headless Chromium (Debian's ``chromium``) driven by Playwright against a live uvicorn server over the small
generated market of :mod:`helpers_api`, with the sample programmes loaded (as ``capconnect serve --demo``
does). Journeys: an enterprise signs in and sees its readiness per target and the programmes it qualifies
for (the same as its API answers); staff see the listing pipeline with counts and the programmes with
qualified / told counts; an operator imports a programmes file with a bad row, which is refused and named
(nothing written); an operator downloads the 企业画像 export from the console. Every page is saved at
laptop (1366×768) and phone (390×844) widths under ``test-artifacts/screenshots/issue18-*.png`` (not
committed).

The server and browser fixtures are :mod:`test_web_e2e`'s (Chromium is required there, with the fix).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from helpers_api import ApiEnv
from test_web_e2e import LAPTOP, PHONE, SHOTS, chromium, live, shoot, sign_in  # noqa: F401  (fixtures)

from store import programmes as programmes_db


@pytest.fixture(scope="module")
def market(live: tuple[ApiEnv, str]) -> tuple[ApiEnv, str]:  # noqa: F811
    """The live service with the sample programmes loaded."""
    env, base = live
    with env.db.connect(autocommit=True) as conn:
        programmes_db.load_sample_if_empty(conn)
    return env, base



def test_an_enterprise_sees_its_readiness_per_target(market: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = market
    answer = env.get(f"/v1/enterprises/{env.ids['ent']}/readiness", "ent").json()
    page = sign_in(chromium, base, env.keys["ent"])
    panel = page.locator("#readiness")
    targets = panel.locator(".readiness-target")
    assert [(x.get_attribute("data-target"), x.get_attribute("data-status")) for x in targets.all()] == [
        (t["target"], t["status"]) for t in answer["targets"]]
    for t in answer["targets"]:
        shown = panel.locator(f".readiness-target[data-target='{t['target']}']")
        assert t["status_zh"] in shown.locator("h3").inner_text()
        best = next(s for s in t["sets"] if s["code"] == t["best_set"])
        rows = shown.locator("table.readiness-table").first.locator("tbody tr")
        assert rows.count() == len(best["criteria"]), t["target"]
        assert [r.get_attribute("class") for r in rows.all()] == [f"rd-{c['status']}" for c in best["criteria"]]
        if t["placeholder"]:  # a regional tier's figures are placeholders: the page says so
            assert "待确认" in shown.inner_text(), t["target"]
    assert any(t["placeholder"] for t in answer["targets"]), "the next tier's standard should be a placeholder"
    names = {t["target"]: t["zh"] for t in answer["targets"]}
    assert panel.locator("ol.readiness-changes li").all_inner_texts() == [  # each change names its target
        f"{names[c['target']]} · {c['text_zh']}" for c in answer["changes"]]
    panel.scroll_into_view_if_needed()
    shoot(page, "issue18-enterprise-readiness")
    page.goto(f"{base}/web/enterprise?lang=en")
    assert answer["targets"][0]["status_en"] in page.locator("#readiness .readiness-target h3").first.inner_text()
    shoot(page, "issue18-enterprise-readiness-en")
    page.context.close()


def test_staff_see_the_listing_pipeline_with_counts(market: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = market
    report = env.get("/v1/reports/readiness", "operator").json()
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/readiness")
    rows = page.locator("table.pipeline-table tbody tr")
    assert [r.get_attribute("data-target") for r in rows.all()] == [t["target"] for t in report["targets"]]
    for t in report["targets"]:
        cells = page.locator(f"table.pipeline-table tr[data-target='{t['target']}'] td.num").all_inner_texts()
        counts = [t["assessed"], *(t["counts"][k] for k in ("met", "met_on_platform_data", "near", "far", "unknown"))]
        assert cells == [f"{n:,}" for n in counts], t["target"]
    assert sum(t["assessed"] for t in report["targets"]) > 0
    shoot(page, "issue18-staff-pipeline")
    page.select_option("select[name=district]", "500112")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    narrowed = env.get("/v1/reports/readiness", "operator", district="500112").json()
    first = narrowed["targets"][0]
    assert page.locator(f"table.pipeline-table tr[data-target='{first['target']}'] td.num").first.inner_text() == \
        f"{first['assessed']:,}"
    shoot(page, "issue18-staff-pipeline-yubei")
    page.context.close()


def test_an_enterprise_sees_the_programmes_it_qualifies_for(market: tuple[ApiEnv, str],
                                                           chromium: Any) -> None:  # noqa: F811
    env, base = market
    answer = env.get(f"/v1/enterprises/{env.ids['ent']}/programmes", "admin").json()  # staff: marks nothing read
    assert answer["qualifies"] or answer["near_misses"], "the sample programmes fit no enterprise: data changed"
    page = sign_in(chromium, base, env.keys["ent"])
    assert page.url.endswith("/web/enterprise")
    panel = page.locator("#programmes")
    assert [x.get_attribute("data-ref") for x in panel.locator("li.programme.qualifies").all()] == [
        p["ref"] for p in answer["qualifies"]]
    assert [x.get_attribute("data-ref") for x in panel.locator("li.programme.near").all()] == [
        p["ref"] for p in answer["near_misses"]]
    assert "示例数据" in panel.inner_text()  # sample data says so
    for near in answer["near_misses"]:
        shown = panel.locator(f"li.programme.near[data-ref='{near['ref']}'] li.missing").all_inner_texts()
        assert shown == [m["zh"] for m in near["missing"]]
    panel.scroll_into_view_if_needed()
    shoot(page, "issue18-enterprise-programmes")
    page.goto(f"{base}/web/enterprise?lang=en")
    assert "Support programmes" in page.locator("#programmes h2").inner_text()
    shoot(page, "issue18-enterprise-programmes-en")
    page.context.close()


def test_staff_see_programmes_with_counts(market: tuple[ApiEnv, str], chromium: Any) -> None:  # noqa: F811
    env, base = market
    overview = env.get("/v1/programmes", "operator").json()
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/programmes")
    rows = page.locator("table.programmes-table tbody tr")
    assert rows.count() == overview["total"] > 0
    for item in overview["items"]:
        cells = page.locator(f"tr[data-ref='{item['ref']}'] td.num").all_inner_texts()
        assert cells == [f"{item['qualified']:,}", f"{item['near_misses']:,}", f"{item['told']:,}"], item["ref"]
    shoot(page, "issue18-staff-programmes")
    page.context.close()


def test_an_operator_imports_programmes_and_a_bad_row_is_refused_and_named(
        market: tuple[ApiEnv, str], chromium: Any, tmp_path: Path) -> None:  # noqa: F811
    env, base = market
    before = env.sql("SELECT count(*) FROM programmes")[0][0]
    bad = tmp_path / "扶持政策.csv"
    bad.write_bytes(("政策编号,政策名称,发布单位,政策类型,适用层级,单户最高金额(万元)\r\n"
                     "E2E-01,浏览器测试贴息,测试单位,贴息,成长层,30\r\n"
                     "E2E-02,浏览器测试奖补,测试单位,发红包,基础层,10\r\n").encode("gb18030"))
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/operator")
    page.select_option("select[name=entity]", "programmes")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#import button[type=submit]")
    page.wait_for_selector("#import-result")
    result = page.locator("#import-result")
    assert "bad" in (result.get_attribute("class") or "")
    errors = result.locator("table").inner_text()
    assert "发红包" in errors and "3" in errors, errors  # the value and the row (header = row 1)
    assert "第 3 行" in result.locator(".alert").inner_text()
    assert env.sql("SELECT count(*) FROM programmes")[0][0] == before  # nothing written, not even row 2
    result.scroll_into_view_if_needed()
    shoot(page, "issue18-operator-programmes-import-refused")
    page.context.close()


def test_an_operator_downloads_the_profile_export(market: tuple[ApiEnv, str], chromium: Any,  # noqa: F811
                                                  tmp_path: Path) -> None:
    env, base = market
    page = sign_in(chromium, base, env.keys["operator"])
    page.goto(f"{base}/web/operator")
    section = page.locator("#profile-export")
    assert "企业画像导出" in section.locator("h2").inner_text()
    section.scroll_into_view_if_needed()
    shoot(page, "issue18-operator-profile-export")
    section.locator("select[name=encoding]").select_option("gb18030")
    with page.expect_download() as download:
        section.locator("button[type=submit]").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("gb18030"), newline="")))
    assert len(rows) == env.sql("SELECT count(*) FROM enterprises")[0][0]
    assert {r["schema_version"] for r in rows} == {"1.0"} and rows[0]["tier_zh"] in ("基础层", "成长层", "优选层")
    page.context.close()
