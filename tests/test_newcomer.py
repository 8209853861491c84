"""Issue 17, item 4: the first hour of a newcomer, through the app (TestClient) on a real database.

The service's root leads to the console, which links to the API docs; a deal card shows a band a person reads
right (the probability on hover, bands in card order); an enterprise without an open need can publish one from
its page and sees the lenders it could use meanwhile; the data scientist's page queues a retraining job and
follows it, saying when no worker runs it; ``serve --demo`` prints one sign-in key per role, once.
The wording of every reason and console text: ``test_newcomer_wording.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service, console_client

from api.web.parties import match_band
from cli.commands import serve as serve_cmd
from cli.commands.common import console
from matching.rules.products import financing_products
from store import keys as keys_db


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("newcomer")) as env:
        yield env




def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


# -- 1. the root leads to the console, the console to the docs -----------------------------------------------
def test_the_root_leads_to_the_console_and_the_console_to_the_docs(api: ApiEnv) -> None:
    client = TestClient(api.client.app, follow_redirects=False)
    root = client.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/web"
    assert client.get("/web").headers["location"] == "/web/signin"
    signin = client.get("/web/signin")
    assert 'href="/docs"' in signin.text and "API 文档" in signin.text
    assert 'href="/docs"' in client.get("/web/signin?lang=en").text
    assert client.get("/docs").status_code == 200
    assert "/" not in client.get("/openapi.json").json()["paths"]  # the redirect is not part of the API
    signed = console_client(api, "inv")
    assert signed.get("/").headers["location"] == "/web"
    assert signed.get("/web").headers["location"] == "/web/investor"


# -- 2. the deal card's band -----------------------------------------------------------------------------
def test_bands_follow_the_place_in_the_list() -> None:
    assert [match_band(i, 10) for i in range(10)] == ["high"] * 3 + ["mid"] * 4 + ["low"] * 3
    assert match_band(0, 1) == "high" and [match_band(i, 2) for i in range(2)] == ["high", "mid"]


def test_a_deal_card_shows_a_band_with_the_probability_on_hover(api: ApiEnv) -> None:
    page = console_client(api, "inv").get("/web/investor").text
    assert not re.search(r"匹配度</small>\s*\d", page)  # the "匹配度 8" of a probability × 100 is gone
    cards = re.findall(r'<span class="rank">(\d+)</span>.*?class="score band band-(\w+)" data-score="([^"]+)" '
                       r'title="([^"]+)">([^<]+)<', page, flags=re.S)
    assert len(cards) >= 5
    assert [int(c[0]) for c in cards] == list(range(1, len(cards) + 1))
    order = {"high": 0, "mid": 1, "low": 2}
    bands = [order[c[1]] for c in cards]
    assert bands == sorted(bands) and bands[0] == 0  # bands never contradict the card order
    assert {c[4] for c in cards} <= {"高匹配", "中匹配", "低匹配"}
    for rank, _, score, title, _ in cards:
        shown = float(score) * 100 if float(score) <= 1 else float(score)
        assert f"第 {rank}/{len(cards)} 位" in title and f"{shown:.1f}" in title
    api_list = api.get(f"/v1/investors/{api.ids['inv']}/deals", "inv", k=20).json()
    assert all(isinstance(it["score"], float) for it in api_list["items"])  # the API's numeric score stays
    assert "band" not in api_list["items"][0]
    en = console_client(api, "inv").get("/web/investor?lang=en").text
    assert "Strong match" in en and "in this list" in en


# -- 4. an enterprise without an open need ---------------------------------------------------------------
@pytest.fixture(scope="module")
def newcomer(api: ApiEnv) -> tuple[int, str]:
    """An active enterprise with no live need (open or in negotiation), and a key for it."""
    ent = api.sql("SELECT e.id FROM enterprises e WHERE e.status = 'active' AND NOT EXISTS (SELECT 1 FROM "
                  "financing_needs n WHERE n.enterprise_id = e.id AND n.status IN ('open', 'in_progress')) "
                  "ORDER BY e.id LIMIT 1")[0][0]
    with api.db.connect(autocommit=True) as conn:
        secret = keys_db.create_key(conn, role="enterprise", enterprise_id=ent, label="test newcomer").secret
    return ent, secret


def test_an_enterprise_without_a_need_sees_the_form_and_the_lenders(api: ApiEnv, newcomer: tuple[int, str]) -> None:
    ent, secret = newcomer
    page = console_client(api, secret=secret).get("/web/enterprise")
    assert page.status_code == 200
    text = page.text
    assert "贵企业还没有开放的融资需求" in text and 'action="/web/enterprise/needs"' in text
    assert "发布融资需求" in text and "现在就可申请的融资产品" in text
    expected = financing_products(api.state.matcher.snap, ent)
    assert expected, "the generated market has lenders covering every enterprise"
    shown = re.findall(r'<li class="product"><strong>([^<]+)</strong>', text)
    assert shown == [p.name for p in expected]
    types = {p.investor_type for p in expected}
    assert types <= {"bank", "guarantee", "lender"}
    assert all(p.instruments and set(p.instruments) <= {"convertible", "ipo_loan", "warrant_loan", "ip_pledge",
                                                         "equity_pledge"} for p in expected)
    # the rule is the hard rules': an investor type the enterprise excludes is never offered
    with api.db.connect(autocommit=True) as conn:
        excluded = conn.execute("SELECT excluded_investor_types FROM enterprises WHERE id = %s", (ent,)).fetchone()[0]
    assert not set(excluded or ()) & types
    # an enterprise with an open need sees its funds, not the form
    assert 'action="/web/enterprise/needs"' not in console_client(api, "ent").get("/web/enterprise").text


def test_a_need_in_negotiation_counts_as_live_on_the_enterprise_page(api: ApiEnv) -> None:
    """A need 洽谈中 is matched and shown to investors (and gets syndicates): the page must not say the enterprise
    has no open need and offer the form instead, as it did when it counted status 'open' alone."""
    rows = api.sql("SELECT e.id FROM enterprises e WHERE e.status = 'active' AND EXISTS (SELECT 1 FROM financing_needs "
                   "n WHERE n.enterprise_id = e.id AND n.status = 'in_progress') AND NOT EXISTS (SELECT 1 FROM "
                   "financing_needs n WHERE n.enterprise_id = e.id AND n.status = 'open') ORDER BY e.id LIMIT 1")
    assert rows, "the generated market has an enterprise whose only live need is in negotiation"
    with api.db.connect(autocommit=True) as conn:
        secret = keys_db.create_key(conn, role="enterprise", enterprise_id=rows[0][0], label="test live").secret
    text = console_client(api, secret=secret).get("/web/enterprise").text
    assert "贵企业还没有开放的融资需求" not in text and 'action="/web/enterprise/needs"' not in text


def test_publishing_a_need_from_the_console(api: ApiEnv, newcomer: tuple[int, str]) -> None:
    ent, secret = newcomer
    client = console_client(api, secret=secret)
    csrf = csrf_of(client.get("/web/enterprise").text)
    form = {"instrument": "ip_pledge", "amount": "2000", "round": "", "closes_on": "2027-06-30",
            "use_of_funds": "扩建产线", "enterprise_id": str(ent)}
    assert client.post("/web/enterprise/needs", data=form).status_code == 403  # no CSRF token
    bad = client.post("/web/enterprise/needs", data={**form, "csrf": csrf, "amount": "两千"})
    assert bad.status_code == 422 and "金额须为数字（万元），收到：两千" in bad.text
    assert "<code>amount</code>" in bad.text
    for odd in ("nan", "inf", "-5", "1e400", "1e12", "", " "):  # never a 500, never a need
        r = client.post("/web/enterprise/needs", data={**form, "csrf": csrf, "amount": odd})
        assert r.status_code == 422 and "amount" in r.text, (odd, r.status_code)
    bad_instr = client.post("/web/enterprise/needs", data={**form, "csrf": csrf, "instrument": "gold"})
    assert bad_instr.status_code == 422 and "instrument" in bad_instr.text
    assert api.sql("SELECT count(*) FROM financing_needs WHERE enterprise_id = %s", (ent,))[0][0] == \
        api.sql("SELECT count(*) FROM financing_needs WHERE enterprise_id = %s AND status <> 'open'", (ent,))[0][0]
    other = client.post("/web/enterprise/needs", data={**form, "csrf": csrf, "enterprise_id": str(api.ids["ent"])})
    assert other.status_code == 403  # another enterprise's: as POST /v1/needs answers it
    ok = client.post("/web/enterprise/needs", data={**form, "csrf": csrf})
    assert ok.status_code == 303 and ok.headers["location"].startswith("/web/enterprise?published=")
    need_id = int(ok.headers["location"].rsplit("=", 1)[1])
    row = api.sql("SELECT enterprise_id, instrument, amount, status, closes_on::text, use_of_funds FROM "
                  "financing_needs WHERE id = %s", (need_id,))[0]
    assert row == (ent, "ip_pledge", 20_000_000, "open", "2027-06-30", "扩建产线")
    after = client.get(ok.headers["location"]).text
    assert f"融资需求（编号 {need_id}）已发布" in after and 'action="/web/enterprise/needs"' not in after
    assert api.get(f"/v1/needs/{need_id}", "admin").json()["amount"] == 20_000_000  # the API sees it
    inv = console_client(api, "inv")
    refused = inv.post("/web/enterprise/needs", data={**form, "csrf": inv.cookies["cc_csrf"]})
    assert refused.status_code in (303, 403) and api.sql(
        "SELECT count(*) FROM financing_needs WHERE enterprise_id = %s", (ent,))[0][0] >= 1


# -- 6. the data scientist's retrain button ---------------------------------------------------------------
def test_the_models_page_queues_a_job_and_says_when_no_worker_runs_it(api: ApiEnv) -> None:
    client = console_client(api, "ds")
    page = client.get("/web/models").text
    assert 'action="/web/models/retrain"' in page and "开始训练" in page
    assert client.post("/web/models/retrain", data={}).status_code == 403  # no CSRF token
    queued = client.post("/web/models/retrain", data={"csrf": csrf_of(page), "promote": "true"})
    assert queued.status_code == 303 and queued.headers["location"].startswith("/web/models?job=")
    job_id = queued.headers["location"].rsplit("=", 1)[1]
    assert api.sql("SELECT status, params->>'promote' FROM model_jobs WHERE id = %s", (job_id,)) == [("queued", "true")]
    shown = client.get(queued.headers["location"]).text
    assert job_id in shown and "排队中" in shown and 'http-equiv="refresh"' in shown
    assert "等待 capconnect worker" in shown and 'action="/web/models/retrain"' not in shown
    api_job = api.get(f"/v1/models/jobs/{job_id}", "ds").json()
    assert api_job["status"] == "queued"
    again = client.post("/web/models/retrain", data={"csrf": csrf_of(client.get("/web/models").text)})
    assert again.status_code == 409 and job_id in again.text  # one job at a time, the unfinished one named
    api.sql("UPDATE model_jobs SET created_at = now() - interval '1 minute' WHERE id = %s RETURNING id", (job_id,))
    late = client.get("/web/models").text  # without ?job=: the queued one
    assert "似乎没有运行中的 capconnect worker" in late and job_id in late
    api.sql("UPDATE model_jobs SET status = 'running', started_at = now(), log = ARRAY['loading the market'] "
            "WHERE id = %s RETURNING id", (job_id,))
    running = client.get(f"/web/models?job={job_id}&lang=en").text
    assert "Running" in running and "loading the market" in running and "no capconnect worker" not in running
    api.sql("UPDATE model_jobs SET status = 'failed', finished_at = now(), error = 'stopped by the test' "
            "WHERE id = %s RETURNING id", (job_id,))
    done = client.get(f"/web/models?job={job_id}&lang=zh").text
    assert "失败" in done and "stopped by the test" in done and 'http-equiv="refresh"' not in done
    assert 'action="/web/models/retrain"' in done
    assert "不存在" in client.get("/web/models?job=nope").text or "nope" in client.get("/web/models?job=nope").text
    inv = console_client(api, "inv")
    assert inv.post("/web/models/retrain", data={"csrf": inv.cookies["cc_csrf"]}).status_code in (303, 403)
    assert api.sql("SELECT count(*) FROM model_jobs")[0][0] == 1


# -- 5. serve --demo: one key per role, once -------------------------------------------------------------
def test_serve_demo_prints_one_key_per_role_and_reuses_them(api: ApiEnv) -> None:
    with console.capture() as first:
        serve_cmd._print_key_hint(api.db, True, "http://127.0.0.1:8000")
    out = first.get()
    assert "console: http://127.0.0.1:8000/web" in out
    secrets = dict(re.findall(r"^\s+(\w+)\s+(cck_\S+)\s", out, flags=re.M))
    assert set(secrets) == {"investor", "enterprise", "operator", "data_scientist", "admin"}
    with api.db.connect() as conn:
        for role, secret in secrets.items():
            key = keys_db.verify_key(conn, secret)
            assert key is not None and key.role == role
    for role, page in serve_cmd.DEMO_ROLES:  # each key signs in to its page
        client = console_client(api, secret=secrets[role])
        assert client.get("/web").headers["location"] == page, role
    n_keys = api.sql("SELECT count(*) FROM api_keys")[0][0]
    with console.capture() as second:
        serve_cmd._print_key_hint(api.db, True, "http://127.0.0.1:8000")
    again = second.get()
    assert api.sql("SELECT count(*) FROM api_keys")[0][0] == n_keys  # nothing new: the same keys
    assert not re.search(r"cck_[A-Za-z0-9]+_[A-Za-z0-9]{8,}", again)  # secrets are not recoverable, not shown
    assert again.count("existing key") == 5 and "capconnect keys create --role enterprise --for" in again
    assert "capconnect keys create --role admin`" in again
