"""Support programmes: known-answer eligibility (each rule met or missed by a known margin), near-miss wording,
the import (Chinese headers, a GBK file, a bad row refused and named with nothing written) and notices that are
never written twice."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from matching.domain import vocab
from matching.domain.credit_code import make_credit_code
from matching.domain.programme import Programme
from matching.domain.records import Enterprise, Financials
from matching.ingest.parse_programmes import parse_programmes
from matching.ingest.reader import read_table
from matching.programmes import SAMPLE_FILE, EnterpriseColumns, evaluate
from matching.snapshot.core import build_snapshot
from store import programmes as programmes_db
from store.batch import MarketBatch, save_batch
from store.database import MIGRATIONS, Database
from store.importing import import_file

TODAY = date(2026, 12, 7)
#: Every rule set; the base enterprise meets each (employees and revenue exactly at their lower bounds).
FULL = Programme("P-FULL", "全条件测试政策", "测试局", "subsidy", districts=["500112"], tiers=["growth", "select"],
                 boards=["sci_tech"], qualifications=["srdi_municipal", "little_giant"], industries=["ai"],
                 min_employees=100, max_employees=500, min_revenue=2e7, max_revenue=2e8, min_age_years=3,
                 max_age_years=15)


def ent(name: str, *, employees: int | None = 100, revenue: float | None = 2e7,
        founded: date | None = date(2020, 1, 1), status: str = "active", **kw: object) -> Enterprise:
    profile: dict[str, object] = {"district_code": "500112", "tier": "growth", "boards": ["sci_tech"],
                                  "qualifications": ["srdi_municipal"], "industry_code": "ai"} | kw
    fin = [Financials(2024, revenue=1.0, employees=1), Financials(2025, revenue=revenue, employees=employees)]
    return Enterprise(name, source="test", external_id=name, founded_on=founded, status=status, financials=fin,
                      **profile)  # type: ignore[arg-type]


#: name → (enterprise, expected status, the rules it misses)
CASES: dict[str, tuple[Enterprise, str, list[str]]] = {
    "base": (ent("base"), "qualifies", []),
    "upper_bounds": (ent("upper_bounds", employees=500, revenue=2e8, tier="select"), "qualifies", []),
    "other_qualification": (ent("other_qualification", qualifications=["little_giant", "high_tech"]), "qualifies", []),
    "district": (ent("district", district_code="500103"), "near_miss", ["districts"]),
    "tier": (ent("tier", tier="basic"), "near_miss", ["tiers"]),
    "board": (ent("board", boards=["rural"]), "near_miss", ["boards"]),
    "qualification": (ent("qualification", qualifications=["high_tech"]), "near_miss", ["qualifications"]),
    "industry": (ent("industry", industry_code="software"), "near_miss", ["industries"]),
    "employees_15pct_short": (ent("employees_15pct_short", employees=85), "near_miss", ["min_employees"]),
    "employees_21pct_short": (ent("employees_21pct_short", employees=79), "not_eligible", ["min_employees"]),
    "employees_20pct_over": (ent("employees_20pct_over", employees=600), "near_miss", ["max_employees"]),
    "employees_unknown": (ent("employees_unknown", employees=None), "near_miss", ["min_employees"]),
    "revenue_20pct_short": (ent("revenue_20pct_short", revenue=1.6e7), "near_miss", ["min_revenue"]),
    "revenue_25pct_short": (ent("revenue_25pct_short", revenue=1.5e7), "not_eligible", ["min_revenue"]),
    "too_young": (ent("too_young", founded=date(2024, 6, 7)), "near_miss", ["min_age_years"]),
    "far_too_young": (ent("far_too_young", founded=date(2025, 6, 7)), "not_eligible", ["min_age_years"]),
    "too_old": (ent("too_old", founded=date(2010, 1, 1)), "near_miss", ["max_age_years"]),
    "two_rules": (ent("two_rules", district_code="500103", tier="basic"), "not_eligible", ["districts", "tiers"]),
    "inactive": (ent("inactive", status="inactive"), "not_eligible", []),
}


def test_each_rule_met_or_missed_by_a_known_margin() -> None:
    names = list(CASES)
    result = evaluate(FULL, EnterpriseColumns.from_records([CASES[n][0] for n in names]), TODAY)
    assert result.rules == ("districts", "tiers", "boards", "qualifications", "industries", "min_employees",
                            "max_employees", "min_revenue", "max_revenue", "min_age_years", "max_age_years")
    for row, name in enumerate(names):
        _, status, rules = CASES[name]
        assert (result.status(row), [m.rule for m in result.missing(row)]) == (status, rules), name


def test_unknown_employees_is_one_rule_short_not_two() -> None:
    """A figure not reported fails its band once (not once per bound): reporting it is the one thing missing."""
    band = Programme("P", "n", "i", "subsidy", min_employees=10, max_employees=50)
    result = evaluate(band, EnterpriseColumns.from_records([ent("u", employees=None)]), TODAY)
    assert result.status(0) == "near_miss"
    assert [(m.zh, m.en, m.unknown) for m in result.missing(0)] == [
        ("未填报员工人数，请补充最近年度数据", "employees not reported: add the latest year's figures", True)]


def test_near_miss_wording_names_threshold_figure_and_gap() -> None:
    cols = EnterpriseColumns.from_records([CASES[n][0] for n in (
        "employees_15pct_short", "revenue_20pct_short", "district", "qualification", "too_young", "tier")])
    result = evaluate(FULL, cols, TODAY)
    words = [(m.zh, m.en) for row in range(len(cols)) for m in result.missing(row)]
    assert words == [
        ("员工人数须不少于 100 人（现 85 人，差 15 人）", "at least 100 employees (has 85, 15 short)"),
        ("最近年度营业收入须不低于 2,000 万元（现 1,600 万元，差 400 万元）",
         "latest revenue at least 2,000 万元 (has 1,600, 400 short)"),
        ("注册地须在渝北区（现为渝中区）", "must be registered in Yubei (now Yuzhong)"),
        ('须具备资质：专精特新、专精特新"小巨人"（任一）',
         "needs one of the qualifications: Municipal SRDI enterprise, National SRDI 'little giant'"),
        ("成立须满 3 年（现 2.5 年）", "founded at least 3 years ago (now 2.5 years)"),
        ("须为成长层、优选层企业（现为基础层）", "tier must be Growth tier, Select tier (now Basic tier)"),
    ]
    gaps = [m.gap for row in range(len(cols)) for m in result.missing(row)]
    assert gaps[0] == pytest.approx(0.15) and gaps[1] == pytest.approx(0.20) and gaps[2] is None


def test_a_programme_without_rules_takes_every_active_enterprise() -> None:
    result = evaluate(Programme("P", "n", "i", "other"), EnterpriseColumns.from_records(
        [ent("a"), ent("b", status="inactive")]), TODAY)
    assert result.qualifies.tolist() == [True, False] and result.near_miss.tolist() == [False, False]


def test_snapshot_columns_give_the_same_answers_as_records() -> None:
    records = [c[0] for c in CASES.values()]
    from_records = evaluate(FULL, EnterpriseColumns.from_records(records), TODAY)
    from_snapshot = evaluate(FULL, EnterpriseColumns.from_snapshot(build_snapshot(records, [])), TODAY)
    assert np.array_equal(from_records.fails, from_snapshot.fails)
    assert from_records.qualifies.tolist() == from_snapshot.qualifies.tolist()


def test_kinds_in_step_with_the_migration() -> None:
    spec = importlib.util.spec_from_file_location("m0008", MIGRATIONS / "versions" / "0008_programmes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PROGRAMME_KINDS == vocab.PROGRAMME_KINDS.codes


# --- the file format ---

HEADER_ZH = ("政策编号,政策名称,发布单位,政策类型,适用区县,资质要求,最少员工人数,营业收入下限(万元),单户最高金额(万元),"
             "申报截止日期")


def write(tmp_path: Path, lines: list[str], encoding: str = "gbk", name: str = "programmes.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_chinese_headers_in_a_gbk_file(tmp_path: Path) -> None:
    row = "T-1,渝北专精特新贴息,渝北区测试局,贴息,渝北区、江北区,专精特新;高新,50,2000,100,2027/6/30"
    path = write(tmp_path, [HEADER_ZH, row])
    table = read_table(path)
    result = parse_programmes(table)
    assert table.encoding.lower() in ("gb18030", "gbk") and result.errors == []
    (p,) = result.records
    assert (p.kind, p.districts, p.qualifications, p.min_employees, p.min_revenue, p.max_amount, p.closes_on) == (
        "interest_subsidy", ["500112", "500105"], ["srdi_municipal", "high_tech"], 50, 2e7, 1e6, date(2027, 6, 30))


def test_english_headers_and_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, ["ref,name,issuer,kind,tiers,boards,min_age_years,max_revenue,link",
                            "E-1,Listing award,Bureau,listing reward,growth|select,sci_tech,3年,1.2亿,https://x.cn/p"],
                 encoding="utf-8")
    (p,) = parse_programmes(read_table(path)).records
    assert (p.kind, p.tiers, p.boards, p.min_age_years, p.max_revenue, p.link) == (
        "listing_reward", ["growth", "select"], ["sci_tech"], 3.0, 1.2e8, "https://x.cn/p")


def test_every_bad_cell_named_with_row_field_value_and_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER_ZH + ",申报开始日期,政策链接",
                            "B-1,甲,局,奖金,火星区,,,,,2027-01-01,2027-06-01,www.x.cn",
                            "B-0,乙,局,贴息,,,,,,,,",
                            "B-0,丙,局,贴息,,,,,,,,"])
    errors = [str(e) for e in parse_programmes(read_table(path)).errors]
    assert errors == [
        "row 2, 政策类型 (kind) = '奖金': unknown value; allowed: subsidy (奖补), interest_subsidy (贴息), "
        "risk_compensation (风险补偿), guarantee (担保增信), listing_reward (挂牌奖励), other (其他)",
        "row 2, 适用区县 (districts) = '火星区': not one of Chongqing's 38 district-level units; give the code "
        "(e.g. 500103) or the name (e.g. 渝中区); leave empty for enterprises outside Chongqing",
        "row 2, 政策链接 (link) = 'www.x.cn': not a web address; write it in full, e.g. "
        "https://www.example.gov.cn/policy",
        "row 4, 政策编号 (ref) = 'B-0': duplicate of row 3",
    ]


def test_a_band_upside_down_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ["政策编号,政策名称,发布单位,政策类型,申报开始日期,申报截止日期",
                            "D-1,甲,局,奖补,2027-06-01,2027-01-01"])
    assert [str(e) for e in parse_programmes(read_table(path)).errors] == [
        "row 2, 申报截止日期 (closes_on) = '2027-01-01': must not be below opens_on (2027-06-01)"]


def test_the_sample_file_is_marked_sample_and_valid() -> None:
    result = parse_programmes(read_table(SAMPLE_FILE))
    assert result.errors == [] and 8 <= len(result.records) <= 12
    assert all(p.is_sample and "示例" in p.name and "非真实政策" in p.description for p in result.records)
    assert {p.kind for p in result.records} >= {"listing_reward", "interest_subsidy", "risk_compensation", "guarantee"}


# --- the database: import, atomicity, notices ---

def _market(db: Database) -> dict[str, int]:
    save_batch(db, MarketBatch(enterprises=[ent("yes"), ent("near", employees=85), ent("no", district_code="500103",
                                                                                        tier="basic")]))
    with db.connect() as conn:
        return {r[1]: r[0] for r in conn.execute("SELECT id, external_id FROM enterprises")}


def _counts(db: Database) -> tuple[int, int]:
    with db.connect() as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM programmes), (SELECT count(*) FROM programme_notices)"
                           ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


GOOD = [HEADER_ZH, "T-1,渝北专精特新贴息,渝北区测试局,贴息,渝北区,专精特新,100,2000,100,2099-12-31",
        "T-2,已截止的奖补,测试局,奖补,,,,,10,2001-01-01"]


def test_import_writes_programmes_and_tells_each_qualifying_enterprise_once(db: Database, tmp_path: Path) -> None:
    ids = _market(db)
    report = import_file(db, "programmes", write(tmp_path, GOOD))
    assert report.committed and report.problems == []
    assert [(c.table, c.inserted) for c in report.counts] == [("programmes", 2), ("programme_notices", 1)]
    with db.connect() as conn:
        told = conn.execute("SELECT p.ref, n.enterprise_id FROM programme_notices n JOIN programmes p "
                            "ON p.id = n.programme_id").fetchall()
    assert told == [("T-1", ids["yes"])]  # the closed programme tells nobody; the near miss is not told
    again = import_file(db, "programmes", write(tmp_path, GOOD))
    assert [(c.table, c.inserted, c.updated) for c in again.counts] == [("programmes", 0, 0),
                                                                       ("programme_notices", 0, 0)]
    assert _counts(db) == (2, 1)


def test_profile_change_tells_a_newly_qualifying_enterprise_once(db: Database, tmp_path: Path) -> None:
    ids = _market(db)
    import_file(db, "programmes", write(tmp_path, GOOD))
    with db.connect() as conn:
        conn.execute("UPDATE enterprise_financials SET employees = 120 WHERE enterprise_id = %s", (ids["near"],))
        assert programmes_db.notify(conn, enterprise_ids=[ids["near"]]) == 1
        assert programmes_db.notify(conn, enterprise_ids=[ids["near"]]) == 0
        assert programmes_db.notify(conn) == 0
        assert programmes_db.unread_count(conn, ids["near"]) == 1
        assert programmes_db.mark_read(conn, ids["near"]) == 1 and programmes_db.unread_count(conn, ids["near"]) == 0
        conn.commit()


def test_one_bad_row_imports_nothing_and_is_named(db: Database, tmp_path: Path) -> None:
    _market(db)
    bad = [*GOOD, "T-3,坏行,测试局,贴息,渝北区,专精特新,很多,2000,100,2099-12-31"]
    report = import_file(db, "programmes", write(tmp_path, bad))
    assert not report.committed
    assert [str(p) for p in report.problems] == ["row 4: min_employees = '很多': not a whole number"]
    assert _counts(db) == (0, 0)


def test_cli_imports_programmes_and_refuses_a_bad_file(cli, db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _market(db)
    bad = cli("import", "programmes", str(write(tmp_path, [*GOOD, "T-3,坏行,测试局,奖X,,,,,,"], name="bad.csv")))
    assert bad.exit_code == 1 and "row 4: kind = '奖X': unknown value" in bad.output
    assert "nothing imported" in bad.output and _counts(db) == (0, 0)
    ok = cli("import", "programmes", str(SAMPLE_FILE))
    assert ok.exit_code == 0, ok.output
    assert _counts(db)[0] == 10


def test_the_demo_loads_the_sample_programmes_once(db: Database) -> None:
    _market(db)
    with db.connect(autocommit=True) as conn:
        assert programmes_db.load_sample_if_empty(conn) == 10
        assert programmes_db.load_sample_if_empty(conn) == 0
    assert _counts(db)[0] == 10


def test_an_enterprise_import_tells_the_enterprises_that_now_qualify(db: Database, tmp_path: Path) -> None:
    _market(db)
    import_file(db, "programmes", write(tmp_path, GOOD))
    a, b = (make_credit_code("9", "1", "500112", org) for org in ("PG0000101", "PG0000102"))
    rows = ["统一社会信用代码,企业名称,所属区县,资质,成立日期,年度,营业收入,员工人数",
            f"{a},导入企业甲,渝北区,专精特新,2015-01-01,2025,2000万,150",
            f"{b},导入企业乙,渝北区,,2015-01-01,2025,2000万,150"]
    report = import_file(db, "enterprises", write(tmp_path, rows, name="enterprises.csv"))
    assert report.committed and [(c.table, c.inserted) for c in report.counts][-1] == ("programme_notices", 1)
    again = import_file(db, "enterprises", write(tmp_path, rows, name="enterprises.csv"))
    assert "programme_notices" not in [c.table for c in again.counts]
    assert _counts(db) == (2, 2)
