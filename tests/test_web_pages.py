"""The web console through the app (TestClient): sign-in, pages per role, redirects, 403s, language, CSRF,
funnel buttons, disclosure on the profile page, bulk import errors and the safe serving of model plots.
The same pages in a real browser: ``test_web_e2e.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service, console_client

from store import keys as keys_db
from store import registry


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("web_pages")) as env:
        yield env




def test_pages_redirect_to_sign_in_without_a_session(api: ApiEnv) -> None:
    client = TestClient(api.client.app, follow_redirects=False)
    for path in ("/web/investor", "/web/enterprise", "/web/operator", "/web/models", "/web/enterprises/1"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/web/signin?next=%2Fweb%2F"), path
    assert client.get("/web").headers["location"] == "/web/signin"
    client.cookies.set("cc_session", "cck_nothing_real")
    forged = client.get("/web/investor")
    assert forged.status_code == 303 and "why=session_expired" in forged.headers["location"]


def test_sign_in_sets_a_strict_http_only_cookie_and_checks_the_key(api: ApiEnv) -> None:
    client = console_client(api)
    csrf = client.cookies["cc_csrf"]
    bad = client.post("/web/signin", data={"api_key": "cck_abc_wrong", "csrf": csrf})
    assert bad.status_code == 401 and "密钥无效" in bad.text
    revoked = client.post("/web/signin", data={"api_key": api.keys["revoked"], "csrf": csrf})
    assert revoked.status_code == 401 and "已被吊销" in revoked.text
    no_csrf = client.post("/web/signin", data={"api_key": api.keys["inv"]})
    assert no_csrf.status_code == 403 and "cc_session" not in no_csrf.cookies
    ok = client.post("/web/signin", data={"api_key": api.keys["inv"], "csrf": csrf,
                                          "next": "/web/investor?tier=growth"})
    assert ok.status_code == 303 and ok.headers["location"] == "/web/investor?tier=growth"
    cookie = ok.headers["set-cookie"].lower()
    assert "cc_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    csrf = client.cookies["cc_csrf"]  # signed in: the session's own token
    elsewhere = client.post("/web/signin", data={"api_key": api.keys["inv"], "csrf": csrf, "next": "//evil.example"})
    assert elsewhere.headers["location"] == "/web/investor"
    out = client.post("/web/signout", data={"csrf": client.cookies["cc_csrf"]})
    assert out.status_code == 303 and client.get("/web/investor").status_code == 303


@pytest.mark.parametrize(("key", "path", "text"), [
    ("inv", "/web/investor", "为您推荐的项目"),
    ("ent", "/web/enterprise", "为您推荐的资金方"),
    ("operator", "/web/operator", "撮合成效"),
    ("admin", "/web/operator?from=2024-01-01&metric=meetings", "<svg"),
    ("ds", "/web/models", "还没有训练好的模型"),
])
def test_each_role_sees_its_page(api: ApiEnv, key: str, path: str, text: str) -> None:
    client = console_client(api, key)
    assert client.get("/web").headers["location"] == {"inv": "/web/investor", "ent": "/web/enterprise",
                                                      "ds": "/web/models"}.get(key, "/web/operator")
    r = client.get(path)
    assert r.status_code == 200 and text in r.text and r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(("key", "path"), [("inv", "/web/operator"), ("inv", "/web/models"), ("ent", "/web/investor"),
                                           ("ds", "/web/investor"), ("ds", "/web/enterprise"),
                                           ("operator", "/web/models")])
def test_the_wrong_role_gets_a_403_page(api: ApiEnv, key: str, path: str) -> None:
    r = console_client(api, key).get(path)
    assert r.status_code == 403 and "无权访问" in r.text


def test_the_deal_list_is_logged_and_shows_reasons(api: ApiEnv) -> None:
    before = api.sql("SELECT count(*) FROM served_lists WHERE investor_id = %s", (api.ids["inv"],))[0][0]
    page = console_client(api, "inv").get("/web/investor").text
    rows = api.sql("SELECT id::text, model_version FROM served_lists WHERE investor_id = %s ORDER BY created_at DESC",
                   (api.ids["inv"],))
    assert len(rows) == before + 1 and rows[0][0] in page and (rows[0][1] or "content-rules") in page
    assert page.count('class="card deal') >= 5 and page.count('class="reason ') >= 5


def test_filters_narrow_the_list_and_bad_ones_say_why(api: ApiEnv) -> None:
    client = console_client(api, "inv")
    growth = client.get("/web/investor", params={"tier": "growth"}).text
    assert "基础层" not in growth.split('class="deals"')[-1]
    bad = client.get("/web/investor", params={"amount_min": "lots"})
    assert bad.status_code == 422 and "amount_min" in bad.text


def test_language_switch_is_remembered(api: ApiEnv) -> None:
    client = console_client(api, "inv")
    en = client.get("/web/investor", params={"lang": "en"})
    assert en.status_code == 200 and "Deals for you" in en.text and '<html lang="en">' in en.text
    assert client.cookies["cc_lang"] == "en"
    assert "Deals for you" in client.get("/web/investor").text
    assert "为您推荐的项目" in client.get("/web/investor", params={"lang": "zh"}).text


def _button_form(page: str, event_type: str) -> dict[str, str]:
    """The hidden fields of the first card's button posting ``event_type``."""
    start = page.index(f'name="event_type" value="{event_type}"')
    form = page[page.rindex("<form", 0, start):page.index("</form>", start)]
    fields = {}
    for chunk in form.split('<input type="hidden" ')[1:]:
        name = chunk.split('name="')[1].split('"')[0]
        fields[name] = chunk.split('value="')[1].split('"')[0]
    return fields


