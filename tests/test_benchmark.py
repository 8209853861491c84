"""The real-data benchmark: the protocol's candidate sets, no leakage, one implementation, the served-scorer
choice on thin data, and the CLI end to end through a scratch database."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

import matching.learning.benchmark.adapter as adapter
import matching.learning.dataset as dataset
import training.benchmark as tb
import training.pipeline as pipeline
from matching.features.table import FEATURE_INDEX, FEATURE_NAMES, History
from matching.ingest.investment_events import parse_investment_events, write_investment_events_csv
from matching.ingest.reader import read_table
from matching.learning.benchmark.adapter import protocol_sets
from matching.learning.dataset import RankingData
from matching.learning.evaluation import SERVABLE_BASELINES, EvalSet, subset_masks
from matching.ranking.selection import Choice, select, served_scores
from matching.snapshot.core import MarketSnapshot, build_snapshot
from store.scratch import PREFIX
from training.benchmark import Cut, run_cut
from training.pipeline import Inputs, TrainConfig

CUT = date(2013, 1, 1)
END = date(2013, 7, 1)
CATEGORIES = ("biotech", "web", "games", "cleantech", "mobile", "security")
FAST = TrainConfig(valid_days=120.0, holdout_days=0.0, train_days=730.0, num_boost_round=40)


def _row(inv: str, comp: str, day: date, *, category: str = "web", rnd: str = "series-a") -> dict[str, str]:
    return {"date": day.isoformat(), "company_id": comp, "company_name": comp.title(), "industry": category,
            "region": "CA", "country": "US", "city": "X", "round": rnd, "amount": "2000000", "currency": "USD",
            "investor_id": inv, "investor_name": inv.title(), "investor_country": "US", "investor_region": "CA"}


def _snapshot(rows: list[dict[str, str]], tmp_path: Path) -> MarketSnapshot:
    path = tmp_path / f"deals-{len(rows)}.csv"
    write_investment_events_csv(rows, path)
    parsed = parse_investment_events(read_table(path), source="t")
    assert not parsed.errors
    return build_snapshot(parsed.enterprises, parsed.investors, events=parsed.events)


def _vectors(snap: MarketSnapshot, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ent = rng.normal(size=(snap.n_enterprises, 16)).astype(np.float32)
    man = rng.normal(size=(snap.n_investors, 16)).astype(np.float32)
    return ent / np.linalg.norm(ent, axis=1, keepdims=True), man / np.linalg.norm(man, axis=1, keepdims=True)


def _window() -> tuple[float, float]:
    return Cut("test", CUT, END).window()


def _hand_rows() -> list[dict[str, str]]:
    d = date(2012, 3, 1)
    rows = [_row("big", f"old{k}", d + timedelta(days=k)) for k in range(5)]  # 5 companies: eligible
    rows += [_row("four", f"old{k}", d + timedelta(days=k)) for k in range(4)]  # 4 companies: not eligible
    rows += [
        _row("big", "old0", date(2013, 2, 1), rnd="series-b"),  # follow-on in the window (portfolio)
        _row("four", "new1", date(2013, 3, 1), rnd="seed"),  # new company, funded by an ineligible investor
        _row("big", "new2", date(2013, 4, 1), rnd="angel"),  # new company, eligible investor
        _row("big", "late", date(2013, 8, 1)),  # after the window
    ]
    return rows


def _keys(snap: MarketSnapshot, ev: EvalSet) -> list[tuple[str, str, int]]:
    return [(snap.inv_key[i].split(":")[1], snap.ent_key[e].split(":")[1], int(y))
            for i, e, y in zip(ev.data.inv, ev.data.ent, ev.data.y, strict=True)]


def test_candidate_sets_follow_the_protocol(tmp_path: Path) -> None:
    snap = _snapshot(_hand_rows(), tmp_path)
    ent_vecs, man_vecs = _vectors(snap)
    sets = protocol_sets(snap, _window(), ent_vecs=ent_vecs, man_vecs=man_vecs)
    # enterprise -> investor: each company with a positive from an eligible investor ranks every eligible one
    e2i = sets["enterprise"]
    assert sorted(_keys(snap, e2i)) == [("big", "new2", 5), ("big", "old0", 5)]
    assert e2i.cold.tolist() == [k[1] == "new2" for k in _keys(snap, e2i)]
    # the follow-on is in "all" and "follow_on", never in "new_pairs"
    masks = subset_masks(e2i)
    assert [k for k, m in zip(_keys(snap, e2i), masks["new_pairs"], strict=True) if m] == [("big", "new2", 5)]
    assert [k for k, m in zip(_keys(snap, e2i), masks["follow_on"], strict=True) if m] == [("big", "old0", 5)]
    # investor -> enterprise: the window's companies outside its portfolio ("late" is after the window)
    assert sorted(_keys(snap, sets["investor"])) == [("big", "new1", 0), ("big", "new2", 5)]


def _market(seed: int = 3, end: date = END) -> list[dict[str, str]]:
    """18 specialist investors (3 per category) and one generalist, 2009-2013: every company is funded
    by two specialists of its category, every fifth one by the generalist too, some again a year later."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    day, n = date(2009, 1, 1), 0
    while day < end:
        cat = CATEGORIES[n % len(CATEGORIES)]
        backers = list(rng.choice([f"{cat}-fund-{m}" for m in range(3)], size=2, replace=False))
        if n % 5 == 0:
            backers.append("generalist")
        for inv in backers:
            rows.append(_row(inv, f"c{n}", day, category=cat))
            if n % 7 == 0 and day + timedelta(days=365) < end:
                rows.append(_row(inv, f"c{n}", day + timedelta(days=365), category=cat, rnd="series-b"))
        n += 1
        day += timedelta(days=9)
    return rows


