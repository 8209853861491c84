"""The enterprise profile export (企业画像) and the tier history behind it.

Tier history: written in the writing transaction by the API (create, update, a verified claim), by an import,
by the migration's backfill and by SQL outside the service, and only when tier, boards or qualifications
really change (boards and qualifications as sets). The export: every record valid against the shipped JSON
Schema, export → parse equal to the database, a withheld figure never in the bytes sent, access per role,
CSV in UTF-8 with BOM and in GB18030 readable as Excel would, the command line.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
from helpers_api import ApiEnv, api_service, error_of

from matching.domain.credit_code import make_credit_code
from matching.domain.programme import Programme
from matching.ingest import profile_export as shape
from store import programmes as programmes_db
from store.database import Database, current_revision, head_revision, upgrade
from store.importing import import_file

# unusual figures, so that finding them anywhere in an export's bytes means they leaked
SECRET_REVENUE, SECRET_CAPITAL, SECRET_EMPLOYEES = 31415926.53, 27182818.0, 1618


def _code(n: int) -> str:
    return make_credit_code("9", "1", "500112", f"PX{n:07d}")


def _years() -> list[dict[str, Any]]:
    return [{"year": 2024, "revenue": SECRET_REVENUE, "net_profit": 1234567.0, "employees": SECRET_EMPLOYEES,
             "patents": 11, "rd_ratio": 0.071, "revenue_growth": 0.33}]


#: name → (tier, disclosure choice, the groups the government platform must not see)
CASES = {
    "basic_default": ("basic", "tier_default", ["registered_capital", "operating_metrics", "financials"]),
    "growth_default": ("growth", "tier_default", ["financials"]),
    "select_default": ("select", "tier_default", []),
    "select_on_request": ("select", "on_request", ["registered_capital", "operating_metrics", "financials"]),
    "basic_public": ("basic", "public", []),
}


#: 渝北区 only (public rules); + revenue ≥ 1000万 (our enterprises: 3141.6万, qualify); + ≥ 2000 employees (ours:
#: 1618, 19.1 % short: a near miss)
PROGRAMMES = [
    Programme(ref="PX-DISTRICT", name="渝北区挂牌奖励（测试）", issuer="测试", kind="listing_reward",
              districts=["500112"], max_amount=500_000.0),
    Programme(ref="PX-REVENUE", name="营收贴息（测试）", issuer="测试", kind="interest_subsidy",
              districts=["500112"], min_revenue=10_000_000.0),
    Programme(ref="PX-STAFF", name="用工奖补（测试）", issuer="测试", kind="subsidy", districts=["500112"],
              min_employees=2000),
]


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("api_profile_export")) as env:
        for i, (name, (tier, choice, _)) in enumerate(CASES.items(), 1):
            r = env.post("/v1/enterprises", "admin", {
                "credit_code": _code(i), "name": f"画像测试企业{name}", "district": "渝北区", "tier": tier,
                "disclosure": choice, "registered_capital": SECRET_CAPITAL, "financials": _years(),
                "excluded_investors": ["cvsource:secret-fund"]})
            assert r.status_code == 201, r.text
            env.ids[name] = r.json()["id"]
        with env.db.connect() as conn, conn.cursor() as cur:
            programmes_db.load_programmes(cur, PROGRAMMES)
            conn.commit()
        yield env


def _export(api: ApiEnv, key: str = "admin", **params: Any) -> tuple[list[dict[str, Any]], bytes]:
    r = api.get("/v1/exports/profiles", key, **params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.content.decode("utf-8").splitlines()], r.content


def _history(api: ApiEnv, enterprise_id: int) -> list[tuple[Any, ...]]:
    return api.sql("SELECT tier, boards, qualifications, source FROM tier_history WHERE enterprise_id = %s "
                   "ORDER BY id", (enterprise_id,))


# -- tier history --------------------------------------------------------------------------------------
def test_tier_history_is_written_by_the_api_only_when_tier_boards_or_qualifications_change(api: ApiEnv) -> None:
    r = api.post("/v1/enterprises", "admin", {"credit_code": _code(101), "name": "转层测试企业", "tier": "basic",
                                              "boards": ["sci_tech", "srdi"]})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert _history(api, eid) == [("basic", ["sci_tech", "srdi"], [], "api")]
    patch = api.client.patch
    assert patch(f"/v1/enterprises/{eid}", json={"tier": "growth"}, headers=api.auth("admin")).status_code == 200
    assert patch(f"/v1/enterprises/{eid}", json={"boards": ["srdi", "sci_tech"], "description": "只改简介"},
                 headers=api.auth("operator")).status_code == 200  # the same set of boards: no change
    assert patch(f"/v1/enterprises/{eid}", json={"qualifications": ["high_tech"]},
                 headers=api.auth("operator")).status_code == 200
    assert _history(api, eid) == [("basic", ["sci_tech", "srdi"], [], "api"),
                                  ("growth", ["sci_tech", "srdi"], [], "api"),
                                  ("growth", ["srdi", "sci_tech"], ["high_tech"], "api")]


def test_a_verified_claim_is_an_api_change(api: ApiEnv) -> None:
    eid = api.ids["ent"]
    before = len(_history(api, eid))
    current = api.get(f"/v1/enterprises/{eid}", "admin").json()["tier"]
    claimed = "select" if current != "select" else "growth"
    r = api.client.patch(f"/v1/enterprises/{eid}", json={"tier": claimed}, headers=api.auth("ent"))
    assert r.status_code == 200, r.text
    assert len(_history(api, eid)) == before  # a claim is not a change until staff verify it
    claim = [c for c in r.json()["claims"] if c["status"] == "pending"][-1]
    r = api.post(f"/v1/enterprises/{eid}/claims/{claim['id']}/decision", "operator", {"decision": "verified"})
    assert r.status_code == 200, r.text
    assert _history(api, eid)[-1][0::3] == (claimed, "api")


def _write_enterprises(path: Path, tier: str) -> None:
    path.write_bytes(("统一社会信用代码,企业名称,层级,特色板块\r\n"
                      f"{_code(201)},导入转层企业,{tier},科技创新板\r\n").encode("gb18030"))


def test_tier_history_is_written_by_an_import(db: Database, tmp_path: Path) -> None:
    f = tmp_path / "企业.csv"
    _write_enterprises(f, "基础层")
    assert import_file(db, "enterprises", f).ok
    assert import_file(db, "enterprises", f).ok  # the same file again: nothing changed, nothing recorded
    _write_enterprises(f, "成长层")
    assert import_file(db, "enterprises", f).ok
    with db.connect() as conn:
        rows = conn.execute("SELECT h.tier, h.boards, h.source FROM tier_history h JOIN enterprises e "
                            "ON e.id = h.enterprise_id WHERE e.credit_code = %s ORDER BY h.id",
                            (_code(201),)).fetchall()
    assert rows == [("basic", ["sci_tech"], "import"), ("growth", ["sci_tech"], "import")]


def test_the_migration_backfills_current_state_and_sql_outside_the_service_is_recorded(empty_db_url: str) -> None:
    module = importlib.import_module("store.migrations.versions.0009_tier_history")
    upgrade(empty_db_url, module.down_revision)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        eid = conn.execute("INSERT INTO enterprises (credit_code, name, tier, qualifications) VALUES "
                           "(%s, '迁移前企业', 'growth', '{high_tech}') RETURNING id", (_code(301),)).fetchone()[0]
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("UPDATE enterprises SET tier = 'select' WHERE id = %s", (eid,))
        rows = conn.execute("SELECT tier, qualifications, source FROM tier_history WHERE enterprise_id = %s "
                            "ORDER BY id", (eid,)).fetchall()
    assert rows == [("growth", ["high_tech"], "migration"), ("select", ["high_tech"], "sql")]


# -- the export ---------------------------------------------------------------------------------------
def test_every_record_is_valid_against_the_shipped_schema(api: ApiEnv) -> None:
    records, _ = _export(api)
    validator = jsonschema.Draft202012Validator(shape.load_schema(),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert len(records) == api.sql("SELECT count(*) FROM enterprises")[0][0]
    for r in records:
        errors = sorted(validator.iter_errors(r), key=str)
        assert not errors, (r["enterprise"]["id"], [e.message for e in errors[:3]])
    assert {r["schema_version"] for r in records} == {"1.0"}
    assert len({r["exported_at"] for r in records}) == 1


def test_export_then_parse_equals_the_database(api: ApiEnv) -> None:
    records, _ = _export(api)
    by_id = {r["enterprise"]["id"]: r for r in records}
    assert list(by_id) == sorted(by_id)  # id order
    full = by_id[api.ids["select_default"]]["enterprise"]
    row = api.sql("SELECT credit_code, name, district_code, tier, boards, qualifications, registered_capital, "
                  "founded_on FROM enterprises WHERE id = %s", (api.ids["select_default"],))[0]
    assert (full["credit_code"], full["name"], full["district"], full["tier"], full["boards"],
            full["qualifications"], full["registered_capital"], full["founded_on"]) == (*row[:6], float(row[6]), row[7])
    assert full["financials"] == [{"year": 2024, "revenue": SECRET_REVENUE, "net_profit": 1234567.0,
                                   "revenue_growth": 0.33, "rd_ratio": 0.071, "employees": SECRET_EMPLOYEES,
                                   "patents": 11}]
    history = {eid: [] for eid in by_id}
    for eid, tier, boards, quals, at, source in api.sql(
            "SELECT enterprise_id, tier, boards, qualifications, changed_at, source FROM tier_history ORDER BY id"):
        history[eid].append({"tier": tier, "boards": boards, "qualifications": quals, "changed_at": at.isoformat(),
                             "source": source})
    funnel: dict[int, dict[str, int]] = {eid: dict.fromkeys(shape.FUNNEL_STAGES, 0) for eid in by_id}
    for eid, stage, n in api.sql("SELECT enterprise_id, event_type, count(DISTINCT investor_id) FROM funnel_events "
                                 "GROUP BY 1, 2"):
        if stage in funnel[eid]:
            funnel[eid][stage] = n
    for eid, r in by_id.items():
        assert r["tier_history"] == history[eid], eid
        assert r["funnel"] == funnel[eid], eid
    assert sum(r["funnel"]["invested"] for r in records) > 0  # the generated market has deals: counts are real


def test_a_withheld_field_is_never_exported(api: ApiEnv) -> None:
    records, raw = _export(api)
    by_id = {r["enterprise"]["id"]: r for r in records}
    for name, (_, _, withheld) in CASES.items():
        r = by_id[api.ids[name]]
        ent = r["enterprise"]
        assert r["disclosure"]["withheld"] == withheld, name
        assert (ent["registered_capital"] is None) == ("registered_capital" in withheld), name
        if {"operating_metrics", "financials"} <= set(withheld):
            assert ent["financials"] is None, name
        elif "financials" in withheld:
            assert ent["financials"][0]["revenue"] is None and ent["financials"][0]["employees"] == SECRET_EMPLOYEES
        assert "excluded_investors" not in ent, name
    # the bytes: shown only for the three enterprises that disclose them, never for the others
    assert raw.count(str(SECRET_REVENUE).encode()) == 2  # select_default, basic_public
    assert raw.count(str(SECRET_CAPITAL).encode()) == 3  # + growth_default
    assert b"secret-fund" not in raw
    csv_raw = api.get("/v1/exports/profiles", "admin", format="csv").content
    assert csv_raw.count(str(SECRET_REVENUE).encode()) == 2 * 2  # fin_revenue and financials_json
    assert b"secret-fund" not in csv_raw


def test_exported_confidential_fields_are_audited(api: ApiEnv) -> None:
    before = api.sql("SELECT count(*) FROM audit_log WHERE basis LIKE 'export:%%'")[0][0]
    _export(api, "operator", district="渝北区")
    rows = api.sql("SELECT enterprise_id, fields, basis FROM audit_log WHERE basis LIKE 'export:%%' ORDER BY id")
    new = {eid: (fields, basis) for eid, fields, basis in rows[before:]}
    assert new[api.ids["select_default"]] == (["registered_capital", "operating_metrics", "financials"],
                                              "export:tier:select")
    assert new[api.ids["growth_default"]] == (["registered_capital", "operating_metrics"], "export:tier:growth")
    assert api.ids["basic_default"] not in new and api.ids["select_on_request"] not in new


@pytest.mark.parametrize("key,status", [("admin", 200), ("operator", 200), ("ds", 403), ("inv", 403),
                                        ("sfund", 403), ("ent", 403), (None, 401), ("revoked", 401)])
def test_access_per_role(api: ApiEnv, key: str | None, status: int) -> None:
    r = api.get("/v1/exports/profiles", key, district="渝北区")
    assert r.status_code == status, r.text
    if status != 200:
        error_of(r)


def test_bad_parameters_are_named(api: ApiEnv) -> None:
    r = api.get("/v1/exports/profiles", "admin", district="火星区")
    assert r.status_code == 422
    assert error_of(r)["fields"][0]["field"] == "district" and error_of(r)["fields"][0]["value"] == "火星区"
    r = api.get("/v1/exports/profiles", "admin", format="xml")
    assert r.status_code == 422 and "format" in r.text


def _csv_rows(data: bytes, encoding: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode(encoding), newline="")))


def test_csv_in_utf8_with_bom_and_in_gb18030_reads_back(api: ApiEnv) -> None:
    records, _ = _export(api, district="渝北区")
    r = api.get("/v1/exports/profiles", "admin", format="csv", district="渝北区")
    assert r.content.startswith(b"\xef\xbb\xbf") and "text/csv" in r.headers["content-type"]
    utf8 = _csv_rows(r.content, "utf-8-sig")
    gb = api.get("/v1/exports/profiles", "admin", format="csv", encoding="gb18030", district="渝北区").content
    assert not gb.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(gb, "gb18030")
    assert list(rows[0]) == list(shape.CSV_COLUMNS)
    assert [{**x, "exported_at": ""} for x in rows] == [{**x, "exported_at": ""} for x in utf8]
    assert [row["name"] for row in rows] == [rec["enterprise"]["name"] for rec in records]
    row = next(x for x in rows if x["id"] == str(api.ids["basic_public"]))
    assert row["fin_revenue"] == str(SECRET_REVENUE) and row["district_name"] == "渝北区"
    assert json.loads(row["tier_history_json"]) == next(
        rec for rec in records if rec["enterprise"]["id"] == api.ids["basic_public"])["tier_history"]
    hidden = next(x for x in rows if x["id"] == str(api.ids["basic_default"]))
    assert hidden["fin_revenue"] == "" and hidden["registered_capital"] == "" and hidden["financials_json"] == ""
    assert hidden["withheld"] == "registered_capital、operating_metrics、financials"


def test_the_command_line_writes_both_formats(cli: Any, db: Database, tmp_path: Path) -> None:
    f = tmp_path / "企业.csv"
    _write_enterprises(f, "优选层")
    assert import_file(db, "enterprises", f).ok
    out = tmp_path / "profiles.jsonl"
    result = cli("export", "profiles", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["enterprise"]["name"] == "导入转层企业" and record["tier_history"][0]["source"] == "import"
    gb = tmp_path / "profiles.csv"
    assert cli("export", "profiles", "--format", "csv", "--encoding", "gb18030", "--out", str(gb)).exit_code == 0
    assert _csv_rows(gb.read_bytes(), "gb18030")[0]["tier_zh"] == "优选层"
    result = cli("export", "profiles", "--out", str(out), "--district", "火星区")
    assert result.exit_code == 1 and "火星区" in result.output
    result = cli("export", "profiles", "--out", str(out), "--district", "渝中区")
    assert result.exit_code == 0 and out.read_text(encoding="utf-8") == ""


def test_readiness_is_the_apis_and_only_where_every_figure_behind_it_is_disclosed(api: ApiEnv) -> None:
    records, _ = _export(api, district="渝北区")
    by_id = {r["enterprise"]["id"]: r for r in records}
    for name in ("select_default", "basic_public"):  # as the enterprise itself reads it from the API
        eid = api.ids[name]
        own = api.get(f"/v1/enterprises/{eid}/readiness", "admin").json()
        # the API's response model adds the placeholder texts as null where a target has none
        targets = [{k: v for k, v in t.items() if v is not None or not k.startswith("placeholder_")}
                   for t in own["targets"]]
        assert by_id[eid]["readiness"] == {"status": "assessed", "targets": targets,
                                           "changes": own["changes"], "withheld": []}, name
        assert any(c["metric"] == "revenue" and c["figure"] is not None
                   for t in own["targets"] for s in t["sets"] for c in s["criteria"])
    for name in ("basic_default", "growth_default", "select_on_request"):  # a figure group withheld: none of it
        eid = api.ids[name]
        codes = [t["target"] for t in api.get(f"/v1/enterprises/{eid}/readiness", "admin").json()["targets"]]
        assert by_id[eid]["readiness"] == {"status": "withheld", "targets": [], "changes": [], "withheld": codes}


def test_programmes_reading_a_withheld_figure_are_left_out(api: ApiEnv) -> None:
    records, _ = _export(api, district="渝北区")
    by_id = {r["enterprise"]["id"]: r for r in records}

    def seen(name: str) -> tuple[list[tuple[str, str]], int]:
        part = by_id[api.ids[name]]["programmes"]
        assert part["status"] == "assessed"
        return [(p["ref"], p["status"]) for p in part["items"]], part["withheld"]

    assert seen("select_default") == ([("PX-DISTRICT", "qualifies"), ("PX-REVENUE", "qualifies"),
                                       ("PX-STAFF", "near_miss")], 0)
    assert seen("growth_default") == ([("PX-DISTRICT", "qualifies"), ("PX-STAFF", "near_miss")], 1)
    assert seen("basic_default") == ([("PX-DISTRICT", "qualifies")], 2)
    near = next(p for p in by_id[api.ids["select_default"]]["programmes"]["items"] if p["ref"] == "PX-STAFF")
    assert [m["rule"] for m in near["missing"]] == ["min_employees"]
    rows = _csv_rows(api.get("/v1/exports/profiles", "admin", format="csv", district="渝北区").content, "utf-8-sig")
    row = next(x for x in rows if x["id"] == str(api.ids["growth_default"]))
    assert (row["programmes_qualified"], row["programmes_near_miss"], row["programmes_withheld"]) == ("1", "1", "1")
