"""The syndicate benchmark (issue 17 item 2): rounds as queries, the lead, the baselines, a thin CrunchBase smoke.

Known answer on a hand-made file: one round of three investors after the cut (the first listed leads), one of a
single investor (no query); the lead's earlier co-investor is counted, the company's earlier investor is a
follow-on (out of the new pairs), and the co-investment baseline ranks the co-investor first. On a thin slice of the
real export (skipped when it is not beside the checkout): every scorer on both subsets, intervals around the means.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from test_benchmark import CRUNCHBASE, _hand_rows, _row, _snapshot, _vectors, _window

import training.syndicate_bench as sb
from matching.ingest.investment_events import parse_investment_events, write_investment_events_csv
from matching.ingest.reader import read_table
from matching.learning.benchmark.adapter import protocol_sets
from training.pipeline import Inputs


def _rows() -> list[dict[str, str]]:
    rows = [_row(inv, f"p-{inv}-{k}", date(2012, 3, 1 + k)) for inv in "abcdef" for k in range(5)]
    rows += [_row(inv, f"co-{k}", date(2012, 5, 1 + k)) for k in range(3) for inv in "ab"]  # a and b: 3 together
    rows.append(_row("c", "x", date(2012, 6, 1)))  # c invested in x before the cut: a follow-on
    rows += [_row(inv, "x", date(2013, 2, 1)) for inv in "abc"]  # the round: a listed first, a leads
    rows.append(_row("d", "y", date(2013, 3, 1)))  # a round of one: no query
    return rows


def test_rounds_lead_positives_follow_ons_and_co_investments(tmp_path: Path) -> None:
    rows = _rows()
    snap = _snapshot(rows, tmp_path)
    write_investment_events_csv(rows, tmp_path / "again.csv")
    listed = sb.listed_order(parse_investment_events(read_table(tmp_path / "again.csv"), source="t").events)
    inputs = Inputs(snap, np.zeros((snap.n_enterprises, 4), np.float32), np.zeros((snap.n_investors, 4), np.float32),
                    None)  # type: ignore[arg-type]  (rounds reads no vector)
    assert sb.rounds(inputs, _window()).lead.tolist() == [snap.inv_key.index("t:b")]  # the snapshot's order: by key
    r = sb.rounds(inputs, _window(), listed=listed)  # the file's order: a leads
    key = {k: i for i, k in enumerate(snap.inv_key)}
    inv = {name: key[f"t:{name}"] for name in "abcdef"}
    assert r.lead.tolist() == [inv["a"]] and r.company.tolist() == [snap.ent_key_row["t:x"]]
    assert sorted(r.inv.tolist()) == sorted(inv[n] for n in "bcdef") and r.sizes.tolist() == [5]
    got = {snap.inv_key[i]: (int(y), bool(f), int(c)) for i, y, f, c in zip(r.inv, r.y, r.follow_on, r.co,
                                                                            strict=True)}
    assert got == {"t:b": (1, False, 3), "t:c": (1, True, 0), "t:d": (0, False, 0), "t:e": (0, False, 0),
                   "t:f": (0, False, 0)}
    recall, ndcg = sb.per_query(r, r.co.astype(float), np.ones(len(r.inv), bool))
    assert recall.tolist() == [1.0]  # five candidates: all in the top 10
    assert snap.inv_key[r.inv[int(np.argmax(r.co))]] == "t:b"  # the lead's co-investor first: NDCG above the worst
    worst = (1 / np.log2(5) + 1 / np.log2(6)) / (1 + 1 / np.log2(3))  # b and c last
    assert worst < ndcg[0] <= 1.0
    recall_new, _ = sb.per_query(r, r.co.astype(float), ~r.follow_on)  # new pairs: c is out
    assert recall_new.tolist() == [1.0]


def test_the_enterprise_lists_alone_are_the_same_lists(tmp_path: Path) -> None:
    """The deal-list scorer's choice reads the enterprise -> investor lists only: asked alone they are the same."""
    snap = _snapshot(_hand_rows(), tmp_path)
    ent_vecs, man_vecs = _vectors(snap)
    both = protocol_sets(snap, _window(), ent_vecs=ent_vecs, man_vecs=man_vecs)
    alone = protocol_sets(snap, _window(), ent_vecs=ent_vecs, man_vecs=man_vecs, directions=("enterprise",))
    assert set(alone) == {"enterprise"} and set(both) == {"investor", "enterprise"}
    a, b = alone["enterprise"].data, both["enterprise"].data
    assert (a.inv == b.inv).all() and (a.ent == b.ent).all() and (a.y == b.y).all()
    assert np.array_equal(a.X, b.X, equal_nan=True)


@pytest.mark.skipif(not CRUNCHBASE.exists(), reason="the shared CrunchBase export is not beside the checkout")
def test_on_a_thin_crunchbase_slice_every_scorer_is_reported_with_intervals(encoder) -> None:  # type: ignore[no-untyped-def]
    from matching.ingest.crunchbase import read_crunchbase
    from matching.learning.benchmark.thin import thin_events
    from matching.retrieval.embeddings import embed
    from matching.snapshot.core import build_snapshot
    from training.benchmark import CRUNCHBASE_CUTS, benchmark_config

    parsed = thin_events(read_crunchbase(CRUNCHBASE), since=date(2011, 1, 1), max_investors=60)
    snap = build_snapshot(parsed.enterprises, parsed.investors, events=parsed.events)
    inputs = Inputs(snap, embed(encoder, snap.ent_text, kind="passage"), embed(encoder, snap.man_text, kind="query"),
                    encoder)
    out = sb.run_cut(inputs, CRUNCHBASE_CUTS[1], benchmark_config(), lead_weight=0.5)
    assert out["rounds"] > 0 and out["lead_weight"] == 0.5 and out["tuning_ndcg@10_new_pairs"] is None
    for sub in sb.SUBSETS:
        for name in sb.SCORERS:
            m = out["results"][sub]["metrics"][name]
            assert 0.0 <= m["recall@10"] <= 1.0 and 0.0 <= m["ndcg@10"] <= 1.0 and m["queries"] > 0
            lo, hi = m["ndcg@10_ci95"]
            assert lo <= m["ndcg@10"] <= hi
    assert out["results"]["new_pairs"]["metrics"]["deal_list"]["queries"] <= out["rounds"]
    md = sb.markdown({"encoder_id": "e", "timings": {"total": 1.0}, "peak_rss_gib": 1.0, "cuts": {"test": out},
                      "attribution": "ATTR"})
    assert md.count("| syndicate ranker") == 2 and md.rstrip().endswith("ATTR")