def test_the_new_pairs_subset_holds_no_pair_seen_before_the_cut(tmp_path: Path) -> None:
    snap = _snapshot(_market(), tmp_path)
    ent_vecs, man_vecs = _vectors(snap)
    window = _window()
    before = History.build(snap, window[0])
    seen = set(zip(*(a.tolist() for a in before.pairs(3)[:2]), strict=True))
    for direction, ev in protocol_sets(snap, window, ent_vecs=ent_vecs, man_vecs=man_vecs).items():
        new = subset_masks(ev)["new_pairs"]
        pairs = set(zip(ev.data.inv[new].tolist(), ev.data.ent[new].tolist(), strict=True))
        assert pairs and not pairs & seen, direction
        follow = subset_masks(ev)["follow_on"] & (ev.data.y >= 3)
        if direction == "enterprise":
            assert follow.any()  # the market has follow-ons in the window
        assert set(zip(ev.data.inv[follow].tolist(), ev.data.ent[follow].tolist(), strict=True)) <= seen


def test_a_planted_future_event_changes_no_feature(tmp_path: Path) -> None:
    rows = _market()
    base = _snapshot(rows, tmp_path)
    # a later round of a window company by a specialist of another category, and a deal after the window
    planted = rows + [_row("games-fund-0", rows[-1]["company_id"], date(2013, 6, 30), category=rows[-1]["industry"],
                           rnd="series-c"), _row("web-fund-1", "c2", date(2013, 9, 1), rnd="series-c")]
    other = _snapshot(planted, tmp_path)  # another file: the rows differ in number
    ent_vecs, man_vecs = _vectors(base)
    a = protocol_sets(base, _window(), ent_vecs=ent_vecs, man_vecs=man_vecs)
    b = protocol_sets(other, _window(), ent_vecs=ent_vecs, man_vecs=man_vecs)
    for direction in a:
        ka = {(base.inv_key[i], base.ent_key[e]): r for r, (i, e) in enumerate(zip(a[direction].data.inv,
                                                                                   a[direction].data.ent,
                                                                                   strict=True))}
        kb = {(other.inv_key[i], other.ent_key[e]): r for r, (i, e) in enumerate(zip(b[direction].data.inv,
                                                                                     b[direction].data.ent,
                                                                                     strict=True))}
        common = sorted(set(ka) & set(kb))
        assert len(common) >= 0.9 * len(ka)
        np.testing.assert_array_equal(a[direction].data.X[[ka[k] for k in common]],
                                      b[direction].data.X[[kb[k] for k in common]])


def _eval_set(y: np.ndarray, group: np.ndarray, X: np.ndarray, direction: str = "enterprise") -> EvalSet:
    n = len(y)
    i64 = np.arange(n, dtype=np.int64)
    data = RankingData(direction, X.astype(np.float32), y.astype(np.int32), group, np.repeat(np.arange(len(group)),
                                                                                              group),
                       i64, i64, i64, np.full(n, -1), np.zeros(n), np.full(n, np.nan), (0.0, 1.0))
    return EvalSet(data, y >= 3, np.zeros(n, dtype=bool))


