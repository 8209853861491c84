"""Figures measured inside the bench process, each beside its baseline on the same data.

* :func:`index_figures`: the approximate index against an exact NumPy scan: build time, per-query
  latency of both, recall@100 of the approximate one (queries: mandate vectors).
* :func:`matcher_figures`: a ranked deal list and an investor list called in-process (no HTTP,
  auth or logging: the floor under the HTTP figures), and the features of one list's candidates
  computed in one batch against one candidate at a time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from matching.features.table import compute_features, pair_features
from matching.retrieval.index import VectorIndex
from matching.serving.matcher import Matcher


def _pcts(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2)}


def index_figures(index: VectorIndex, build_s: float, queries: np.ndarray, k: int = 100) -> dict[str, Any]:
    """Recall@k and per-query latency of ``index`` against an exact NumPy scan of the same vectors."""
    approx_ms, exact_ms, recall = [], [], []
    for q in queries:
        t = time.perf_counter()
        a, _ = index.search(q[None, :], k)
        approx_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        e, _ = index.exact_search(q[None, :], k)
        exact_ms.append((time.perf_counter() - t) * 1000)
        recall.append(len(set(a[0].tolist()) & set(e[0].tolist())) / k)
    a50, e50 = float(np.median(approx_ms)), float(np.median(exact_ms))
    return {"kind": index.kind, "vectors": len(index), "build_s": round(build_s, 2), f"recall_at_{k}": round(
        float(np.mean(recall)), 4), "approx_p50_ms": round(a50, 3), "exact_numpy_p50_ms": round(e50, 3),
        "speedup": round(e50 / max(a50, 1e-9), 1), "queries": len(queries)}


def matcher_figures(m: Matcher, investor_ids: list[int], enterprise_ids: list[int], k: int = 20,
                    rounds: int = 2) -> dict[str, Any]:
    """In-process list latency and the batched-vs-per-candidate feature baseline."""
    out: dict[str, Any] = {}
    for name, call, ids in (("deals", m.recommend_enterprises, investor_ids),
                            ("investors", m.recommend_investors, enterprise_ids)):
        for i in ids[:5]:
            call(i, k)
        ms = []
        for _ in range(rounds):
            for i in ids:
                t = time.perf_counter()
                call(i, k)
                ms.append((time.perf_counter() - t) * 1000)
        out[name] = _pcts(ms)
    out["features"] = _feature_baseline(m, investor_ids[0])
    out["ranking"] = _ranking_baseline(m, investor_ids[0])
    return out


def _ranking_baseline(m: Matcher, investor_id: int, rounds: int = 50) -> dict[str, Any]:
    """Ranking one deal list's candidates as served (compiled trees, each ranker once) against the previous
    path (LightGBM's predict, each ranker twice: probabilities, then the served score). Same scores checked."""
    scorer = m.scorer
    if scorer is None or not all(r.compiled for r in scorer.rankers.values()):
        return {}
    c = m.context
    inv = c.snap.investor_row[investor_id]
    pos = c.live.eligible(inv, tolerance=m.policy.tolerance)[:250]  # about one list's candidates
    invs = np.full(len(pos), inv, dtype=np.int64)
    X, _ = pair_features(c.snap, c.hist, invs, c.live.ent[pos], c.live.need[pos], man_vecs=c.man_vecs,
                         ent_vecs=c.ent_vecs, collab=c.collab)
    fit = c.live.fit(inv, pos)

    def served() -> np.ndarray:
        return scorer.served(X, "investor", fit=fit)[0]

    def previous() -> np.ndarray:
        scorer.pair_probabilities(X, X)
        return scorer.score(X, "investor", fit=fit)

    fast = served()
    kept = {side: r._compiled for side, r in scorer.rankers.items()}
    try:
        for r in scorer.rankers.values():
            r._compiled = None  # LightGBM predicts, as before
        slow = previous()
        t = time.perf_counter()
        for _ in range(rounds):
            previous()
        lgb_ms = (time.perf_counter() - t) * 1000 / rounds
    finally:
        for side, r in scorer.rankers.items():
            r._compiled = kept[side]
    if not np.allclose(fast, slow, rtol=0, atol=1e-9):
        raise AssertionError("compiled trees score a list differently from LightGBM")
    t = time.perf_counter()
    for _ in range(rounds):
        served()
    fast_ms = (time.perf_counter() - t) * 1000 / rounds
    return {"pairs": len(pos), "compiled_ms": round(fast_ms, 3), "lightgbm_ms": round(lgb_ms, 3),
            "speedup": round(lgb_ms / max(fast_ms, 1e-9), 1)}


def _feature_baseline(m: Matcher, investor_id: int) -> dict[str, Any]:
    """Features of one deal list's candidate pairs: one batched call against one call per candidate."""
    c = m.context
    snap, live = c.snap, c.live
    inv = snap.investor_row[investor_id]
    pos = live.eligible(inv, tolerance=m.policy.tolerance)[:m.policy.candidate_k * 2]
    ent, need = live.ent[pos], live.need[pos]
    invs = np.full(len(pos), inv, dtype=np.int64)
    sim = np.einsum("ij,ij->i", c.man_vecs[invs], c.ent_vecs[ent]).astype(np.float64)
    collab = c.collab.score(invs, ent) if c.collab is not None else None

    def batched() -> np.ndarray:
        return compute_features(snap, c.hist, invs, ent, need, sim=sim, collab=collab)

    def one_by_one() -> np.ndarray:
        return np.vstack([compute_features(snap, c.hist, invs[j:j + 1], ent[j:j + 1], need[j:j + 1],
                                           sim=sim[j:j + 1], collab=None if collab is None else collab[j:j + 1])
                          for j in range(len(pos))])

    a, b = batched(), one_by_one()
    if not np.allclose(a, b, equal_nan=True):
        raise AssertionError("per-candidate features differ from the batched ones")
    t = time.perf_counter()
    for _ in range(5):
        batched()
    batch_ms = (time.perf_counter() - t) * 1000 / 5
    t = time.perf_counter()
    one_by_one()
    single_ms = (time.perf_counter() - t) * 1000
    return {"candidates": len(pos), "batched_ms": round(batch_ms, 2), "per_candidate_ms": round(single_ms, 1),
            "speedup": round(single_ms / max(batch_ms, 1e-9), 1)}
