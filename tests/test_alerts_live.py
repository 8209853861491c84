"""Alerts end to end: a need created through the API reaches a webhook receiver on loopback, signed, exactly once
across a retry; dismissed enterprises, forbidden pairs and withheld figures never appear; access per role.

The service runs with its alert engine and a trained model (so alerts carry model reasons that disclosure must
rewrite); the receiver is a ``http.server`` thread that answers 500 to the first attempt of chosen notifications.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, copy_need, error_of, serve_trained_model, wait_for

from api import disclosure
from api.webhooks import ALERT_ID, ATTEMPT, verify
from matching.rules.constraints import violations


class Receiver:
    """A webhook receiver: records every POST, fails the first attempt of ids in ``fail_first``, dedupes by id."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes, float]] = []
        self.seen: dict[str, dict[str, Any]] = {}  # after dedupe: notification id → payload
        self.fail_first = False  # answer 500 to every notification's first attempt
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                outer.posts.append((headers, body, time.monotonic()))
                nid = headers[ALERT_ID]
                if outer.fail_first and headers[ATTEMPT] == "1":
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.seen.setdefault(nid, json.loads(body))  # the receiver's dedupe: once per id
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, nid: str) -> list[tuple[dict[str, str], bytes, float]]:
        return [p for p in self.posts if p[0][ALERT_ID] == nid]


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("alerts"), alert_engine=True, webhook_allow_private=True,
                     webhook_backoff_seconds=0.3, webhook_poll_seconds=0.2, alert_poll_seconds=0.5,
                     market_refresh_seconds=0) as env:
        serve_trained_model(env)
        env.extra["receiver"] = receiver = Receiver()
        for key in ("inv", "inv2"):
            r = env.client.put(f"/v1/investors/{env.ids[key]}/webhook", json={"url": receiver.url},
                               headers=env.auth(key))
            assert r.status_code == 200, r.text
            env.extra[f"secret_{key}"] = r.json()["secret"]
        yield env
        receiver.server.shutdown()


def _idle(api: ApiEnv) -> bool:
    """The engine has processed every queued change."""
    return api.sql("SELECT count(*) FROM alert_changes")[0][0] == 0 and bool(api.sql("SELECT 1 FROM alert_cursor"))


def _deal(api: ApiEnv, key: str, *, withheld: bool | None = None) -> dict[str, Any]:
    """An item of the investor's deal list (one whose figures are withheld from it, when asked)."""
    items = api.get(f"/v1/investors/{api.ids[key]}/deals", key, k=20).json()["items"]
    dismissed = {r[0] for r in api.sql("SELECT enterprise_id FROM funnel_events WHERE investor_id = %s AND "
                                       "event_type = 'dismissed'", (api.ids[key],))}
    for it in (it for it in items if it["enterprise"]["id"] not in dismissed):
        tier, choice = api.sql("SELECT tier, disclosure FROM enterprises WHERE id = %s", (it["enterprise"]["id"],))[0]
        hidden = disclosure.decide(role="investor", tier=tier, disclosure=choice,
                                   enterprise_id=it["enterprise"]["id"]).withheld
        if withheld is None or bool(hidden) == withheld:
            return it
    raise AssertionError(f"no deal with withheld={withheld} for {key}")


