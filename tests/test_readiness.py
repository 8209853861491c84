"""Listing readiness in the core: known-answer enterprises built to meet or miss each criterion by a known margin,
unknown versus missed, the standards file's refusals (exact messages), batch = single."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

import numpy as np
import pytest

from matching.domain.records import Enterprise, Financials
from matching.errors import FieldError
from matching.readiness import panel, parse_standards, readiness_for, readiness_matrix, shipped
from matching.readiness.standards import SHIPPED, canonical

WAN = 1e4


def ent(tier: str = "basic", *years: Financials) -> Enterprise:
    return Enterprise(name="测试企业", tier=tier, financials=list(years))


def crit(result, set_code: str, metric: str, aggregate: str | None = None):
    for s in result.sets:
        if s.set.code == set_code:
            found = [c for c in s.criteria if c.criterion.metric == metric
                     and (aggregate is None or c.criterion.aggregate == aggregate)]
            assert len(found) == 1, found
            return found[0]
    raise AssertionError(set_code)


def one(e: Enterprise, target: str):
    (r,) = readiness_for(e, targets=[target])
    return r


def test_the_shipped_file_loads_with_its_version_and_hash() -> None:
    s = shipped()
    assert s.version == "2024.1"
    assert s.codes == ("growth", "select", "neeq_basic", "neeq_innovative", "bse", "chinext", "star", "main")
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert s.hash == hashlib.sha256(canonical(raw).encode()).hexdigest()
    for t in s.targets:  # every criterion has a source and a date, or a note saying why not
        for st in t.sets:
            for c in st.criteria:
                assert c.document and c.article
                assert c.date or c.note


def test_chinext_standard_one_missed_by_a_known_margin() -> None:
    e = ent("select", Financials(2024, revenue=20000 * WAN, net_profit=7000 * WAN),
            Financials(2023, revenue=25000 * WAN, net_profit=2000 * WAN))
    r = one(e, "chinext")
    each = crit(r, "chinext_1", "net_profit", "each")
    assert (each.status, each.figure, each.margin, each.years) == ("met", 2000.0, 2000.0, (2024, 2023))
    total = crit(r, "chinext_1", "net_profit", "sum")
    assert (total.status, total.figure, total.margin) == ("missed", 9000.0, -1000.0)
    assert total.gap == pytest.approx(0.1)
    last = crit(r, "chinext_1", "net_profit", "latest")
    assert (last.status, last.margin, last.years) == ("met", 1000.0, (2024,))
    s1 = next(s for s in r.sets if s.set.code == "chinext_1")
    assert s1.score == pytest.approx((1 + 0.9 + 1) / 3) and not s1.met
    assert r.best_set == "chinext_1" and r.status == "near" and r.score == pytest.approx(2.9 / 3)
    (change,) = [c for c in r.changes if c.set_code == "chinext_1"]
    assert change.criterion.aggregate == "sum" and change.delta == -1000.0
    assert change.as_dict()["text_zh"] == "最近2年累计净利润 >= 10,000 万元：现为 9,000.00 万元，差 1,000.00 万元"


def test_chinext_met_by_exactly_the_threshold() -> None:
    e = ent("select", Financials(2024, net_profit=6000 * WAN), Financials(2023, net_profit=4000 * WAN))
    r = one(e, "chinext")
    assert r.status == "met" and r.score == 1.0 and r.best_set == "chinext_1" and r.changes == ()
    assert crit(r, "chinext_1", "net_profit", "sum").margin == 0.0


def test_bse_pooled_rd_ratio_and_revenue_margins() -> None:
    e = ent("select", Financials(2024, revenue=22000 * WAN, rd_ratio=0.09, net_profit=100 * WAN),
            Financials(2023, revenue=18000 * WAN, rd_ratio=0.06, net_profit=100 * WAN))
    r = one(e, "bse")
    rev = crit(r, "bse_3", "revenue")
    assert (rev.status, rev.margin) == ("met", 2000.0)
    rd = crit(r, "bse_3", "rd_ratio")  # (1,980 + 1,080) / 40,000 = 7.65 %
    assert rd.status == "missed" and rd.figure == pytest.approx(7.65) and rd.margin == pytest.approx(-0.35)
    mv = crit(r, "bse_3", "market_value")
    assert (mv.status, mv.reason, mv.figure) == ("unknown", "not_assessable", None)
    spend = crit(r, "bse_4", "rd_spending")  # 3,060 万 of 5,000 万
    assert spend.status == "missed" and spend.margin == pytest.approx(-1940.0)


def test_a_missing_year_is_unknown_not_missed() -> None:
    e = ent("select", Financials(2024, net_profit=8000 * WAN), Financials(2022, net_profit=8000 * WAN))
    r = one(e, "chinext")
    each = crit(r, "chinext_1", "net_profit", "each")
    assert (each.status, each.reason, each.figure) == ("unknown", "no_figure", None)
    assert crit(r, "chinext_1", "net_profit", "latest").status == "met"
    s1 = next(s for s in r.sets if s.set.code == "chinext_1")
    assert s1.score == pytest.approx(1 / 3)  # a missing figure earns nothing
    # the closest set is chinext_2 (its revenue criterion has no figure): the change is to report that figure
    assert r.best_set == "chinext_2"
    assert [(c.criterion.metric, c.criterion.aggregate, c.delta) for c in r.changes] == [("revenue", "latest", None)]


def test_no_figures_at_all_scores_zero_and_regional_tiers_are_not_public() -> None:
    r = one(ent("basic"), "chinext")
    assert r.status == "far" and r.score == 0.0
    (tier,) = readiness_for(ent("basic"))[:1]
    assert tier.target.code == "growth" and tier.status == "unknown" and tier.score is None
    rev = crit(tier, "growth_1", "revenue")
    assert (rev.status, rev.reason) == ("unknown", "not_public") and rev.criterion.placeholder
    assert tier.as_dict()["placeholder"] is True


def test_default_targets_follow_the_tier() -> None:
    assert [r.target.code for r in readiness_for(ent("basic"))][:2] == ["growth", "neeq_basic"]
    assert [r.target.code for r in readiness_for(ent("growth"))][:2] == ["select", "neeq_basic"]
    assert "growth" not in [r.target.code for r in readiness_for(ent("select"))]
    with pytest.raises(FieldError, match=r"^target: 'nasdaq': unknown target; allowed: growth, select, neeq_basic"):
        readiness_for(ent(), targets=["nasdaq"])


def test_store_shaped_rows_and_records_agree_and_batch_equals_single() -> None:
    rng = np.random.default_rng(7)
    es = []
    for i in range(40):
        years = [Financials(2024 - j, revenue=float(rng.uniform(0, 5e8)), net_profit=float(rng.normal(3e7, 4e7)),
                            revenue_growth=float(rng.uniform(-0.2, 0.6)), rd_ratio=float(rng.uniform(0, 0.2)))
                 for j in range(int(rng.integers(0, 4)))]
        es.append(ent(["basic", "growth", "select"][i % 3], *years))
    m = readiness_matrix(panel(es))
    for i, e in enumerate(es):
        row = {"tier": e.tier, "financials": [dataclasses.asdict(f) for f in e.financials]}
        for a, b in zip(readiness_for(e), readiness_for(row), strict=True):
            assert a.as_dict() == b.as_dict()
            ts = m[a.target.code]
            assert ts.status[i] == a.status
            assert (a.score is None and np.isnan(ts.score[i])) or ts.score[i] == pytest.approx(a.score, abs=1e-6)


def _doc() -> dict:
    return copy.deepcopy(json.loads(SHIPPED.read_text(encoding="utf-8")))


@pytest.mark.parametrize(("path", "value", "message"), [
    (("metric",), "revnue", "targets[bse].sets[bse_1a].criteria[0].metric: 'revnue': unknown metric; allowed: revenue, "
     "net_profit, revenue_growth, rd_ratio, rd_spending, employees, patents, market_value, roe, operating_cash_flow"),
    (("operator",), "=>", "targets[bse].sets[bse_1a].criteria[0].operator: '=>': unknown operator; allowed: >=, >, "
     "<=, <, done"),
    (("unit",), "万", "targets[bse].sets[bse_1a].criteria[0].unit: '万': unknown unit for market_value; allowed: 万元, "
     "元, 亿元"),
    (("threshold",), None, "targets[bse].sets[bse_1a].criteria[0].threshold: None: null (not public) needs a note "
     "saying so, e.g. '未公开，待运营方确认'"),
    (("years",), 9, "targets[bse].sets[bse_1a].criteria[0].years: 9: a whole number of years from 1 to 5"),
    (("date",), "2024/04/30", "targets[bse].sets[bse_1a].criteria[0].date: '2024/04/30': a date written YYYY-MM-DD "
     "is required"),
    (("aggregate",), "pooled", "targets[bse].sets[bse_1a].criteria[0].aggregate: 'pooled': 'pooled' (sum of R&D over "
     "sum of revenue) is for rd_ratio only"),
])
def test_the_loader_refuses_a_bad_criterion_naming_it(path: tuple[str, ...], value: object, message: str) -> None:
    doc = _doc()
    bse = next(t for t in doc["targets"] if t["code"] == "bse")
    bse["sets"][0]["criteria"][0][path[0]] = value
    with pytest.raises(FieldError) as err:
        parse_standards(doc)
    assert str(err.value).startswith(message), str(err.value)


def test_the_loader_refuses_duplicates_bad_json_and_a_missing_version() -> None:
    doc = _doc()
    doc["targets"][1]["code"] = "growth"
    with pytest.raises(FieldError, match=r"^targets\[1\]\.code: 'growth': duplicate code; each must be unique$"):
        parse_standards(doc)
    with pytest.raises(FieldError, match=r"^file: 'line 1 column 2': not valid JSON"):
        parse_standards(b"{x")
    doc = _doc()
    del doc["version"]
    with pytest.raises(FieldError, match=r"^version: None: a non-empty text of at most 40 characters is required$"):
        parse_standards(doc)


def test_gb18030_text_is_accepted_and_the_hash_follows_the_content() -> None:
    doc = _doc()
    a = parse_standards(json.dumps(doc, ensure_ascii=False).encode("gb18030"))
    assert a.hash == shipped().hash
    doc["version"] = "2025.1"
    assert parse_standards(doc).hash != a.hash


@pytest.mark.parametrize(("text", "message"), [
    ('{"version": "x", "targets": [], "title": NaN}', "targets: []: a non-empty list of targets"),
    ("[" * 100_000, "file: 'nesting': nested too deeply for a standards file"),
    ("[1]", "file: 'list': a JSON object with version and targets"),
])
def test_the_loader_refuses_what_is_not_a_standards_file(text: str, message: str) -> None:
    with pytest.raises(FieldError) as err:
        parse_standards(text)
    assert str(err.value) == message


def test_what_the_database_cannot_store_is_refused_by_the_loader() -> None:
    doc = _doc()
    doc["title"] = float("nan")
    with pytest.raises(FieldError, match=r"^file: 'NaN': NaN and Infinity are not JSON numbers"):
        parse_standards(doc)
    doc = _doc()
    doc["title"] = "bad\x00"
    with pytest.raises(FieldError, match=r"text may not contain NUL characters"):
        parse_standards(doc)
    doc = _doc()
    doc["title"] = "bad\ud800"
    with pytest.raises(FieldError, match=r"unpaired surrogates"):
        parse_standards(doc)
    doc = _doc()
    doc["targets"][4]["sets"][0]["criteria"][0]["threshold"] = float("inf")
    with pytest.raises(FieldError, match=r"^targets\[bse\]\.sets\[bse_1a\]\.criteria\[0\]\.threshold: inf: a number"):
        parse_standards(doc)