def test_buttons_post_events_idempotently_behind_csrf(api: ApiEnv) -> None:
    client = console_client(api, "inv")
    form = _button_form(client.get("/web/investor").text, "saved")
    forged = client.post("/web/investor/events", data={**form, "csrf": "forged"})
    assert forged.status_code == 403 and "表单已过期" in forged.text
    key = f"api/i{api.ids['inv']}/{form['event_id']}"
    assert api.sql("SELECT count(*) FROM funnel_events WHERE event_key = %s", (key,)) == [(0,)]
    first = client.post("/web/investor/events", data=form, headers={"X-Requested-With": "fetch"})
    assert first.status_code == 201 and first.json()["ok"] is True
    again = client.post("/web/investor/events", data=form)
    assert again.status_code == 303
    assert api.sql("SELECT event_type, list_id::text, actor FROM funnel_events WHERE event_key = %s", (key,)) == [
        ("saved", form["list_id"], "investor")]
    other = client.post("/web/investor/events", data={**form, "investor_id": str(api.ids["inv2"])},
                        headers={"X-Requested-With": "fetch"})
    assert other.status_code == 403 and other.json()["ok"] is False


def test_the_profile_names_what_is_withheld_until_contact_is_accepted(api: ApiEnv) -> None:
    ent = api.sql("SELECT id FROM enterprises WHERE tier = 'basic' AND disclosure = 'tier_default' "
                  "ORDER BY id LIMIT 1")[0][0]
    inv = console_client(api, "inv2")
    page = inv.get(f"/web/enterprises/{ent}").text
    assert "基础层企业仅披露公开信息" in page and "企业同意您的联系请求后披露" in page
    with api.db.connect(autocommit=True) as conn:
        api.keys["basic_ent"] = keys_db.create_key(conn, role="enterprise", enterprise_id=ent, label="web").secret
    owner = console_client(api, "basic_ent")
    csrf = owner.cookies["cc_csrf"]
    r = owner.post("/web/enterprise/contacts", data={"csrf": csrf, "investor_id": api.ids["inv2"],
                                                     "enterprise_id": ent, "decision": "accept"})
    assert r.status_code == 303 and r.headers["location"] == "/web/enterprise?answered=accept"
    revealed = inv.get(f"/web/enterprises/{ent}").text
    assert "财务数据已向您披露" in revealed and "企业同意您的联系请求后披露" not in revealed


def test_the_enterprise_sees_and_answers_contact_requests(api: ApiEnv) -> None:
    ent = api.ids["ent"]
    api.post("/v1/events", "inv", {"event_id": "web-req-1", "event_type": "contact_requested",
                                   "investor_id": api.ids["inv"], "enterprise_id": ent})
    client = console_client(api, "ent")
    page = client.get("/web/enterprise").text
    assert f'data-investor="{api.ids["inv"]}"' in page
    r = client.post("/web/enterprise/contacts", data={"csrf": client.cookies["cc_csrf"], "investor_id": api.ids["inv"],
                                                      "enterprise_id": ent, "decision": "decline"})
    assert r.status_code == 303
    assert f'data-investor="{api.ids["inv"]}"' not in client.get("/web/enterprise").text
    assert api.sql("SELECT actor FROM funnel_events WHERE event_type = 'declined' AND investor_id = %s AND "
                   "enterprise_id = %s AND source = 'api'", (api.ids["inv"], ent)) == [("enterprise",)]