def _alerts(api: ApiEnv, key: str, **params: Any) -> dict[str, Any]:
    r = api.get(f"/v1/investors/{api.ids[key]}/alerts", key, **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_new_fitting_need_reaches_the_webhook_signed_and_exactly_once_across_a_retry(api: ApiEnv) -> None:
    rec = api.extra["receiver"]
    deal = _deal(api, "inv")
    rec.fail_first = True  # the receiver answers 500 to the first attempt
    t0 = time.monotonic()
    need = copy_need(api, deal["need"]["id"])
    assert wait_for(lambda: bool(api.sql("SELECT 1 FROM alerts WHERE investor_id = %s AND need_id = %s",
                                         (api.ids["inv"], need))), 60)
    expected_id = api.sql("SELECT id FROM alerts WHERE investor_id = %s AND need_id = %s", (api.ids["inv"], need))[0][0]
    assert wait_for(lambda: any(p[0][ATTEMPT] == "2" for p in rec.of(f"alert-{expected_id}")), 60), \
        api.sql("SELECT * FROM webhook_deliveries")
    rec.fail_first = False
    first = rec.of(f"alert-{expected_id}")[0]
    print(f"alert latency: need created → first signed POST received in {first[2] - t0:.2f} s")
    alert = api.sql("SELECT investor_id, enterprise_id, need_id FROM alerts WHERE id = %s", (expected_id,))[0]
    assert alert == (api.ids["inv"], deal["enterprise"]["id"], need)
    posts = rec.of(f"alert-{expected_id}")
    assert [p[0][ATTEMPT] for p in posts] == ["1", "2"]
    assert posts[0][1] == posts[1][1]  # the retry carries the same id and the same body
    for headers, body, _ in posts:
        assert verify(api.extra["secret_inv"], headers, body)
        assert not verify(api.extra["secret_inv2"], headers, body)  # another secret does not verify it
        assert not verify(api.extra["secret_inv"], headers, body + b" ")  # nor an altered body
    assert list(rec.seen).count(f"alert-{expected_id}") == 1
    payload = rec.seen[f"alert-{expected_id}"]
    assert payload["alert"]["need"]["id"] == need and payload["alert"]["alert_id"] == expected_id
    assert payload["alert"]["enterprise"]["id"] == deal["enterprise"]["id"]
    assert wait_for(lambda: api.sql("SELECT delivered_at FROM alerts WHERE id = %s", (expected_id,))[0][0] is not None,
                    10)  # the receiver answered; the outcome is recorded right after
    log = api.get(f"/v1/investors/{api.ids['inv']}/webhook/deliveries", "inv").json()["items"]
    mine = sorted((d["attempt"], d["status_code"], d["delivered"]) for d in log
                  if d["notification_id"] == f"alert-{expected_id}")
    assert mine == [(1, 500, False), (2, 204, True)]
    listed = _alerts(api, "inv")
    assert listed["unread"] >= 1 and listed["items"][0]["id"] == expected_id
    assert listed["items"][0]["delivered_at"] is not None and listed["items"][0]["read_at"] is None
    # never twice: the same need changed again (a new amount within range) alerts no more for this pair
    with api.db.connect(autocommit=True) as conn:
        conn.execute("UPDATE financing_needs SET use_of_funds = 'x', amount = amount + 1 WHERE id = %s", (need,))
    assert wait_for(lambda: _idle(api), 60)
    assert api.sql("SELECT count(*) FROM alerts WHERE investor_id = %s AND need_id = %s",
                   (api.ids["inv"], need))[0][0] == 1
    r = api.post(f"/v1/investors/{api.ids['inv']}/alerts/read", "inv", {"ids": [expected_id]})
    assert r.status_code == 200 and r.json()["marked"] == 1
    assert _alerts(api, "inv")["unread"] == listed["unread"] - 1


def test_a_dismissed_enterprise_never_alerts(api: ApiEnv) -> None:
    deal = _deal(api, "inv2")
    ent = deal["enterprise"]["id"]
    r = api.post("/v1/events", "inv2", {"event_id": "alerts-dismiss", "event_type": "dismissed",
                                        "investor_id": api.ids["inv2"], "enterprise_id": ent})
    assert r.status_code == 201, r.text
    need = copy_need(api, deal["need"]["id"])
    assert wait_for(lambda: _idle(api), 60)
    assert api.sql("SELECT count(*) FROM alerts WHERE investor_id = %s AND enterprise_id = %s",
                   (api.ids["inv2"], ent))[0][0] == 0
    assert not [p for p in api.extra["receiver"].posts if json.loads(p[1]).get("alert", {}).get("need", {}).get("id")
                == need and json.loads(p[1])["alert"]["investor_id"] == api.ids["inv2"]]


def test_a_withheld_figure_never_appears_in_an_alert(api: ApiEnv) -> None:
    deal = _deal(api, "inv", withheld=True)
    ent = deal["enterprise"]["id"]
    need = copy_need(api, deal["need"]["id"])
    assert wait_for(lambda: _idle(api), 60)
    rows = api.sql("SELECT id, body FROM alerts WHERE investor_id = %s AND need_id = %s", (api.ids["inv"], need))
    assert len(rows) == 1, "the copy of a listed deal's need should alert"
    alert_id, body = rows[0]
    tier, choice = api.sql("SELECT tier, disclosure FROM enterprises WHERE id = %s", (ent,))[0]
    decision = disclosure.decide(role="investor", tier=tier, disclosure=choice, enterprise_id=ent)
    hidden = {f for g in decision.withheld for f in disclosure.WITHHELD_FEATURES[g]}
    assert hidden and not {r["code"] for r in body["reasons"]} & {f"model:{f}" for f in hidden}
    assert all("value" not in r for r in body["reasons"])
    figures = api.sql("SELECT revenue, net_profit, patents, employees, rd_ratio, revenue_growth FROM "
                      "enterprise_financials WHERE enterprise_id = %s", (ent,))
    assert wait_for(lambda: f"alert-{alert_id}" in api.extra["receiver"].seen, 60)
    texts = [json.dumps(body, ensure_ascii=False), json.dumps(_alerts(api, "inv")["items"], ensure_ascii=False),
             json.dumps(api.extra["receiver"].seen[f"alert-{alert_id}"], ensure_ascii=False)]
    withheld_cols = [i for i, c in enumerate(("revenue", "net_profit", "patents", "employees", "rd_ratio",
                                              "revenue_growth")) if c in disclosure.withheld_figures(decision)]
    assert set(body["enterprise"]) == {"id", "name", "district", "tier", "industry"}  # public fields only
    assert set(body["need"]) == {"id", "ref", "instrument", "amount", "currency", "round", "closes_on"}
    amounts = [float(year[i]) for year in figures for i in withheld_cols if year[i] is not None and
               abs(float(year[i])) >= 10_000]  # yuan amounts: distinctive enough to search the text for
    assert amounts, "the test needs an enterprise with withheld yuan figures on file"
    for v in amounts:
        forms = {str(int(v)), f"{v:.1f}", f"{v:,.0f}", f"{v / 1e4:,.0f}万", f"{v / 1e4:.1f}万", f"{v / 1e8:.2f}亿"}
        for text in texts:
            assert not any(form in text for form in forms), v


def test_forbidden_pairs_never_alert(api: ApiEnv) -> None:
    deal = _deal(api, "inv")
    lo, hi = api.sql("SELECT ticket_min, ticket_max FROM mandates WHERE investor_id = %s AND valid_to IS NULL",
                     (api.ids["inv"],))[0]
    too_big = float(hi) * 50 if hi is not None else 1e12
    need = copy_need(api, deal["need"]["id"], amount=too_big)  # far beyond the ticket range: a hard rule
    assert wait_for(lambda: _idle(api), 60)
    assert api.sql("SELECT count(*) FROM alerts WHERE investor_id = %s AND need_id = %s",
                   (api.ids["inv"], need))[0][0] == 0
    m = api.state.matcher
    rows = api.sql("SELECT investor_id, need_id FROM alerts")
    assert rows
    for inv, nid in rows:  # every alert written passes the reference rules
        assert violations(m.snap, m.snap.investor_row[inv], m.snap.need_row[nid]) == []
    assert api.sql("SELECT count(*) FROM alerts WHERE investor_id = %s", (api.ids["sfund"],))[0][0] == 0


def test_access_rules(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    assert error_of(api.get(f"/v1/investors/{inv}/alerts", "inv2"))["code"] == "forbidden"
    assert api.get(f"/v1/investors/{inv}/alerts", "ent").status_code == 403
    assert api.get(f"/v1/investors/{inv}/alerts", None).status_code == 401
    for key in ("admin", "operator", "ds"):
        assert api.get(f"/v1/investors/{inv}/alerts", key).status_code == 200
    assert api.post(f"/v1/investors/{inv}/alerts/read", "ds", {"all": True}).status_code == 403
    assert api.post(f"/v1/investors/{inv}/alerts/read", "inv2", {"all": True}).status_code == 403
    assert error_of(api.get("/v1/investors/999999999/alerts", "admin"))["code"] == "not_found"
    other = api.sql("SELECT id FROM alerts WHERE investor_id <> %s LIMIT 1", (inv,))
    if other:
        r = api.post(f"/v1/investors/{inv}/alerts/read", "inv", {"ids": [other[0][0]]})
        assert r.status_code == 404 and error_of(r)["fields"][0]["field"] == "ids"
    assert api.post(f"/v1/investors/{inv}/alerts/read", "inv", {}).status_code == 422
    hook = api.get(f"/v1/investors/{inv}/webhook", "inv").json()
    assert hook["secret"] is None and hook["url"] == api.extra["receiver"].url
    assert api.client.put(f"/v1/investors/{inv}/webhook", json={"url": "http://x"},
                          headers=api.auth("inv2")).status_code == 403
    r = api.client.put(f"/v1/investors/{inv}/webhook", json={"url": "ftp://example.com/x"}, headers=api.auth("inv"))
    assert r.status_code == 422 and error_of(r)["fields"][0]["field"] == "url"


def test_saved_searches_and_settings(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    base = f"/v1/investors/{inv}"
    assert api.get(f"{base}/alert-settings", "inv").json() == {
        "investor_id": inv, "mandate_alerts": True, "top_n": 10, "min_score": None, "delivery": "immediate",
        "digest_sent_at": None}
    r = api.client.put(f"{base}/alert-settings", json={"top_n": 5, "delivery": "weekly"}, headers=api.auth("inv"))
    assert r.status_code == 200 and (r.json()["top_n"], r.json()["delivery"]) == (5, "weekly")
    r = api.client.put(f"{base}/alert-settings", json={"delivery": "hourly"}, headers=api.auth("inv"))
    assert r.status_code == 422
    made = api.post(f"{base}/saved-searches", "inv", {"name": "渝北 A轮", "text": "锂电池",
                                                      "filters": {"districts": ["渝北区"], "tiers": ["成长层"]}})
    assert made.status_code == 201, made.text
    s = made.json()
    assert s["filters"] == {"districts": ["500112"], "tiers": ["growth"]} and s["top_n"] == 10
    bad = api.post(f"{base}/saved-searches", "inv", {"name": "x", "filters": {"tiers": ["金字塔层"]}})
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "filters.tiers"
    assert api.get(f"{base}/saved-searches/{s['id']}", "inv2").status_code == 403
    patched = api.client.patch(f"{base}/saved-searches/{s['id']}", json={"text": None, "top_n": 3},
                               headers=api.auth("inv"))
    assert patched.status_code == 200 and (patched.json()["text"], patched.json()["top_n"]) == (None, 3)
    assert [x["id"] for x in api.get(f"{base}/saved-searches", "inv").json()] == [s["id"]]
    assert api.client.delete(f"{base}/saved-searches/{s['id']}", headers=api.auth("inv")).status_code == 204
    assert api.get(f"{base}/saved-searches/{s['id']}", "inv").status_code == 404
    api.client.put(f"{base}/alert-settings", json={"top_n": 10, "delivery": "immediate"}, headers=api.auth("inv"))


def test_the_openapi_schema_documents_the_alert_routes(api: ApiEnv) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/investors/{investor_id}/alerts", "/v1/investors/{investor_id}/alerts/read",
                 "/v1/investors/{investor_id}/webhook", "/v1/investors/{investor_id}/saved-searches",
                 "/v1/investors/{investor_id}/alert-settings", "/v1/investors/{investor_id}/webhook/deliveries"):
        assert path in paths, path
    assert set(paths["/v1/investors/{investor_id}/webhook"]) == {"get", "put", "delete"}


def test_readme_snippet_verifies(tmp_path: Path) -> None:
    """The receiver's check, as the service's reference and as the README's snippet: a signature over another
    timestamp or body, or an old timestamp, is refused."""
    import re

    from api.webhooks import SIGNATURE, TIMESTAMP, sign

    body, now = b'{"id":"alert-1"}', int(time.time())
    headers = {TIMESTAMP: str(now), SIGNATURE: sign("whsec_x", now, body)}
    assert verify("whsec_x", headers, body, now=now + 10)
    assert not verify("whsec_x", headers, body, now=now + 3600)
    assert not verify("whsec_x", {**headers, TIMESTAMP: str(now + 1)}, body, now=now)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Alerts on standing mandates"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    scope: dict[str, Any] = {}
    exec(compile("\n".join(line[2:] if line.startswith("  ") else line for line in snippet.splitlines()),
                 "README", "exec"), scope)
    assert scope["verify"]("whsec_x", headers, body)
    assert not scope["verify"]("whsec_x", headers, body + b"x")
    assert not scope["verify"]("whsec_y", headers, body)


def test_a_daily_digest_collects_alerts_into_one_signed_post(api: ApiEnv) -> None:
    inv, rec = api.ids["inv"], api.extra["receiver"]
    base = f"/v1/investors/{inv}"
    assert api.client.put(f"{base}/alert-settings", json={"delivery": "daily"},
                          headers=api.auth("inv")).status_code == 200
    deal = _deal(api, "inv")
    need = copy_need(api, deal["need"]["id"])
    assert wait_for(lambda: _idle(api), 60)
    rows = api.sql("SELECT id, delivered_at FROM alerts WHERE investor_id = %s AND need_id = %s", (inv, need))
    assert len(rows) == 1 and rows[0][1] is None  # waits for the digest: no post of its own
    alert_id = rows[0][0]
    assert f"alert-{alert_id}" not in {p[0][ALERT_ID] for p in rec.posts}
    with api.db.connect(autocommit=True) as conn:  # a day has passed since the last digest
        conn.execute("UPDATE alert_settings SET digest_sent_at = now() - interval '2 days', "
                     "updated_at = now() - interval '2 days' WHERE investor_id = %s", (inv,))
    assert wait_for(lambda: any(alert_id in [a["alert_id"] for a in p.get("alerts", [])]
                                for p in rec.seen.values()), 60)
    nid, payload = next((k, p) for k, p in rec.seen.items() if alert_id in [a["alert_id"] for a in p.get("alerts", [])])
    assert nid.startswith("digest-") and payload["type"] == "digest"
    headers, body, _ = rec.of(nid)[0]
    assert verify(api.extra["secret_inv"], headers, body)
    assert f"alert-{alert_id}" not in {p[0][ALERT_ID] for p in rec.posts}  # never also on its own
    assert wait_for(lambda: api.sql("SELECT delivered_at FROM alerts WHERE id = %s", (alert_id,))[0][0] is not None, 10)
    api.client.put(f"{base}/alert-settings", json={"delivery": "immediate"}, headers=api.auth("inv"))
