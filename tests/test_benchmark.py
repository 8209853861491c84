"""The real-data benchmark: candidate sets, cold start, no leakage, a planted answer, the CLI end to end."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from capconnect.db.scratch import PREFIX
from matching.benchmark.baselines import baseline_scores
from matching.benchmark.candidates import ENT_TO_INV, INV_TO_ENT, build_candidates, layout
from matching.benchmark.deals import Cut, DealRow, day_number, deals_from_rows
from matching.benchmark.features import FEATURE_NAMES, build_features
from matching.benchmark.model import ModelConfig, train_ranker
from matching.benchmark.protocol import run_cut
from matching.ingest.investment_events import write_investment_events_csv

CUT = date(2013, 1, 1)
END = date(2013, 7, 1)


def _row(inv: str, comp: str, day: date, *, category: str = "web", state: str = "CA", rnd: str = "a",
         amount: float | None = 1e6) -> DealRow:
    return DealRow(inv, comp, day, rnd, amount, category, state, "city", "vc", "CA")


# --------------------------------------------------------------------------------------------
# candidate sets, by hand
# --------------------------------------------------------------------------------------------


def _hand_rows() -> list[DealRow]:
    d = date(2012, 3, 1)
    rows = [_row("big", f"old{k}", d + timedelta(days=k)) for k in range(5)]  # 5 companies: eligible
    rows += [_row("four", f"old{k}", d + timedelta(days=k)) for k in range(4)]  # 4 companies: not eligible
    rows += [
        _row("big", "old0", date(2013, 2, 1), rnd="b"),  # follow-on in the window (portfolio)
        _row("four", "new1", date(2013, 3, 1), rnd="seed"),  # new company, funded by an ineligible investor
        _row("big", "new2", date(2013, 4, 1), rnd="angel"),  # new company, eligible investor
        _row("big", "new2", date(2013, 5, 1), rnd="b", amount=9e6),  # its second window round
        _row("big", "late", date(2013, 8, 1)),  # after the window
    ]
    return rows


def test_candidate_sets_follow_the_protocol() -> None:
    deals = deals_from_rows(_hand_rows())
    cands = build_candidates(deals, day_number(CUT), day_number(END))
    assert [deals.investor_ids[i] for i in cands.investors] == ["big"]  # >= 5 portfolio companies
    names = [deals.company_ids[c] for c in cands.companies]
    assert sorted(names) == ["new1", "new2", "old0"]  # funded in the window; "late" is outside it
    by_name = dict(zip(names, range(len(names)), strict=True))
    assert cands.cold.tolist() == [deals.company_ids[c].startswith("new") for c in cands.companies]
    assert cands.label[0].tolist() == [n in ("old0", "new2") for n in names]
    assert cands.portfolio[0].tolist() == [n == "old0" for n in names]
    # The query round is the company's first round in the window.
    assert deals_round(deals, cands.round[by_name["new2"]]) == "angel"
    assert cands.amount[by_name["new2"]] == pytest.approx(1e6)

    e2i = layout(cands, ENT_TO_INV)  # companies with an eligible positive, each ranking every eligible investor
    assert sorted(deals.company_ids[cands.companies[j]] for j in e2i.j) == ["new2", "old0"]
    assert e2i.group.tolist() == [1, 1] and e2i.y.tolist() == [1, 1]
    assert e2i.query_cold.tolist() == [deals.company_ids[cands.companies[j]] == "new2" for j in e2i.j]

    i2e = layout(cands, INV_TO_ENT)  # the investor ranks the window companies minus its portfolio
    assert sorted(deals.company_ids[cands.companies[j]] for j in i2e.j) == ["new1", "new2"]
    assert i2e.group.tolist() == [2]
    assert sorted(zip((deals.company_ids[cands.companies[j]] for j in i2e.j), i2e.y.tolist(),
                      strict=True)) == [("new1", 0), ("new2", 1)]


def deals_round(deals, code: int) -> str:  # type: ignore[no-untyped-def]
    from matching.benchmark.deals import ROUND_CODES

    return ROUND_CODES[int(code)]


def test_an_event_after_the_cut_changes_no_feature() -> None:
    rows = _hand_rows()
    deals = deals_from_rows(rows)
    planted = deals_from_rows([
        *rows,
        _row("big", "new2", date(2013, 6, 1), category="web", rnd="c", amount=5e7),  # later window round
        _row("big", "old1", date(2013, 6, 15), rnd="c"),  # a follow-on late in the window
        _row("newcomer", "old2", date(2013, 6, 20)),  # a new investor in the window
        _row("big", "old3", date(2014, 1, 1)),  # after the window
    ])
    a = build_features(deals, build_candidates(deals, day_number(CUT), day_number(END)))
    b_cands = build_candidates(planted, day_number(CUT), day_number(END))
    b = build_features(planted, b_cands)
    # Same investors; the planted window events add window companies but leave every existing one as it was.
    keep = np.isin(b_cands.companies, build_candidates(deals, day_number(CUT), day_number(END)).companies)
    for kind in ("investor", "company", "pair"):
        for name, value in getattr(a, kind).items():
            other = getattr(b, kind)[name]
            other = other[..., keep] if kind in ("company", "pair") else other
            np.testing.assert_array_equal(value, other, err_msg=name)
    assert set(a.investor) | set(a.company) | set(a.pair) == set(FEATURE_NAMES)


# --------------------------------------------------------------------------------------------
# a planted structure: specialists fund only their category
# --------------------------------------------------------------------------------------------

CATEGORIES = ("biotech", "web", "games", "cleantech", "mobile", "security")


def _market(seed: int = 3) -> list[dict[str, str]]:
    """18 specialist investors (3 per category) and one generalist, 2009-2013: every company is funded
    by two specialists of its category in one round, every fifth one by the generalist too."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    day = date(2009, 1, 1)
    n = 0
    while day < END:
        k = n % len(CATEGORIES)
        cat = CATEGORIES[k]
        specialists = [f"{cat}-fund-{m}" for m in range(3)]
        backers = list(rng.choice(specialists, size=2, replace=False))
        if n % 5 == 0:
            backers.append("generalist")
        for inv in backers:
            rows.append({"date": day.isoformat(), "company_id": f"c{n}", "company_name": f"Company {n}",
                         "industry": cat, "region": ("CA", "NY")[n % 2], "country": "US", "city": "X",
                         "round": "series-a", "amount": "2000000", "currency": "USD", "investor_id": inv,
                         "investor_name": inv.title(), "investor_country": "US", "investor_region": "CA"})
        n += 1
        day += timedelta(days=9)
    return rows


