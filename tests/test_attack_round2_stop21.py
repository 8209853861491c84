"""Attacks, round 2, on today's surfaces (alerts and webhooks, syndicates, model archives): what a party may not
see must not reach it (or the service's own network) by any route, and bad input is a 4xx that loses nothing."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers_api import ApiEnv, api_service, copy_need

from api.webhooks import Deliverer, client, post_status, url_problem
from matching.config import Settings
from matching.errors import ArtifactError
from store import artifacts


# -- webhooks: the service must not be made to call its own network -------------------------------------------
@pytest.mark.parametrize("url", [
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's instance metadata (shared address space)
    "http://100.64.0.1/",  # carrier-grade NAT, 100.64.0.0/10: neither private nor global
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[::ffff:100.100.100.200]/",  # IPv4-mapped metadata address
    "http://0.0.0.0:8000/",
])
def test_a_webhook_may_not_name_a_non_public_address(url: str) -> None:
    assert url_problem(url, allow_private=False) is not None, url



def test_the_refusal_does_not_map_the_services_network() -> None:
    """"a public address (db.internal is 10.0.0.5)" told a client the service's internal DNS; and "does not
    resolve" against "is private" told which internal names exist. Both are one answer now, naming no address."""
    inside = url_problem("http://localhost:5432/", allow_private=False)
    nowhere = url_problem("http://no-such-host.invalid/", allow_private=False)
    assert inside is not None and nowhere is not None
    assert not any(a in " ".join(inside) for a in ("127.0.0.1", "::1"))
    assert [t.replace("localhost", "H") for t in inside] == [t.replace("no-such-host.invalid", "H") for t in nowhere]

class _Hits(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hits.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_dns_rebinding_cannot_point_a_checked_webhook_at_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL is checked when registered and before each post, but the post resolved the name again: a name that
    answers a public address to the check and 127.0.0.1 to the connection (DNS rebinding) reached the service's
    own loopback. The connection must go to the address that was checked (or be refused)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hits)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            ip = next(answers, "127.0.0.1")  # public once (the check), loopback from then on
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _Hits.hits.clear()
    deliverer = Deliverer(None, Settings(webhook_timeout_seconds=2.0), threading.Event())  # type: ignore[arg-type]
    try:
        url = f"http://rebind.example:{port}/hook"
        assert url_problem(url, allow_private=False) is None  # the check saw the public address
        with pytest.raises(httpx.HTTPError):
            deliverer._client.post(url, content=b"{}")
        assert _Hits.hits == []
    finally:
        deliverer._client.close()
        server.shutdown()


# -- the API: bad input is a 4xx; another party's things stay its own -------------------------------------------
@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("attack_r2")) as env:
        yield env


def test_alert_inputs_that_postgres_or_the_rules_refuse_are_a_4xx_and_store_nothing(api: ApiEnv) -> None:
    inv = api.ids["inv"]
    base = f"/v1/investors/{inv}"
    out = {}
    for name, body in {"nul_name": {"name": "a\x00b"}, "nul_text": {"name": "x", "text": "半导体\x00"},
                       "top_n_huge": {"name": "x", "top_n": 10**20}, "min_score_nan": {"name": "x", "min_score": "NaN"},
                       "amount_huge": {"name": "x", "filters": {"amount_min": 1e308}},
                       "bad_board": {"name": "x", "filters": {"boards": ["\x00"]}}}.items():
        out["search:" + name] = api.post(f"{base}/saved-searches", "inv", body).status_code
    out["search:surrogate"] = api.client.post(f"{base}/saved-searches", content=b'{"name": "\\ud800"}',
                                              headers={**api.auth("inv"), "Content-Type": "application/json"}
                                              ).status_code
    out["hook:nul"] = api.client.put(f"{base}/webhook", json={"url": "https://exa\x00mple.com/x"},
                                     headers=api.auth("inv")).status_code
    out["hook:gbk"] = api.client.put(f"{base}/webhook", content="{\"url\": \"https://例子.测试/钩子\"}".encode("gbk"),
                                     headers={**api.auth("inv"), "Content-Type": "application/json"}).status_code
    out["settings:top_n"] = api.client.put(f"{base}/alert-settings", json={"top_n": 0},
                                           headers=api.auth("inv")).status_code
    out["read:huge_id"] = api.post(f"{base}/alerts/read", "inv", {"ids": [2**63]}).status_code
    out["read:neg_id"] = api.post(f"{base}/alerts/read", "inv", {"ids": [-1]}).status_code
    out["search:huge_id"] = api.get(f"{base}/saved-searches/99999999999999999999", "inv").status_code
    assert all(400 <= s < 500 for s in out.values()), out
    assert api.sql("SELECT count(*) FROM saved_searches WHERE investor_id = %s", (inv,))[0][0] == 0
    assert api.sql("SELECT count(*) FROM webhooks WHERE investor_id = %s", (inv,))[0][0] == 0


