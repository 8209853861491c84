"""Candidate sources (one shared suite for every implementation), merging, pair rules, diversity."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_encoder import HashingEncoder
from helpers_market import plant_edge_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.features.collaborative import CollaborativeModel
from matching.features.table import History
from matching.ranking.diversity import DiversityConfig, rerank
from matching.retrieval.candidates import (
    CandidateQuery,
    CandidateSource,
    CollaborativeSource,
    ExplorationSource,
    Found,
    RulesSource,
    SemanticSource,
    merge_candidates,
)
from matching.retrieval.embeddings import embed
from matching.retrieval.index import VectorIndex
from matching.rules.constraints import violations
from matching.rules.eligibility import Eligibility, pair_fit
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market


@pytest.fixture(scope="module")
def world() -> tuple[MarketSnapshot, np.ndarray, np.ndarray, VectorIndex, CollaborativeModel]:
    m = generate_market(400, 50, 12, seed=5)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    enc = HashingEncoder()
    ent_vecs = embed(enc, snap.ent_text, kind="passage")
    man_vecs = embed(enc, snap.man_text, kind="query")
    index = VectorIndex(enc.dimension, enc.encoder_id).build(snap.ent_id, ent_vecs)
    collab = CollaborativeModel().fit(snap, History.build(snap, snap.as_of))
    return snap, ent_vecs, man_vecs, index, collab


def _query(snap: MarketSnapshot, man_vecs: np.ndarray, inv: int, allow: np.ndarray) -> CandidateQuery:
    rng = np.random.default_rng(inv)
    fit = np.where(allow, rng.random(snap.n_enterprises), np.nan)
    best = np.where(allow, 0, -1)
    return CandidateQuery("enterprise", inv, allow, best, fit, man_vecs[inv])


def _sources(world) -> list[CandidateSource]:  # type: ignore[no-untyped-def]
    snap, _, _, index, collab = world
    return [SemanticSource(index, snap.ent_id, "enterprise"), RulesSource(), CollaborativeSource(collab),
            ExplorationSource(snap, share=0.5, seed=3)]


@pytest.mark.parametrize("which", ["semantic", "rules", "collaborative", "exploration"])
def test_every_source_stays_inside_the_mask_is_deterministic_and_bounded(world, which: str) -> None:  # type: ignore[no-untyped-def]
    snap, _, man_vecs, _, _ = world
    source = next(s for s in _sources(world) if s.name == which)
    assert isinstance(source, CandidateSource)
    rng = np.random.default_rng(0)
    returned = 0
    for inv in range(0, snap.n_investors, 3):
        allow = rng.random(snap.n_enterprises) < rng.choice([0.02, 0.3, 0.9])
        q = _query(snap, man_vecs, inv, allow)
        got = source.candidates(q, 25)
        assert got.source == which and len(got.rows) == len(got.scores) <= 25
        assert allow[got.rows].all(), f"{which} returned rows outside the hard-constraint mask"
        assert len(np.unique(got.rows)) == len(got.rows)
        again = source.candidates(q, 25)
        assert list(again.rows) == list(got.rows)
        returned += len(got.rows)
        empty = source.candidates(_query(snap, man_vecs, inv, np.zeros(snap.n_enterprises, dtype=bool)), 25)
        assert len(empty.rows) == 0
    assert returned > 0


@pytest.mark.parametrize("which", ["semantic", "rules", "collaborative", "exploration"])
def test_every_source_answers_the_same_given_the_allowed_rows_in_any_order(world, which: str) -> None:  # type: ignore[no-untyped-def]
    """The matcher hands its allowed rows over (`rows`, unordered) to spare each source a scan of `allow`."""
    snap, _, man_vecs, _, _ = world
    src = next(s for s in _sources(world) if s.name == which)
    rng = np.random.default_rng(11)
    exposure = rng.integers(0, 6, snap.n_enterprises)
    for inv in range(0, snap.n_investors, 7):
        allow = rng.random(snap.n_enterprises) < 0.4
        plain = _query(snap, man_vecs, inv, allow)
        plain.exposure = exposure
        hinted = CandidateQuery("enterprise", inv, allow, plain.best_need, plain.fit, plain.vector, exposure,
                                rows=rng.permutation(np.flatnonzero(allow)))
        a, b = src.candidates(plain, 15), src.candidates(hinted, 15)
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_array_equal(a.scores, b.scores)
    assert np.array_equal(plain.allowed(), np.flatnonzero(allow))  # found once when not given


def test_semantic_source_equals_brute_force_inside_the_allow_list(world) -> None:  # type: ignore[no-untyped-def]
    snap, ent_vecs, man_vecs, index, _ = world
    src = SemanticSource(index, snap.ent_id, "enterprise")
    allow = np.random.default_rng(1).random(snap.n_enterprises) < 0.4
    got = src.candidates(_query(snap, man_vecs, 7, allow), 10)
    sims = ent_vecs @ man_vecs[7]
    expect = np.flatnonzero(allow)[np.argsort(-sims[allow], kind="stable")[:10]]
    assert set(got.rows) == set(expect)
    np.testing.assert_allclose(got.scores, np.sort(sims[allow])[::-1][:10], rtol=1e-5)


def test_semantic_source_over_an_index_in_another_row_order(world) -> None:  # type: ignore[no-untyped-def]
    """An index whose rows are not the snapshot's (built elsewhere) answers in snapshot rows all the same."""
    snap, ent_vecs, man_vecs, index, _ = world
    perm = np.random.default_rng(2).permutation(snap.n_enterprises)
    shuffled = VectorIndex(index.dimension, index.encoder_id).build(snap.ent_id[perm], ent_vecs[perm])
    aligned = SemanticSource(index, snap.ent_id, "enterprise")
    other = SemanticSource(shuffled, snap.ent_id, "enterprise")
    assert aligned._aligned and not other._aligned
    allow = np.random.default_rng(4).random(snap.n_enterprises) < 0.5
    for inv in range(0, snap.n_investors, 9):
        a = aligned.candidates(_query(snap, man_vecs, inv, allow), 12)
        b = other.candidates(_query(snap, man_vecs, inv, allow), 12)
        np.testing.assert_array_equal(a.rows, b.rows)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_rules_source_takes_the_best_fit() -> None:
    allow = np.array([True, False, True, True, True])
    fit = np.array([0.2, 0.99, 0.7, 0.7, 0.1])
    query = CandidateQuery("enterprise", 0, allow, np.zeros(5, dtype=np.int64), fit)
    got = RulesSource().candidates(query, 3)
    assert list(got.rows) == [2, 3, 0]  # ties by row; the disallowed 0.99 never appears


