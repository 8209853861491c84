"""Support programmes over HTTP: the import (GBK, Chinese headers, a bad row refused and named, nothing written),
an enterprise's programmes and near misses, notices read once, the staff overview with its counts, access per
role, and a profile change that tells a newly qualifying enterprise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service, console_client, error_of

from matching.domain.credit_code import make_credit_code
from matching.programmes import SAMPLE_FILE
from store import keys as keys_db

HEADER = ("政策编号,政策名称,发布单位,政策类型,适用区县,资质要求,最少员工人数,营业收入下限(万元),单户最高金额(万元),"
          "申报截止日期")
GOOD = [HEADER, "API-1,渝北专精特新贴息（测试）,渝北区测试局,贴息,渝北区,专精特新,100,2000,100,2099-12-31",
        "API-2,全市担保增信（测试）,测试担保基金,担保增信,,,,,500,2099-12-31"]
BAD = [*GOOD, "API-3,坏行,测试局,奖补,火星区,,,,,"]


def upload(api: ApiEnv, key: str, lines: list[str]) -> Any:
    body = ("\n".join(lines) + "\n").encode("gbk")
    return api.client.post("/v1/imports/programmes", files={"file": ("programmes.csv", body, "text/csv")},
                           headers=api.auth(key))


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_programmes")) as env:
        for name, employees in (("PA", 100), ("PB", 85), ("PC", 85), ("PD", 100)):
            body = {"credit_code": make_credit_code("9", "1", "500112", f"PG00000{ord(name[1]) - 64:02d}"),
                    "name": f"政策测试企业{name}", "district": "渝北区", "tier": "growth",
                    "qualifications": ["专精特新"], "founded_on": "2018-05-01",
                    "financials": [{"year": 2025, "revenue": 2e7, "employees": employees}]}
            r = env.post("/v1/enterprises", "admin", body)
            assert r.status_code == 201, r.text
            env.ids[name] = r.json()["id"]
            with env.db.connect(autocommit=True) as conn:
                env.keys[name] = keys_db.create_key(conn, role="enterprise", enterprise_id=env.ids[name],
                                                    label=f"test {name}").secret
        env.extra["bad"] = upload(env, "operator", BAD)
        env.extra["count_after_bad"] = env.sql("SELECT (SELECT count(*) FROM programmes), "
                                               "(SELECT count(*) FROM programme_notices)")[0]
        env.extra["good"] = upload(env, "admin", GOOD)
        yield env


def test_a_bad_row_is_refused_and_named_and_nothing_is_written(api: ApiEnv) -> None:
    r = api.extra["bad"]
    assert r.status_code == 422
    err = error_of(r)
    assert err["message"].startswith("文件有 1 行数据不合法（第 4 行），未导入任何数据")
    assert [(f["row"], f["field"], f["value"]) for f in err["fields"]] == [(4, "districts", "火星区")]
    assert "not one of Chongqing's 38 district-level units" in err["fields"][0]["reason"]
    assert api.extra["count_after_bad"] == (0, 0)


def test_the_import_counts_programmes_and_notices(api: ApiEnv) -> None:
    r = api.extra["good"]
    assert r.status_code == 200, r.text
    imported = {i["table"]: i for i in r.json()["imported"]}
    assert imported["programmes"]["inserted"] == 2
    told = api.sql("SELECT enterprise_id FROM programme_notices n JOIN programmes p ON p.id = n.programme_id "
                   "WHERE p.ref = 'API-1'")
    assert (api.ids["PA"],) in told and (api.ids["PB"],) not in told
    assert imported["programme_notices"]["inserted"] == api.sql("SELECT count(*) FROM programme_notices")[0][0]


def test_an_enterprise_sees_what_it_qualifies_for_and_its_notices_are_read_once(api: ApiEnv) -> None:
    path = f"/v1/enterprises/{api.ids['PA']}/programmes"
    staff = api.get(path, "operator").json()  # staff reading marks nothing read
    assert staff["unread"] == 2
    first = api.get(path, "PA")
    assert first.status_code == 200, first.text
    body = first.json()
    refs = {p["ref"]: p for p in body["qualifies"]}
    assert {"API-1", "API-2"} <= set(refs) and body["unread"] == 2
    assert refs["API-1"]["unread"] is True and refs["API-1"]["notified_at"] is not None
    assert (refs["API-1"]["kind_zh"], refs["API-1"]["max_amount"], refs["API-1"]["missing"]) == ("贴息", 1e6, [])
    again = api.get(path, "PA").json()
    assert again["unread"] == 0 and all(not p["unread"] for p in again["qualifies"])


def test_a_near_miss_says_what_is_missing(api: ApiEnv) -> None:
    body = api.get(f"/v1/enterprises/{api.ids['PB']}/programmes", "PB").json()
    near = {p["ref"]: p for p in body["near_misses"]}
    assert near["API-1"]["status"] == "near_miss"
    assert near["API-1"]["missing"] == [{"rule": "min_employees", "zh": "员工人数须不少于 100 人（现 85 人，差 15 人）",
                                         "en": "at least 100 employees (has 85, 15 short)",
                                         "gap": pytest.approx(0.15), "unknown": False}]
    assert "API-1" not in {p["ref"] for p in body["qualifies"]}


def test_staff_overview_counts_and_filters(api: ApiEnv) -> None:
    r = api.get("/v1/programmes", "admin")
    assert r.status_code == 200, r.text
    items = {p["ref"]: p for p in r.json()["items"]}
    one = items["API-1"]
    assert one["qualified"] >= 1 and one["told"] == one["qualified"] and one["near_misses"] >= 1
    assert one["window"] == "open" and one["rules"]["districts"] == ["500112"]
    assert [p["ref"] for p in api.get("/v1/programmes", "operator", kind="担保增信").json()["items"]] == ["API-2"]
    assert [p["ref"] for p in api.get("/v1/programmes", "operator", district="渝中区").json()["items"]] == ["API-2"]
    bad = api.get("/v1/programmes", "operator", kind="奖金")
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"] == "kind"


@pytest.mark.parametrize(("key", "path", "status"), [
    ("inv", "/v1/programmes", 403), ("sfund", "/v1/programmes", 403), ("ds", "/v1/programmes", 403),
    ("ent", "/v1/programmes", 403), ("PA", "/v1/programmes", 403), (None, "/v1/programmes", 401),
    ("operator", "/v1/programmes", 200), ("admin", "/v1/programmes", 200),
    ("inv", "/v1/enterprises/{PA}/programmes", 403), ("ds", "/v1/enterprises/{PA}/programmes", 403),
    ("PB", "/v1/enterprises/{PA}/programmes", 403), ("ent", "/v1/enterprises/{PA}/programmes", 403),
    (None, "/v1/enterprises/{PA}/programmes", 401), ("admin", "/v1/enterprises/{PA}/programmes", 200),
    ("admin", "/v1/enterprises/999999999/programmes", 404), ("admin", "/v1/enterprises/0/programmes", 422),
    ("admin", "/v1/enterprises/9223372036854775808/programmes", 422),
])
def test_access_per_role(api: ApiEnv, key: str | None, path: str, status: int) -> None:
    r = api.get(path.format(PA=api.ids["PA"]), key)
    assert r.status_code == status, r.text
    if status != 200:
        error_of(r)


def test_importing_programmes_is_for_staff_only(api: ApiEnv) -> None:
    for key in ("inv", "PA", "ds"):
        r = upload(api, key, GOOD)
        assert r.status_code == 403, (key, r.text)


def test_a_profile_change_tells_the_newly_qualifying_enterprise_once(api: ApiEnv) -> None:
    path = f"/v1/enterprises/{api.ids['PB']}/programmes"
    r = api.client.patch(f"/v1/enterprises/{api.ids['PB']}", headers=api.auth("PB"),
                         json={"financials": [{"year": 2025, "revenue": 2e7, "employees": 120}]})
    assert r.status_code == 200, r.text
    body = api.get(path, "PB").json()
    fit = {p["ref"]: p for p in body["qualifies"]}["API-1"]
    assert body["unread"] == 1 and fit["unread"] and fit["missing"] == []
    api.client.patch(f"/v1/enterprises/{api.ids['PB']}", headers=api.auth("admin"), json={"short_name": "乙"})
    assert api.sql("SELECT count(*) FROM programme_notices n JOIN programmes p ON p.id = n.programme_id "
                   "WHERE p.ref = 'API-1' AND n.enterprise_id = %s", (api.ids["PB"],)) == [(1,)]


def test_a_verified_qualification_claim_tells_the_enterprise_a_rejected_one_does_not(api: ApiEnv) -> None:
    ids = []
    for name in ("PE", "PF"):
        body = {"credit_code": make_credit_code("9", "1", "500112", f"PG00000{ord(name[1]) - 64:02d}"),
                "name": f"政策测试企业{name}", "district": "渝北区", "tier": "growth", "founded_on": "2018-05-01",
                "financials": [{"year": 2025, "revenue": 2e7, "employees": 100}]}
        r = api.post("/v1/enterprises", "admin", body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        with api.db.connect(autocommit=True) as conn:
            api.keys[name] = keys_db.create_key(conn, role="enterprise", enterprise_id=ids[-1], label=name).secret
        claimed = api.client.patch(f"/v1/enterprises/{ids[-1]}", headers=api.auth(name),
                                   json={"qualifications": ["专精特新"]})
        assert claimed.status_code == 200, claimed.text
    told = "SELECT count(*) FROM programme_notices n JOIN programmes p ON p.id = n.programme_id " \
           "WHERE p.ref = 'API-1' AND n.enterprise_id = %s"
    assert [api.sql(told, (i,)) for i in ids] == [[(0,)], [(0,)]]  # a pending claim counts for nothing
    for enterprise_id, decision in zip(ids, ("verified", "rejected"), strict=True):
        (claim,) = api.get(f"/v1/enterprises/{enterprise_id}/claims", "admin").json()["items"]
        r = api.post(f"/v1/enterprises/{enterprise_id}/claims/{claim['id']}/decision", "admin",
                     {"decision": decision, "note": "市经信委名单"})
        assert r.status_code == 200, r.text
    assert [api.sql(told, (i,)) for i in ids] == [[(1,)], [(0,)]]


# --- the console ---



def test_the_enterprise_page_shows_its_programmes_panel_with_the_unread_count(api: ApiEnv) -> None:
    client = console_client(api, "PD")
    first = client.get("/web/enterprise").text
    assert "扶持政策" in first and "有 2 条新的符合条件的扶持政策" in first
    assert "渝北专精特新贴息（测试）" in first and "全市担保增信（测试）" in first
    again = client.get("/web/enterprise?lang=en").text
    assert "Support programmes" in again and "new programme(s)" not in again and "You qualify" in again


def test_the_enterprise_page_says_what_a_near_miss_lacks_in_both_languages(api: ApiEnv) -> None:
    client = console_client(api, "PC")
    zh = client.get("/web/enterprise?lang=zh").text
    assert "差一点符合" in zh and "员工人数须不少于 100 人（现 85 人，差 15 人）" in zh
    en = client.get("/web/enterprise?lang=en").text
    assert "Near misses" in en and "at least 100 employees (has 85, 15 short)" in en


def test_the_staff_page_lists_programmes_with_counts(api: ApiEnv) -> None:
    page = console_client(api, "operator").get("/web/programmes")
    assert page.status_code == 200 and "扶持政策与覆盖企业" in page.text and "API-1" in page.text
    assert "已通知" in page.text and 'href="/web/programmes"' in page.text
    narrowed = console_client(api, "admin").get("/web/programmes?kind=guarantee&lang=en").text
    assert "API-2" in narrowed and "API-1" not in narrowed and "Told" in narrowed
    assert console_client(api, "inv").get("/web/programmes").status_code == 403
    assert console_client(api, "PA").get("/web/programmes").status_code == 403
    operator = console_client(api, "operator").get("/web/operator").text
    assert 'value="programmes"' in operator


def test_sample_programmes_are_marked_as_sample_not_real_policy(api: ApiEnv) -> None:
    r = api.client.post("/v1/imports/programmes", headers=api.auth("admin"),
                        files={"file": ("sample.csv", SAMPLE_FILE.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    body = api.get("/v1/programmes", "operator").json()
    assert body["sample_data"] and "非真实政策" in body["sample_note"]["zh"]
    assert "not real policy" in body["sample_note"]["en"]
    page = console_client(api, "operator").get("/web/programmes").text
    assert "示例数据，非真实政策" in page and "（示例）" in page


def test_the_console_panel_names_an_enterprise_that_does_not_exist(api: ApiEnv) -> None:
    page = console_client(api, "operator").get("/web/enterprise?enterprise_id=9223372036854775807")
    assert "企业不存在" in page.text
