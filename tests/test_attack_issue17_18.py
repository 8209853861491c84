"""Attacks on the issue 17/18 surfaces (similar lists, readiness, programmes, the profile export, the console
forms): what one party may not see must not reach it through a derived number, and bad input is a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers_api import ApiEnv, api_service, console_client


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("attack17_18")) as env:
        yield env


@pytest.fixture(scope="module")
def co_invested(api: ApiEnv) -> None:
    """Five investors (``inv`` among them) invested in ``ent`` and in the 8th of its similar enterprises: the
    lift lifts that one (and those investors among ``inv``'s similar investors)."""
    ent, inv = api.ids["ent"], api.ids["inv"]
    other = api.get(f"/v1/enterprises/{ent}/similar", "admin", k=8).json()["items"][-1]["id"]
    investors = [r[0] for r in api.sql("SELECT id FROM investors WHERE status = 'investing' AND id <> %s "
                                       "ORDER BY id LIMIT 4", (inv,))]
    for n, (i, e) in enumerate([(i, e) for i in [inv, *investors] for e in (ent, other)]):
        api.sql("INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, occurred_at) "
                "VALUES (%s, %s, %s, 'invested', TIMESTAMPTZ '2020-01-01' + %s * INTERVAL '1 hour') RETURNING id",
                (f"attack-co-{n}", i, e, n))
    assert api.state.check_market()


HIDDEN = (("/v1/investors/{inv}/similar", "shared_deals", "ent"),
          ("/v1/enterprises/{ent}/similar", "shared_investors", "ent"),
          ("/v1/enterprises/{ent}/similar", "shared_investors", "inv"))


def _hidden_lists(api: ApiEnv) -> Iterator[tuple[str, list[dict]]]:
    for path, field, key in HIDDEN:
        path = path.format(inv=api.ids["inv"], ent=api.ids["ent"])
        staff = api.get(path, "admin", k=api.settings.api_max_k).json()["items"]
        assert any(it[field] for it in staff), path  # the lift is there to hide
        items = api.get(path, key, k=api.settings.api_max_k).json()["items"]
        assert items and all(it[field] is None for it in items)
        yield f"{key} {path}", items


@pytest.mark.usefixtures("co_invested")
def test_similar_score_does_not_tell_the_hidden_shared_count(api: ApiEnv) -> None:
    """score = similarity + CO_WEIGHT·min(shared, CO_CAP)/CO_CAP: shown beside the similarity to a viewer whose
    shared count is null, the difference is that count (investments in other enterprises, which only
    admin, operator and data scientists may read)."""
    for where, items in _hidden_lists(api):
        for it in items:
            assert it["score"] is None or it["score"] == pytest.approx(it["similarity"]), (where, it)


@pytest.mark.usefixtures("co_invested")
def test_similar_order_does_not_tell_the_hidden_shared_count(api: ApiEnv) -> None:
    """Ranked by the lift while the similarity is shown, an item above one more similar has shared
    investors (deals) with the one asked about: for a viewer who may not read them, the order is the
    similarity's."""
    for where, items in _hidden_lists(api):
        sims = [it["similarity"] for it in items]
        assert sims == sorted(sims, reverse=True), where


def test_bad_input_is_a_4xx_never_a_500(api: ApiEnv) -> None:
    out = {}
    for name, data in {"nonutf8": b"\xff\xfe\xfa{\x80", "malformed": b'{"version": ', "list": b"[1,2]",
                       "num": b"3", "null": b"null", "deep": b"[" * 100000,
                       "types": b'{"version": 5, "targets": 7}',
                       "targets_str": b'{"version": "x", "targets": "abc"}',
                       "target_list_int": b'{"version": "x", "targets": [1]}',
                       "empty": b""}.items():
        r = api.client.post("/v1/imports/standards", files={"file": ("s.json", data, "application/json")},
                            headers=api.auth("admin"))
        out["std:" + name] = r.status_code
    programme_files = {"nonutf8": b"\xff\xfe\xfa,\x80\n\x81\x82", "empty": b"", "hdr": b"ref,name\n\xff,\x80\n"}
    for name, data in programme_files.items():
        r = api.client.post("/v1/imports/programmes", files={"file": ("p.csv", data, "text/csv")},
                            headers=api.auth("admin"))
        out["prog:" + name] = r.status_code
    for p, params in ((f"/v1/enterprises/{api.ids['ent']}/similar", {"k": 10**30}),
                      (f"/v1/enterprises/{api.ids['ent']}/similar", {"k": -1}),
                      ("/v1/enterprises/-1/similar", {}), ("/v1/investors/99999999999999999999/similar", {}),
                      ("/v1/enterprises/99999999999/readiness", {}), ("/v1/enterprises/99999999999/programmes", {}),
                      (f"/v1/enterprises/{api.ids['ent']}/readiness", {"target": "\x00"}),
                      ("/v1/reports/readiness", {"board": "x" * 5000}), ("/v1/reports/readiness", {"district": "\x00"}),
                      ("/v1/programmes", {"kind": "\x00"}), ("/v1/programmes", {"district": "zz"}),
                      ("/v1/exports/profiles", {"district": "\x00"})):
        out[p + str(params)[:30]] = api.get(p, "admin", **params).status_code
    assert all(400 <= s < 500 for s in out.values()), out


def test_console_forms_need_the_token_and_the_role(api: ApiEnv) -> None:
    c = console_client(api, "ent")
    out = {}
    for amt in ("nan", "inf", "-1", "1e308", "1e400"):
        r = c.post("/web/enterprise/needs", data={"csrf": c.cookies.get("cc_csrf", ""), "instrument": "equity",
                                                  "amount": amt})
        out["need:" + amt] = r.status_code
    r = c.post("/web/enterprise/needs", data={"instrument": "equity", "amount": "1"})
    out["need:nocsrf"] = r.status_code
    for page in ("/web/enterprise", "/web/readiness", "/web/programmes", "/web/exports/profiles", "/web/models",
                 f"/web/enterprise?enterprise_id={api.ids['ent2']}", "/"):
        out[page] = c.get(page, follow_redirects=False).status_code
    d = console_client(api, "ds")
    out["ds:retrain-nocsrf"] = d.post("/web/models/retrain", data={}).status_code
    i = console_client(api, "inv")
    out["inv:retrain"] = i.post("/web/models/retrain", data={"csrf": i.cookies.get("cc_csrf", "")}).status_code
    for page in ("/web/readiness", "/web/programmes", "/web/exports/profiles", "/web/enterprise"):
        out["inv" + page] = i.get(page, follow_redirects=False).status_code
    assert all(out[f"need:{a}"] == 422 for a in ("nan", "inf", "-1", "1e308", "1e400")), out
    assert out["need:nocsrf"] == 403 and out["ds:retrain-nocsrf"] == 403 and out["inv:retrain"] == 403, out
    assert all(out[p] == 403 for p in ("/web/readiness", "/web/programmes", "/web/exports/profiles", "/web/models",
                                       "inv/web/readiness", "inv/web/programmes", "inv/web/exports/profiles",
                                       "inv/web/enterprise")), out




def test_the_export_counts_no_private_conduct(api: ApiEnv) -> None:
    """Viewing a profile is its actor's private conduct (matching.rules.event_visibility.PRIVATE_TYPES): the
    enterprise itself never learns who or how many viewed it, so the export (for a party outside the
    platform) must not count it either."""
    eid = api.ids["ent2"]
    invs = [r[0] for r in api.sql("SELECT id FROM investors ORDER BY id LIMIT 3")]
    for n, i in enumerate(invs):
        api.sql("INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, occurred_at) "
                "VALUES (%s, %s, %s, 'viewed', now() - INTERVAL '1 day') RETURNING id", (f"attack-viewed-{n}", i, eid))
    r = api.get("/v1/exports/profiles", "admin")
    assert r.status_code == 200
    records = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    mine = next(rec for rec in records if rec["enterprise"]["id"] == eid)
    assert "viewed" not in mine["funnel"], mine["funnel"]
    csv_head = api.get("/v1/exports/profiles", "admin", format="csv").text.splitlines()[0]
    assert "viewed" not in csv_head



def test_console_pages_answer_bad_parameters_without_a_500(api: ApiEnv) -> None:
    a = console_client(api, "admin")
    for page in ("/web/readiness?district=%00&board=zzz", "/web/readiness?board=" + "x" * 3000,
                 "/web/readiness?district=zz", "/web/programmes?kind=zzz", "/web/programmes?district=%ff",
                 "/web/exports/profiles?format=xml", "/web/exports/profiles?encoding=latin1",
                 "/web/exports/profiles?district=zz", "/web/enterprises/-1", "/web/enterprises/99999999999999"):
        assert 400 <= a.get(page, follow_redirects=False).status_code < 500, page
    for page in ("/web/models?job=abc", "/web/models?job=-1", "/web/models?job=99999999999999999999999",
                 "/web/enterprise?enterprise_id=abc", "/web/enterprise?enterprise_id=-1"):
        assert a.get(page, follow_redirects=False).status_code < 500, page


def test_the_need_form_publishes_for_the_key_s_own_enterprise_only(api: ApiEnv) -> None:
    c = console_client(api, "ent")
    count = "SELECT count(*) FROM financing_needs WHERE enterprise_id = %s"
    before = api.sql(count, (api.ids["ent2"],))
    for eid in (api.ids["ent2"], -5, 10**23):
        r = c.post("/web/enterprise/needs", data={"csrf": c.cookies.get("cc_csrf", ""), "instrument": "equity",
                                                  "amount": "100", "enterprise_id": str(eid)}, follow_redirects=False)
        assert r.status_code in (403, 422), (eid, r.status_code)
    assert api.sql(count, (api.ids["ent2"],)) == before


def test_an_investor_never_reads_its_peers_through_a_similar_investors_list(api: ApiEnv) -> None:
    """Investors may not read one another's profiles (GET /v1/investors/{other} is 403 for them), so a list of
    the investors most like one, with names, types and mandate sectors, is not theirs either, even their own."""
    own = api.get(f"/v1/investors/{api.ids['inv']}/similar", "inv")
    assert own.status_code == 403 and "similar investors are shown to staff and enterprises" in own.text
    assert api.get(f"/v1/investors/{api.ids['inv']}", "inv2").status_code == 403  # the rule it follows
    assert api.get(f"/v1/investors/{api.ids['inv']}/similar", "ent").status_code == 200
