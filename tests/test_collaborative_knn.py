"""The collaborative investor neighbourhoods from a FAISS kNN (issue 16 item 1), against brute force.

Up to ``BRUTE_MAX_INVESTORS`` the neighbours are scikit-learn's (bit for bit); these tests force the
FAISS kNN that serves larger markets. Known answers: on random sparse + dense descriptions the
neighbours equal an exact NumPy scan of every pair (ties broken by row), for both the sparse-overlap
path and the dense-block path; on the demo market (5,000 enterprises, 600 investors, 24 months) the
fitted model scores every pair as the model fitted with scikit-learn's brute-force
``NearestNeighbors(metric="cosine")`` did, and proposes the same candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

import matching.features.collaborative as collaborative
from matching.features.collaborative import CollaborativeModel, investor_neighbours
from matching.features.table import History
from matching.snapshot.core import build_snapshot
from matching.synth.generator import generate_market


def _scan(engaged: sp.csr_matrix, dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair's cosine, best first, ties by row: the reference."""
    x = normalize(np.hstack([engaged.toarray(), dense]))
    sims = x @ x.T
    order = np.lexsort((np.broadcast_to(np.arange(len(x)), sims.shape), -sims), axis=1)[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


@pytest.mark.parametrize("density", [0.002, 0.3])  # few overlaps (FAISS + overlap union) / most (dense blocks)
def test_neighbours_equal_an_exact_scan_of_every_pair(density: float) -> None:
    rng = np.random.default_rng(5)
    n, cols = 700, 2000
    engaged = sp.random(n, cols, density=density, random_state=5, format="csr")
    dense = rng.random((n, 12)) * (rng.random((n, 12)) < 0.3)
    dense[:40] = dense[40]  # identical descriptions: ties at the k-th place
    dense[50:60] = 0.0
    keep = np.ones(n)
    keep[50:55] = 0.0  # no description at all
    engaged = (sp.diags(keep) @ engaged).tocsr()
    idx, sims = investor_neighbours(engaged, dense, 21, brute_max=0)  # the FAISS kNN
    want_idx, want_sims = _scan(engaged, dense, 21)
    assert np.allclose(sims, want_sims, atol=1e-12)
    described = np.asarray(engaged.sum(axis=1)).ravel() + dense.sum(axis=1) > 0
    assert np.array_equal(idx[described], want_idx[described])


@pytest.fixture(scope="module")
def demo() -> tuple[Any, History]:
    m = generate_market()  # the demo market: 5,000 enterprises, 600 investors, 24 months
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    return snap, History.build(snap, snap.as_of)


def test_the_demo_market_scores_as_with_scikit_learns_brute_force(demo: tuple[Any, History],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    snap, hist = demo
    faiss_knn = investor_neighbours
    monkeypatch.setattr(collaborative, "investor_neighbours", lambda e, d, k: faiss_knn(e, d, k, brute_max=0))
    new = CollaborativeModel().fit(snap, hist)  # through the FAISS kNN

    def sklearn_brute(engaged: sp.csr_matrix, dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        desc = normalize(sp.hstack([engaged, sp.csr_matrix(dense)]).tocsr())
        dist, idx = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(desc).kneighbors(desc)
        return idx, 1.0 - dist

    monkeypatch.setattr(collaborative, "investor_neighbours", sklearn_brute)
    old = CollaborativeModel().fit(snap, hist)
    inv = np.repeat(np.arange(snap.n_investors), 200)
    ent = np.random.default_rng(0).integers(0, snap.n_enterprises, len(inv))
    assert np.allclose(new.score(inv, ent), old.score(inv, ent), rtol=0, atol=1e-6)
    for i in range(0, snap.n_investors, 7):
        a, b = new.candidates(i, 50), old.candidates(i, 50)
        assert np.allclose(a[1], b[1], atol=1e-6) and len(a[0]) == len(b[0])
