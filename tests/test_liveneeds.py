"""LiveNeeds (the fast, amount-sorted path of deal lists) agrees exactly with the reference rules.

For every investor of generated markets (half with planted exclusions both ways, open ticket ends
and needs without a round): the eligible needs equal the eligibility index's, and the fit of each
equals :func:`pair_fit` bit for bit, at several tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_market import plant_edge_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.rules.eligibility import Eligibility, pair_fit
from matching.rules.liveneeds import LiveNeeds, best_first, best_per_target, first_of_runs
from matching.snapshot.core import build_snapshot
from matching.synth.generator import generate_market


@pytest.mark.parametrize("seed", range(6))
def test_eligible_and_fit_equal_the_reference(seed: int) -> None:
    m = generate_market(300, 60, 6, seed=seed)
    if seed % 2:
        plant_edge_cases(m, seed)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    rules = Eligibility.of(snap)
    live = LiveNeeds(snap)
    checked = 0
    for tol in (0.0, 0.2):
        for inv in range(snap.n_investors):
            ref = np.flatnonzero(rules.needs_for(inv, tolerance=tol))
            pos = live.eligible(inv, tolerance=tol)
            got = live.need[pos]
            assert np.array_equal(np.sort(got), ref), f"investor row {inv}, tolerance {tol}"
            if len(ref):
                expected = pair_fit(snap, np.full(len(got), inv), got)
                assert np.array_equal(live.fit(inv, pos), expected), f"fit of investor row {inv}"
                checked += len(ref)
    assert checked > 500  # the markets do produce eligible pairs


def test_best_per_target_takes_the_highest_fit_then_the_lowest_need() -> None:
    targets = np.array([5, 5, 7, 9, 9, 9])
    needs = np.array([11, 10, 12, 15, 14, 13])
    fit = np.array([0.5, 0.5, 0.1, 0.2, 0.9, 0.9])
    shared = np.array([True, True, False, True, True, True])
    for s in (shared, None):
        best = best_per_target(targets, needs, fit, s)
        assert sorted(zip(targets[best], needs[best], strict=True)) == [(5, 10), (7, 12), (9, 13)]
    assert len(best_per_target(np.zeros(0, int), np.zeros(0, int), np.zeros(0))) == 0


@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([0.0, 0.25, 0.5, 1.0, float("nan")])),
                min_size=1, max_size=40),
       st.booleans())
@settings(max_examples=300, deadline=None)
def test_best_per_target_equals_the_three_key_sort(pairs: list[tuple[int, float]], with_shared: bool) -> None:
    """The fast choice picks, pair for pair and in the same order, what `best_first` (training's rule) picks."""
    targets = np.array([t for t, _ in pairs], dtype=np.int64)
    fit = np.array([f for _, f in pairs])
    needs = np.random.default_rng(len(pairs)).permutation(1000)[:len(pairs)].astype(np.int64)
    if len(pairs) > 3:  # a pair listed twice (same target, need and fit) is chosen once, the first copy
        targets, fit, needs = (np.r_[a, a[[1]]] for a in (targets, fit, needs))
    order = best_first(targets, needs, fit)
    want = order[first_of_runs(targets[order])]
    shared = np.bincount(targets)[targets] > 1 if with_shared else None
    got = best_per_target(targets, needs, fit, shared)
    if shared is None:
        assert np.array_equal(got, want)
    else:
        assert np.array_equal(np.sort(got), np.sort(want))
        assert np.array_equal(got[np.count_nonzero(~shared):], want[shared[want]])