def test_exploration_share_pool_and_seed(world) -> None:  # type: ignore[no-untyped-def]
    snap, _, man_vecs, _, _ = world
    src = ExplorationSource(snap, share=0.1, max_events=0, seed=1)
    assert src.size(20) == 2 and src.size(5) == 1 and ExplorationSource(snap, share=0.0).size(20) == 0
    allow = np.ones(snap.n_enterprises, dtype=bool)
    q = _query(snap, man_vecs, 3, allow)
    pool = src.pool(q)
    engaged = np.bincount(snap.ev_ent[snap.ev_ent >= 0], minlength=snap.n_enterprises)
    assert pool.sum() < allow.sum() and ((engaged == 0) | src._new["enterprise"])[pool].all()
    got = ExplorationSource(snap, share=0.5, max_events=0, seed=1).candidates(q, 20)
    assert len(got.rows) == 10 and pool[got.rows].all()
    other = ExplorationSource(snap, share=0.5, max_events=0, seed=2).candidates(q, 20)
    assert list(other.rows) != list(got.rows)  # another seed, another draw
    exposure = np.full(snap.n_enterprises, 9)
    exposure[5] = 0
    with_exposure = src.pool(CandidateQuery("enterprise", 3, allow, q.best_need, q.fit, None, exposure))
    expect = src._new["enterprise"] | (engaged == 0) | (np.arange(len(allow)) == 5)
    np.testing.assert_array_equal(with_exposure, expect)
    with pytest.raises(ValueError, match="share"):
        ExplorationSource(snap, share=1.5)


def test_merge_tags_sources_and_drops_rows_outside_the_mask() -> None:
    allow = np.array([True, True, True, False, True])
    q = CandidateQuery("enterprise", 0, allow, np.array([10, 11, 12, -1, 14]), np.zeros(5))
    found = [Found("semantic", np.array([2, 0]), np.array([0.9, 0.8])),
             Found("rules", np.array([0, 4, 3]), np.array([1.0, 0.5, 0.4])),
             Found("exploration", np.array([4]), np.array([0.1]))]
    merged = merge_candidates(q, found)
    assert list(merged.rows) == [0, 2, 4]
    assert merged.sources == [["semantic", "rules"], ["semantic"], ["rules", "exploration"]]
    assert list(merged.needs) == [10, 12, 14]
    np.testing.assert_array_equal(merged.scores["semantic"], [0.8, 0.9, np.nan])