def _market_deals() -> list[DealRow]:
    return [DealRow(r["investor_id"], r["company_id"], date.fromisoformat(r["date"]), "a", 2e6, r["industry"],
                    r["region"], "X", "vc", "CA") for r in _market()]


FAST = ModelConfig(num_boost_round=40, params={"num_threads": 1, "min_data_in_leaf": 5})


def _top3_are_specialists(deals, cands, lay, scores: np.ndarray) -> list[bool]:  # type: ignore[no-untyped-def]
    out, start = [], 0
    for size in lay.group:
        rows = slice(start, start + int(size))
        top = np.argsort(-scores[rows], kind="stable")[:3]
        category = deals.categories[deals.comp_category[cands.companies[lay.j[start]]]]
        names = {deals.investor_ids[cands.investors[i]] for i in lay.i[rows][top]}
        out.append(names == {f"{category}-fund-{m}" for m in range(3)})
        start += int(size)
    return out


def test_specialists_rank_first_for_a_new_company_of_their_category() -> None:
    deals = deals_from_rows(_market_deals())
    cands = build_candidates(deals, day_number(CUT), day_number(END))
    cube = build_features(deals, cands)
    lay = layout(cands, ENT_TO_INV)
    assert lay.query_cold.all() and len(lay.group) >= 15  # every window company is new
    assert all(_top3_are_specialists(deals, cands, lay, baseline_scores(cube, lay)["affinity"]))
    # The model learns it from the year before the cut alone.
    inner = build_candidates(deals, day_number(CUT) - 365, day_number(CUT))
    ranker = train_ranker([(build_features(deals, inner), layout(inner, ENT_TO_INV))], FAST)
    assert all(_top3_are_specialists(deals, cands, lay, ranker.predict(cube, lay)))
    assert not all(_top3_are_specialists(deals, cands, lay, baseline_scores(cube, lay)["random"]))


def test_run_cut_reports_model_and_baselines_on_the_same_rows() -> None:
    result = run_cut(deals_from_rows(_market_deals()), Cut("test", CUT, END), FAST)
    e2i = result["directions"][ENT_TO_INV]
    assert e2i["cold_queries"] == e2i["queries"] and e2i["rows"] == e2i["queries"] * 19
    m = e2i["metrics"]["all"]
    assert m["model"]["auc"] > 0.9 > 0.7 > m["random"]["auc"]
    assert m["model"]["queries"] == m["random"]["queries"] == e2i["queries"]
    assert e2i["metrics"]["cold_start"]["model"] == m["model"]  # every query is cold here
    i2e = result["directions"][INV_TO_ENT]["metrics"]["all"]
    assert i2e["model"]["auc"] > 0.9 and i2e["affinity"]["auc"] > 0.9
    assert result["counts"]["eligible_investors"] == 19


# --------------------------------------------------------------------------------------------
# the command line, end to end through a scratch database
# --------------------------------------------------------------------------------------------




def _scratch_databases(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)).fetchall()
    return [r[0] for r in rows]


def test_cli_runs_the_protocol_on_an_investment_events_file(cli, db, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import capconnect.commands.benchmark as bench

    monkeypatch.setattr(bench, "ModelConfig", lambda: FAST)
    path = tmp_path / "deals.csv"
    write_investment_events_csv(_market(), path)
    out = tmp_path / "out.json"
    before = _scratch_databases(db.url)
    result = cli("benchmark", "investment-events", str(path), "--cut", "2013-01-01", "--end", "2013-07-01",
                 "--json", str(out))
    assert result.exit_code == 0, result.output
    assert "test · enterprise → investor · cold-start companies" in result.output
    assert "affinity" in result.output and "NDCG@10" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert _scratch_databases(db.url) == before  # the scratch database was dropped
    assert report["benchmark"] == "investment-events"
    assert report["import"]["events"] == len(_market())
    test = report["cuts"]["test"]
    assert test["cut"]["window_end_exclusive"] == "2013-07-01"
    assert test["counts"]["eligible_investors"] == 19
    for direction in (ENT_TO_INV, INV_TO_ENT):
        metrics = test["directions"][direction]["metrics"]
        assert set(metrics["all"]) == {"model", "random", "popularity", "rules", "affinity"}
        assert set(metrics["all"]["model"]) == {"recall@10", "recall@20", "recall@50", "recall@100", "ndcg@10", "mrr",
                                                "auc", "queries"}
        assert metrics["cold_start"]["model"]["queries"] > 0
    assert test["directions"][ENT_TO_INV]["metrics"]["all"]["affinity"]["recall@10"] == pytest.approx(1.0)


def test_cli_refuses_a_bad_cut(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deals.csv"
    write_investment_events_csv(_market()[:20], path)
    result = cli("benchmark", "investment-events", str(path), "--cut", "2013-13-01")
    assert result.exit_code == 1
    assert "--cut: '2013-13-01' is not a date; use YYYY-MM-DD" in result.output