def _planted_affinity(seed: int = 0) -> EvalSet:
    rng = np.random.default_rng(seed)
    group = np.full(60, 40)
    y = np.zeros(group.sum(), dtype=np.int64)
    y[np.arange(60) * 40 + rng.integers(0, 40, size=60)] = 5
    X = np.full((len(y), len(FEATURE_NAMES)), np.nan)
    X[:, FEATURE_INDEX["affinity"]] = rng.normal(size=len(y)) + 4.0 * (y > 0)  # affinity finds the deals
    X[:, FEATURE_INDEX["inv_positives"]] = rng.integers(1, 50, size=len(y))
    X[:, FEATURE_INDEX["semantic_sim"]] = rng.normal(size=len(y))
    return _eval_set(y, group, X)


def test_selection_serves_the_baseline_when_the_model_is_worse() -> None:
    ev = _planted_affinity()
    rng = np.random.default_rng(1)
    noise = rng.normal(size=len(ev))
    choice = select(ev, lambda d, X: (noise, noise))  # a model that learned nothing
    assert choice.kind == "baseline" and choice.baseline == "affinity", choice.why
    assert choice.validation["affinity"] > 0.9 > choice.validation["model"]
    # serving ranks with exactly the baseline's scores
    np.testing.assert_array_equal(served_scores(choice, "enterprise", ev.data.X, lambda d, X: (noise, noise)),
                                  ev.data.X[:, FEATURE_INDEX["affinity"]].astype(np.float64))


def test_selection_serves_the_model_or_a_blend_when_the_model_is_better() -> None:
    ev = _planted_affinity()
    perfect = (ev.data.y > 0).astype(np.float64) * 10.0
    choice = select(ev, lambda d, X: (perfect, perfect))
    assert choice.uses_model and choice.kind in ("model", "two_sided", "blend"), choice.why
    assert Choice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice  # round trip of the artifact


def test_a_choice_refuses_an_unknown_baseline() -> None:
    with pytest.raises(ValueError, match=r"baseline: 'astrology': allowed: " + ", ".join(SERVABLE_BASELINES)):
        Choice("baseline", "astrology")


def _inputs(snap: MarketSnapshot) -> Inputs:
    ent_vecs, man_vecs = _vectors(snap)
    return Inputs(snap, ent_vecs, man_vecs, encoder=None)  # type: ignore[arg-type]