@pytest.mark.parametrize(("url", "says"), [
    ("http://a..b/x", "resolves to public addresses only"),       # IDNA: an empty label (UnicodeError)
    ("http://" + "a" * 70 + ".com/", "resolves to public addresses only"),  # a label over 63 characters
    ("http://[::1/x", "a port in 1–65535"),                       # a broken IPv6 literal (ValueError)
    ("http://example.com:99999/", "a port in 1–65535"),            # port out of range (ValueError)
])
def test_a_malformed_webhook_url_is_a_422_naming_the_field_never_a_500(api: ApiEnv, url: str, says: str) -> None:
    """urlsplit, .port and the IDNA codec raise ValueError / UnicodeError, which fell through to the 500 handler."""
    inv = api.ids["inv"]
    r = api.client.put(f"/v1/investors/{inv}/webhook", json={"url": url}, headers=api.auth("inv"))
    assert r.status_code == 422, (url, r.status_code, r.text[:200])
    assert "url" in r.text and says in r.text, r.text
    assert api.sql("SELECT count(*) FROM webhooks WHERE investor_id = %s", (inv,))[0][0] == 0


def test_another_investors_saved_search_and_webhook_are_out_of_reach(api: ApiEnv) -> None:
    inv, inv2 = api.ids["inv"], api.ids["inv2"]
    r = api.post(f"/v1/investors/{inv2}/saved-searches", "inv2", {"name": "私有检索", "text": "半导体"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        # the other investor's id in the path: 403; its search's id under one's own path: 404 (never its content)
        assert api.get(f"/v1/investors/{inv2}/saved-searches/{sid}", "inv").status_code == 403
        r = api.get(f"/v1/investors/{inv}/saved-searches/{sid}", "inv")
        assert r.status_code == 404 and "私有检索" not in r.text
        r = api.client.patch(f"/v1/investors/{inv}/saved-searches/{sid}", json={"active": False},
                             headers=api.auth("inv"))
        assert r.status_code == 404
        assert api.client.delete(f"/v1/investors/{inv}/saved-searches/{sid}", headers=api.auth("inv")).status_code \
            == 404
        assert api.get(f"/v1/investors/{inv2}/webhook/deliveries", "inv").status_code == 403
        assert api.get(f"/v1/investors/{inv2}/webhook", "ent").status_code == 403
        assert api.sql("SELECT active FROM saved_searches WHERE id = %s", (sid,)) == [(True,)]
    finally:
        api.client.delete(f"/v1/investors/{inv2}/saved-searches/{sid}", headers=api.auth("inv2"))


# -- syndicates ---------------------------------------------------------------------------------------------------
def _lead_with_big_sets(api: ApiEnv) -> tuple[int, int, dict[str, Any]]:
    """An open need, a lead and the staff's view of its sets, where some set's co-investors (by fit) are not in id
    order."""
    for (need,) in api.sql("SELECT id FROM financing_needs WHERE status = 'open' ORDER BY id LIMIT 200"):
        staff = api.get(f"/v1/needs/{need}/syndicates", "admin")
        if staff.status_code != 200 or not staff.json()["items"]:
            continue
        for lead in sorted({m["investor_id"] for s in staff.json()["items"] for m in s["members"]}):
            led = api.get(f"/v1/needs/{need}/syndicates", "admin", lead=lead).json()
            peers = [[m["investor_id"] for m in s["members"][1:]] for s in led["items"]]
            if any(p != sorted(p) for p in peers):  # a set whose fit order is not the id order
                return need, lead, led
    raise AssertionError("the demo market should hold a set whose co-investors' fit order is not their id order")


def test_a_lead_cannot_learn_its_peers_withheld_scores_from_the_member_order(api: ApiEnv) -> None:
    """Members came as "the lead first, then by fit" (the peers' deal-list scores), while the investor lead is
    told no peer's score: the order told which peer the model ranks higher. For an investor the co-investors
    come in investor id order."""
    from store import keys as keys_db
    need, lead, staff = _lead_with_big_sets(api)
    with api.db.connect(autocommit=True) as conn:
        api.keys["lead_r2"] = keys_db.create_key(conn, role="investor", investor_id=lead, label="r2 lead").secret
    mine = api.get(f"/v1/needs/{need}/syndicates", "lead_r2")
    assert mine.status_code == 200, mine.text
    assert [[m["investor_id"] for m in s["members"]][0] for s in mine.json()["items"]] == \
        [lead] * len(mine.json()["items"])
    for s in mine.json()["items"]:
        peers = [m["investor_id"] for m in s["members"][1:]]
        assert peers == sorted(peers), s["members"]
    for s in staff["items"]:  # staff keep the fit order
        fits = [m["fit"] for m in s["members"][1:]]
        assert fits == sorted(fits, reverse=True)


def test_syndicates_of_another_enterprise_or_a_bad_id_tell_nothing(api: ApiEnv) -> None:
    own = api.sql("SELECT id FROM financing_needs WHERE enterprise_id = %s ORDER BY id LIMIT 1", (api.ids["ent"],))
    other = api.sql("SELECT id FROM financing_needs WHERE enterprise_id <> %s AND status = 'open' ORDER BY id LIMIT 1",
                    (api.ids["ent"],))[0][0]
    assert own
    r = api.get(f"/v1/needs/{other}/syndicates", "ent")
    assert r.status_code == 403 and "investor_id" not in r.text
    for bad in ("0", "-3", "abc", "99999999999999999999", "1e3", "%00"):
        assert 400 <= api.get(f"/v1/needs/{bad}/syndicates", "ent").status_code < 500, bad
    assert api.get(f"/v1/needs/{other}/syndicates", "inv", lead=api.ids["inv2"]).status_code == 403
    assert 400 <= api.get(f"/v1/needs/{other}/syndicates", "inv", lead="0").status_code < 500


# -- model archives in PostgreSQL: nothing unpacks outside models_dir/<version> ---------------------------------------
def _archive(*members: tarfile.TarInfo) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _store(api: ApiEnv, version: str, archive: bytes) -> None:
    with api.db.connect(autocommit=True) as conn:
        conn.execute("INSERT INTO model_versions (version, path, manifest, metrics) VALUES (%s, %s, '{}', '{}') "
                     "ON CONFLICT (version) DO NOTHING", (version, f"/nowhere/{version}"))
        conn.execute("INSERT INTO model_artifacts (version, archive, sha256) VALUES (%s, %s, %s) ON CONFLICT (version) "
                     "DO UPDATE SET archive = EXCLUDED.archive, sha256 = EXCLUDED.sha256",
                     (version, archive, hashlib.sha256(archive).hexdigest()))


def test_links_out_of_the_folder_are_refused_and_leave_nothing(api: ApiEnv, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    models = tmp_path / "models"
    ok = tarfile.TarInfo("model.txt")
    ok.size = 1
    for n, evil in enumerate([(_link("model.txt", str(secret), tarfile.SYMTYPE),),
                              (_link("d", "..", tarfile.SYMTYPE), _link("d/x", "../../secret.txt", tarfile.SYMTYPE)),
                              (_link("h", str(secret), tarfile.LNKTYPE),),
                              (_link("sub", "/", tarfile.SYMTYPE), ok)]):
        version = f"evil{n}"
        _store(api, version, _archive(*evil))
        with api.db.connect() as conn, pytest.raises(ArtifactError, match=f"the archive of {version} cannot be "):
            artifacts.local_folder(conn, version, f"/nowhere/{version}", models)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "secret.txt"]
        assert list(models.iterdir()) == [] and secret.read_text() == "s"



def test_the_signing_secret_is_shown_once_and_never_again(api: ApiEnv) -> None:
    from helpers_api import console_client
    inv = api.ids["inv"]
    r = api.client.put(f"/v1/investors/{inv}/webhook", json={"url": "https://93.184.216.34/hook"},
                       headers=api.auth("inv"))
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    try:
        assert secret and len(secret) > 40
        seen = [api.get(f"/v1/investors/{inv}/webhook", key).text for key in ("inv", "admin", "ds")]
        seen += [api.get(f"/v1/investors/{inv}/webhook/deliveries", "inv").text,
                 api.get(f"/v1/investors/{inv}/alerts", "inv").text,
                 console_client(api, "inv").get("/web/alerts").text,
                 console_client(api, "admin").get(f"/web/alerts?investor_id={inv}").text]
        assert all(secret not in text and secret[6:20] not in text for text in seen)
        assert all("93.184.216.34" in text for text in seen[:3] + seen[-2:])  # the webhook was on every page
    finally:
        api.client.delete(f"/v1/investors/{inv}/webhook", headers=api.auth("inv"))


def test_a_redirect_is_never_followed() -> None:
    """A receiver answering 302 to an internal address: the post is not repeated there (3xx is a failed try)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Redirect.hits.clear()
    c = client(Settings(webhook_allow_private=True, webhook_timeout_seconds=2.0))
    try:
        r = c.post(f"http://127.0.0.1:{server.server_address[1]}/hook", content=b"{}")
        assert r.status_code == 302 and _Redirect.hits == ["/hook"]
    finally:
        c.close()
        server.shutdown()


class _Redirect(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Redirect.hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", "/internal-admin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


# -- alerts: what the deal list hides never alerts --------------------------------------------------------------------
def test_an_enterprises_private_refusal_and_a_closed_need_never_alert(api: ApiEnv) -> None:
    """The enterprise's refusal list is internal: an alert (or its absence against a control) must agree with
    the deal list, which never shows the pair. A closed need never alerts either."""
    from api.alerting import AlertEngine
    inv = api.ids["inv"]
    m = api.state.matcher
    deals = api.get(f"/v1/investors/{inv}/deals", "inv", k=20).json()["items"]
    by_ent = {d["enterprise"]["id"]: d for d in deals}
    (refusing, d1), (control, d2) = list(by_ent.items())[:2]
    engine = AlertEngine(api.state)
    with api.db.connect(autocommit=True) as conn:
        engine.run_once(conn)  # the cursor starts at the newest change
        conn.execute("UPDATE enterprises SET excluded_investors = array_append(excluded_investors, %s) WHERE id = %s",
                     (m.snap.inv_key[m.snap.investor_row[inv]], refusing))
        refused = copy_need(api, d1["need"]["id"])
        fine = copy_need(api, d2["need"]["id"])
        engine.run_once(conn)
        closed = copy_need(api, d2["need"]["id"], status="closed")
        engine.run_once(conn)
        engine.deliverer._client.close()
    got = {r[0] for r in api.sql("SELECT need_id FROM alerts WHERE investor_id = %s", (inv,))}
    assert fine in got, "the control need should alert (else this test shows nothing)"
    assert refused not in got and closed not in got
    assert all(it["enterprise"]["id"] != refusing
               for it in api.get(f"/v1/investors/{inv}/deals", "inv", k=50).json()["items"])


def test_text_a_party_wrote_is_escaped_on_the_console(api: ApiEnv) -> None:
    from helpers_api import console_client
    inv = api.ids["inv"]
    evil = '"><script>alert(1)</script>'
    r = api.post(f"/v1/investors/{inv}/saved-searches", "inv", {"name": evil, "text": evil})
    assert r.status_code == 201, r.text
    hook = api.client.put(f"/v1/investors/{inv}/webhook", json={"url": f"https://93.184.216.34/{evil}"},
                          headers=api.auth("inv"))
    try:
        page = console_client(api, "inv").get("/web/alerts")
        assert page.status_code == 200 and "93.184.216.34" in page.text
        assert "<script>alert(1)" not in page.text
    finally:
        api.client.delete(f"/v1/investors/{inv}/saved-searches/{r.json()['id']}", headers=api.auth("inv"))
        if hook.status_code == 200:
            api.client.delete(f"/v1/investors/{inv}/webhook", headers=api.auth("inv"))


# -- webhooks: one receiver cannot stall or exhaust the delivery thread, which serves every investor --------------
class _Hostile(http.server.BaseHTTPRequestHandler):
    """``/endless``: 200, then up to 64 MiB of body; ``/drip``: the answer one byte every 0.25 s (up to 30 s).
    ``sent`` counts the bytes written before the client hung up."""

    sent = 0
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            if self.path == "/endless":
                self.send_response(200)
                self.send_header("Content-Length", str(64 << 20))
                self.end_headers()
                chunk = b"x" * (1 << 16)
                for _ in range(1024):
                    self.wfile.write(chunk)
                    _Hostile.sent += len(chunk)
            else:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + b"X" * 80:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    _Hostile.sent += 1
                    threading.Event().wait(0.25)
        except OSError:
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hostile.sent = 0
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_endless_answer_is_not_read(hostile: str) -> None:
    """The status is all delivery needs: the body (64 MiB here, endless for a hostile receiver) was read whole
    into the service's memory."""
    c = client(Settings(webhook_allow_private=True, webhook_timeout_seconds=5.0))
    try:
        assert post_status(c, f"{hostile}/endless", b"{}", {}) == 200
    finally:
        c.close()
    assert _Hostile.sent < 16 << 20, _Hostile.sent


def test_a_dripping_receiver_is_cut_off_at_the_timeout(hostile: str) -> None:
    """``webhook_timeout_seconds`` bounded each read, not the post: a receiver sending one byte at a time held
    the one delivery thread (every investor's alerts) for as long as it liked."""
    c = client(Settings(webhook_allow_private=True, webhook_timeout_seconds=1.0))
    try:
        with pytest.raises(httpx.TimeoutException):
            post_status(c, f"{hostile}/drip", b"{}", {})
    finally:
        c.close()
    assert _Hostile.sent < 80, _Hostile.sent  # cut off long before the 120 bytes (30 s) it would drip