def test_an_upload_with_a_bad_row_lists_the_row_on_the_page(api: ApiEnv) -> None:
    client = console_client(api, "operator")
    csv = ("name,credit_code,tier,district\n测试企业甲,91500000MA5U000010,basic,渝北区\n"
           "测试企业乙,91500000MA5U000023,platinum,渝北区\n").encode()
    r = client.post("/web/operator/import", data={"csrf": client.cookies["cc_csrf"], "entity": "enterprises"},
                    files={"file": ("bad.csv", csv, "text/csv")})
    assert r.status_code == 200 and 'id="import-result"' in r.text
    table = r.text.split('class="table errors"')[1]
    assert "platinum" in table and '<td class="num">3</td>' in table and '<td class="num">2</td>' not in table
    assert api.sql("SELECT count(*) FROM enterprises WHERE name LIKE '测试企业%%'") == [(0,)]


def test_model_plots_are_served_only_when_the_manifest_lists_them(api: ApiEnv, tmp_path: Path) -> None:
    folder = tmp_path / "vweb"
    (folder / "plots").mkdir(parents=True)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    for name in ("plots/listed.png", "plots/unlisted.png", "model.txt"):
        (folder / name).write_bytes(png)
    manifest = {"files": {"plots/listed.png": "x", "model.txt": "y"}}
    with api.db.connect(autocommit=True) as conn:
        registry.register(conn, "vweb", str(folder), manifest, {"primary": 0.5, "baselines_primary": {"random": 0.1}})
    client = console_client(api, "ds")
    page = client.get("/web/models").text
    assert "vweb" in page and "/web/models/vweb/files/plots/listed.png" in page and "unlisted" not in page
    ok = client.get("/web/models/vweb/files/plots/listed.png")
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png" and ok.content == png
    for bad in ("plots/unlisted.png", "model.txt", "../vweb/plots/listed.png", "plots/%2e%2e/model.txt"):
        assert client.get(f"/web/models/vweb/files/{bad}").status_code == 404, bad
    assert 'name="force"' not in page  # forcing past the quality gate is an admin's
    refused = client.post("/web/models/vweb/promote", data={"csrf": client.cookies["cc_csrf"], "force": "true"})
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert "只有管理员可以越过质量门槛" in refused.text
    assert api.sql("SELECT status FROM model_versions WHERE version = 'vweb'")[0][0] != "active"


def test_the_models_page_says_which_scorer_serves_and_why(api: ApiEnv, tmp_path: Path) -> None:
    served = {"investor": {"name": "blend(affinity, 0.5)", "why": "validation NDCG@10 on new_pairs: 0.1065"},
              "enterprise": {"name": "affinity", "why": "validation NDCG@10 on new_pairs: 0.0974"}}
    with api.db.connect(autocommit=True) as conn:
        registry.register(conn, "vserved", str(tmp_path), {"files": {}}, {"primary": 0.1, "served": served})
    page = console_client(api, "ds").get("/web/models").text
    card = page.split('id="model-vserved"')[1].split("</section>")[0]
    assert "机构端项目清单所用评分: <b>blend(affinity, 0.5)</b>" in card
    assert "企业端机构清单所用评分: <b>affinity</b>" in card and "validation NDCG@10 on new_pairs: 0.0974" in card



def test_the_default_report_period_ends_on_the_last_event_when_the_data_stops_before_today(api: ApiEnv) -> None:
    """Known answer inside a transaction rolled back: with the events after an earlier one deleted, the default
    period ends on that event's day (China time); an event today gives ``None`` (today, the API's default)."""
    from datetime import datetime, timedelta

    from api.services.reports import CHINA, data_end
    with api.db.connect() as conn:
        cut = conn.execute("SELECT max(occurred_at) FROM funnel_events WHERE occurred_at < now() - interval '3 days'"
                           ).fetchone()[0]
        assert cut is not None
        conn.execute("DELETE FROM funnel_events WHERE occurred_at > %s", (cut,))
        assert data_end(conn) == cut.astimezone(CHINA).date()
        conn.execute("UPDATE funnel_events SET occurred_at = now() - interval '1 minute'")
        assert data_end(conn) is None
        conn.execute("DELETE FROM funnel_events")
        assert data_end(conn) is None
        conn.rollback()
    with api.db.connect() as conn:
        data_end_now = data_end(conn)
    page = console_client(api, "operator").get("/web/operator").text
    day = data_end_now or datetime.now(CHINA).date()
    assert f"{day - timedelta(days=29)} — {day}" in page
    assert ('class="data-end"' in page) == (data_end_now is not None)
    asked = console_client(api, "operator").get("/web/operator?from=2024-01-01&to=2024-01-31").text
    assert "2024-01-01 — 2024-01-31" in asked and 'class="data-end"' not in asked