def test_the_benchmark_runs_the_production_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One implementation, asserted: the benchmark's features come from the function training calls,
    its models from the function ``capconnect train`` calls."""
    assert tb.fit_and_evaluate is pipeline.fit_and_evaluate
    calls: dict[str, int] = {"adapter": 0, "dataset": 0, "fit": 0}
    real_features, real_fit = adapter.pair_features, pipeline.fit_scorer
    assert dataset.pair_features is real_features

    def spy(where: str, fn):  # type: ignore[no-untyped-def]
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[where] += 1
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(adapter, "pair_features", spy("adapter", real_features))
    monkeypatch.setattr(dataset, "pair_features", spy("dataset", real_features))
    monkeypatch.setattr(pipeline, "fit_scorer", spy("fit", real_fit))
    snap = _snapshot(_market(), tmp_path)
    result = run_cut(_inputs(snap), Cut("test", CUT, END), FAST)
    assert calls["adapter"] >= 4 and calls["dataset"] >= 2 and calls["fit"] == 1
    e2i = result["directions"]["enterprise_to_investor"]
    served = e2i["served_scorer"]
    assert served == e2i["choice"]["name"]
    for sub in ("all", "new_pairs", "follow_on", "cold_start"):
        m = e2i["metrics"][sub]
        assert {"model", "two_sided", "popularity", "affinity", "similarity", "incumbents_then_affinity",
                served} <= set(m)
        lo, hi = m["model"]["ci95"]["ndcg@10"]
        assert lo <= m["model"]["ndcg@10"] <= hi
        assert m["model"]["queries"] == m["affinity"]["queries"] > 0
    # the specialists are easy: the served scorer finds the new pairs
    assert e2i["metrics"]["new_pairs"][served]["recall@10"] > 0.9
    assert e2i["paired_vs_best_baseline"]["new_pairs"]["best_baseline"] in SERVABLE_BASELINES


# --------------------------------------------------------------------------------------------
# the command line, end to end through a scratch database
# --------------------------------------------------------------------------------------------


def _scratch_databases(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)).fetchall()
    return [r[0] for r in rows]


def test_cli_runs_the_protocol_on_an_investment_events_file(cli_with_encoder, db, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import cli.commands.benchmark as bench

    monkeypatch.setattr(bench, "benchmark_config", lambda: FAST)
    path = tmp_path / "deals.csv"
    write_investment_events_csv(_market(), path)
    out = tmp_path / "out.json"
    before = _scratch_databases(db.url)
    result = cli_with_encoder("benchmark", "investment-events", str(path), "--cut", "2013-01-01", "--end",
                              "2013-07-01", "--json", str(out))
    from training.benchmark_report import markdown, write_readme

    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench:crunchbase:start -->\nOLD-SECTION\n<!-- bench:crunchbase:end -->\ntail\n",
                      encoding="utf-8")
    write_readme(json.loads(out.read_text(encoding="utf-8")), readme)
    text = readme.read_text(encoding="utf-8")
    assert "OLD-SECTION" not in text and text.endswith("<!-- bench:crunchbase:end -->\ntail\n")
    assert "#### enterprise → investor: serves" in text and "*new pairs*" in text and "95% CI" in text
    assert markdown(json.loads(out.read_text(encoding="utf-8"))) in text
    assert result.exit_code == 0, result.output
    assert "test · enterprise → investor · new_pairs · serving" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert _scratch_databases(db.url) == before  # the scratch database was dropped
    assert report["benchmark"] == "investment-events" and len(report["config_hash"]) == 12
    test = report["cuts"]["test"]
    assert test["cut"]["window_end_exclusive"] == "2013-07-01"
    assert test["counts"]["eligible_investors"] == 19
    for direction in ("enterprise_to_investor", "investor_to_enterprise"):
        d = test["directions"][direction]
        assert d["served_scorer"] in d["metrics"]["all"]
        assert set(d["metrics"]["all"]["model"]) >= {"recall@10", "recall@20", "recall@50", "recall@100", "ndcg@10",
                                                     "mrr", "auc", "queries", "ci95"}


def test_cli_refuses_a_bad_cut(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deals.csv"
    write_investment_events_csv(_market()[:20], path)
    result = cli("benchmark", "investment-events", str(path), "--cut", "2013-13-01")
    assert result.exit_code == 1
    assert "--cut: '2013-13-01' is not a date; use YYYY-MM-DD" in result.output


CRUNCHBASE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crunchbase-2013"


@pytest.mark.skipif(not CRUNCHBASE.exists(), reason="the shared CrunchBase export is not beside the checkout")
@pytest.mark.parametrize(("since", "max_investors"), [(date(2011, 1, 1), 60), (date(2011, 1, 1), 25)])
def test_on_thin_crunchbase_slices_the_served_scorer_is_no_worse_than_the_best_baseline(
        encoder, since: date, max_investors: int) -> None:  # type: ignore[no-untyped-def]
    """Two years of history and at most 60 (then 25) investors: too little for a ranker to be sure of
    itself. Whatever training chose on validation must not lose to the best baseline on the test window
    beyond the paired interval, on the served task: new pairs (on all pairs of enterprise → investor,
    ``incumbents_then_affinity`` wins by naming the company's own investors, which it already knows)."""
    from matching.ingest.crunchbase import read_crunchbase
    from matching.learning.benchmark.thin import thin_events
    from matching.retrieval.embeddings import embed
    from training.benchmark import CRUNCHBASE_CUTS, benchmark_config

    parsed = thin_events(read_crunchbase(CRUNCHBASE), since=since, max_investors=max_investors)
    snap = build_snapshot(parsed.enterprises, parsed.investors, events=parsed.events)
    inputs = Inputs(snap, embed(encoder, snap.ent_text, kind="passage"), embed(encoder, snap.man_text, kind="query"),
                    encoder)
    result = run_cut(inputs, CRUNCHBASE_CUTS[1], benchmark_config())
    for name, d in result["directions"].items():
        p = d["paired_vs_best_baseline"]["new_pairs"]
        assert p["hi"] >= 0.0, (name, d["served_scorer"], p)