def test_investors_for_a_need_agree_with_violations_everywhere() -> None:
    for seed in range(4):
        m = generate_market(150, 40, 6, seed=seed)
        if seed % 2:  # exclusions both ways, open ticket ends, needs without a round
            plant_edge_cases(m, seed)
        snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
        rules = Eligibility.of(snap)
        for tol in (0.0, 0.2):
            for need in range(len(snap.need_id)):
                mask = rules.investors_for(need, tolerance=tol)
                expect = np.array([not violations(snap, i, need, tolerance=tol)
                                   for i in range(snap.n_investors)])
                np.testing.assert_array_equal(mask, expect, err_msg=f"seed {seed} need {need} tol {tol}")
        for inv in range(snap.n_investors):  # and the same index, one investor against every need
            el = rules.needs_for(inv)
            assert all(el[n] == (not violations(snap, inv, n)) for n in range(len(snap.need_id)))


def test_pair_fit_orders_the_obvious_cases(world) -> None:  # type: ignore[no-untyped-def]
    snap = world[0]
    inv = next(i for i in range(snap.n_investors) if snap.man_sectors[i] and snap.man_stages[i])
    needs = np.arange(len(snap.need_id))
    fit = pair_fit(snap, np.full(len(needs), inv), needs)
    assert ((fit >= 0) & (fit <= 1)).all()
    in_sector = np.isin(snap.ent_sector[snap.need_ent], list(snap.man_sectors[inv]))
    assert fit[in_sector].mean() > fit[~in_sector].mean() + 0.2


# -- diversity -------------------------------------------------------------------------------------
def test_rerank_sector_cap_and_exposure_demotion() -> None:
    sectors = np.array([1, 1, 1, 1, 2, 2, 3])
    order = rerank(sectors, None, DiversityConfig(head=5, max_per_sector=2, exposure_cap=None))
    assert list(order) == [0, 1, 4, 5, 6, 2, 3]
    exposure = np.array([0, 5, 0, 0, 0, 0, 0])
    order = rerank(sectors, exposure, DiversityConfig(head=5, max_per_sector=2, exposure_cap=5))
    assert list(order) == [0, 2, 4, 5, 6, 1, 3]
    # not enough diversity to fill the head: top up in score order, over-exposed last
    order = rerank(np.array([1, 1, 1, 1]), np.array([9, 0, 0, 0]), DiversityConfig(head=4, max_per_sector=1,
                                                                                  exposure_cap=3))
    assert list(order) == [1, 2, 3, 0]
    with pytest.raises(ValueError, match="max_per_sector"):
        DiversityConfig(max_per_sector=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 4), st.integers(0, 6)), max_size=40), st.integers(0, 25),
       st.integers(1, 4), st.integers(0, 6))
def test_rerank_properties(items: list[tuple[int, int]], head: int, cap: int, exp_cap: int) -> None:
    sectors = np.array([s for s, _ in items], dtype=np.int64)
    exposure = np.array([e for _, e in items], dtype=np.int64)
    cfg = DiversityConfig(head=head, max_per_sector=cap, exposure_cap=exp_cap)
    order = rerank(sectors, exposure, cfg)
    assert sorted(order) == list(range(len(items)))  # a permutation
    assert list(order) == list(rerank(sectors, exposure, cfg))  # deterministic
    h = min(head, len(items))
    top = order[:h]
    fresh = [i for i in range(len(items)) if exposure[i] < exp_cap]
    counts = {int(s): int((sectors[top] == s).sum()) for s in set(sectors.tolist()) - {-1}}
    if any(c > cap for c in counts.values()):  # over the cap only when every fresh item left was capped too
        left = [i for i in fresh if i not in set(top)]
        assert all(sectors[i] >= 0 and counts[int(sectors[i])] >= cap for i in left)
    over_in_head = [i for i in top if exposure[i] >= exp_cap]
    assert not over_in_head or all(i in set(top) for i in fresh)  # over-exposed only once fresh ran out
    assert list(order[h:]) == sorted(order[h:])  # the tail keeps its original order
