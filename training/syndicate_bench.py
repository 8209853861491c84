"""The syndicate benchmark on real rounds (CrunchBase 2013): given a round's first investor, rank the others.

Protocol (that of ``shared/data/crunchbase-2013/README.md`` and :mod:`training.benchmark`, plus):

* **Rounds**: the ``invested`` events in the window ``[cut, end)`` grouped by company and day (one funding
  round); a round with two or more investors is a query. **The lead** is its first investor as the file lists
  it (:func:`listed_order`: the snapshot orders one day's events by their keys, so the file's order is taken
  from the parsed events; CrunchBase marks no lead).
* **Candidates**: every investor with at least :data:`~matching.learning.benchmark.adapter.MIN_PORTFOLIO`
  portfolio companies before the cut (the enterprise → investor protocol's ranked side), the lead excluded;
  **positives**: the round's other investors among them (a query without one is dropped).
* **Subsets**: all pairs, and **new pairs**: the company's earlier investors (before the cut) removed from the
  candidates and the positives, as the enterprise → investor protocol does.
* **Scorers**, all on point-in-time inputs (the History at the cut, nothing at or after it):

  - ``deal_list``: the served enterprise → investor scorer (:func:`training.pipeline.fit_scorer`: the rankers
    trained on the two years before the validation window, the served scorer chosen on the validation window's
    full lists; the lead ignored);
  - ``co_investment``: how many companies each candidate co-invested in with the lead before the cut;
  - ``syndicate``: :func:`matching.serving.syndicate_search.member_scores`: the deal-list score's percentile among
    the query's candidates plus ``lead_weight`` × the capped co-investment tie with the lead, the ranking the
    syndicate search orders its pool by. ``lead_weight`` is chosen on the validation cut only (NDCG@10 on new
    pairs, grid :data:`WEIGHTS`) and applied unchanged to the test cut.

* **Metrics**: recall@10 and NDCG@10 (:mod:`matching.learning.metrics`, ties broken by the seed) with bootstrap
  95 % intervals over queries (:mod:`matching.learning.intervals`), and a paired bootstrap of ``syndicate``
  against the better baseline.

Memory is bounded by scoring the queries' (candidate, company) pairs in chunks of :data:`CHUNK` rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn

from matching.domain import vocab
from matching.domain.sides import POSITIVE_GRADE
from matching.features.collaborative import CollaborativeModel
from matching.features.table import History, pair_features
from matching.learning.benchmark.adapter import MIN_PORTFOLIO, protocol_sets
from matching.learning.evaluation import EvalSet, feature_baseline
from matching.learning.intervals import bootstrap_ci, paired_bootstrap
from matching.learning.metrics import ndcg_per_query, rank_order
from matching.ranking.twosided import TwoSidedScorer
from matching.serving.syndicate_search import member_scores, percentile
from matching.snapshot.core import to_days
from training.benchmark import Cut
from training.pipeline import Inputs, TrainConfig, fit_scorer, windows_at

#: ``lead_weight`` values tried on the validation cut.
WEIGHTS: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
SCORERS = ("syndicate", "co_investment", "deal_list")
SUBSETS = ("all", "new_pairs")
CHUNK = 200_000
#: scikit-learn's chunk budget for pairwise distances (default 1,024 MiB); measured: peak 4.24 GiB instead of 4.29.
WORKING_MEMORY_MIB = 128
INVESTED = int(vocab.EVENT_GRADES["invested"])
PROTOCOL = (
    "queries: rounds (company x day of invested events) in [cut, end) with >= 2 investors; lead: the round's "
    "first investor as listed; candidates: investors with >= 5 portfolio companies before the cut, the lead "
    "excluded; positives: the round's other investors among them; new_pairs: the company's investors before the "
    "cut removed from candidates and positives; deal_list: the served enterprise->investor scorer trained before "
    "the cut (validation window: the 120 days before it); co_investment: companies co-invested with the lead "
    "before the cut; syndicate: deal-list percentile + lead_weight * min(co, 3)/3, lead_weight tuned on the "
    "validation cut only; metrics: recall@10, NDCG@10, 95% bootstrap intervals over queries (1,000 resamples)"
)
Progress = Callable[[str], None]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rounds:
    """The queries of one window, flattened: per row a (query, candidate) pair.

    Attributes:
        lead: per query, the lead's investor row; ``company`` its enterprise row.
        sizes: candidates per query (rows are grouped by query, contiguous).
        inv: the candidate's investor row; ``y`` 1 for a positive; ``follow_on`` whether it invested in the company
            before the cut.
        co: the candidate's co-investments with the query's lead before the cut.
    """

    lead: np.ndarray
    company: np.ndarray
    sizes: np.ndarray
    inv: np.ndarray
    y: np.ndarray
    follow_on: np.ndarray
    co: np.ndarray

    @property
    def ent(self) -> np.ndarray:
        """The company of each row."""
        return np.repeat(self.company, self.sizes)


def listed_order(events: Iterable[Any]) -> dict[tuple[str, str, int], int]:
    """``(enterprise key, investor key, day) → position`` of each event in the file (the first, when repeated)."""
    out: dict[tuple[str, str, int], int] = {}
    for n, e in enumerate(events):
        out.setdefault((e.enterprise_key, e.investor_key, int(np.floor(to_days(e.occurred_at)))), n)
    return out


def rounds(inputs: Inputs, window: tuple[float, float], *, min_portfolio: int = MIN_PORTFOLIO,
           listed: Mapping[tuple[str, str, int], int] | None = None) -> Rounds:
    """The window's multi-investor rounds as ranking queries (module docstring); ``listed``
    (:func:`listed_order`) orders each round's investors as the file does (default: the snapshot's order)."""
    snap = inputs.snap
    start, end = window
    hist = History.build(snap, start)
    p_inv, p_ent, _ = hist.pairs(POSITIVE_GRADE)
    candidates = np.flatnonzero(np.bincount(p_inv, minlength=snap.n_investors) >= min_portfolio)
    before = sp.csr_matrix((np.ones(len(p_inv), dtype=np.float32), (p_inv, p_ent)),
                           shape=(snap.n_investors, snap.n_enterprises))
    is_cand = np.zeros(snap.n_investors, dtype=bool)
    is_cand[candidates] = True
    lo, hi = np.searchsorted(snap.ev_time, [start, end], side="left")
    at = np.arange(int(lo), int(hi))
    at = at[(snap.ev_grade[at] >= POSITIVE_GRADE) & (snap.ev_inv[at] >= 0) & (snap.ev_ent[at] >= 0)]
    day = np.floor(snap.ev_time[at]).astype(np.int64)
    key = snap.ev_ent[at].astype(np.int64) * 1_000_000 + day
    pos = at
    if listed is not None:
        found = [listed.get((snap.ent_key[snap.ev_ent[a]], snap.inv_key[snap.ev_inv[a]], int(d)))
                 for a, d in zip(at, day, strict=True)]
        missing = sum(f is None for f in found)
        if missing:
            logger.warning("%d of %d window events not found in the file's order: ordered by key", missing, len(at))
        pos = np.array([a if f is None else f for a, f in zip(at, found, strict=True)], dtype=np.int64)
    order = np.lexsort((at, pos, key))  # by round, then in the file's order
    at, key = at[order], key[order]
    leads, companies, sizes, invs, ys, follow, cos = [], [], [], [], [], [], []
    for k in np.unique(key):
        members = snap.ev_inv[at[key == k]]
        _, first = np.unique(members, return_index=True)
        members = members[np.sort(first)]  # distinct, in order
        if len(members) < 2:
            continue
        lead, company = int(members[0]), int(snap.ev_ent[at[key == k][0]])
        cand = candidates[candidates != lead]
        y = np.isin(cand, members[1:])
        if not y.any():
            continue
        leads.append(lead)
        companies.append(company)
        sizes.append(len(cand))
        invs.append(cand)
        ys.append(y.astype(np.int32))
        follow.append(np.asarray(before[cand, company].toarray()).ravel() > 0)
        cos.append(np.asarray((before[cand] @ before[lead].T).toarray()).ravel().astype(np.int64))
    if not leads:
        empty = np.zeros(0, dtype=np.int64)
        return Rounds(empty, empty, empty, empty, empty.astype(np.int32), empty.astype(bool), empty)
    return Rounds(np.asarray(leads), np.asarray(companies), np.asarray(sizes), np.concatenate(invs),
                  np.concatenate(ys), np.concatenate(follow), np.concatenate(cos))


def deal_list_scores(inputs: Inputs, r: Rounds, start: float, scorer: TwoSidedScorer) -> np.ndarray:
    """The served enterprise → investor score of every (candidate, company) row, as of ``start``, in chunks."""
    snap = inputs.snap
    hist = History.build(snap, start, ent_vecs=inputs.ent_vecs)
    collab = CollaborativeModel().fit(snap, hist)
    ent = r.ent
    out = np.empty(len(r.inv))
    for a in range(0, len(r.inv), CHUNK):
        sl = slice(a, min(a + CHUNK, len(r.inv)))
        inv = r.inv[sl]
        X, _ = pair_features(snap, hist, inv, ent[sl], np.full(len(inv), -1, dtype=np.int64),
                             man_vecs=inputs.man_vecs, ent_vecs=inputs.ent_vecs, collab=collab)
        out[sl] = scorer.score(X, "enterprise", fit=feature_baseline("rules", X, "enterprise"))
    return out


def syndicate_scores(r: Rounds, deal: np.ndarray, lead_weight: float) -> np.ndarray:
    """:func:`member_scores` per query: the deal-list percentile among its candidates plus the lead tie."""
    out = np.empty(len(deal))
    for a, b in _bounds(r.sizes):
        out[a:b] = member_scores(percentile(deal[a:b]), r.co[a:b], lead_weight=lead_weight)
    return out


def _bounds(sizes: np.ndarray) -> list[tuple[int, int]]:
    ends = np.cumsum(sizes)
    return [(int(e - s), int(e)) for s, e in zip(sizes, ends, strict=True)]


def _subset(r: Rounds, name: str) -> np.ndarray:
    """Row mask of a subset; queries left without a positive are dropped by the metrics (no ideal DCG)."""
    return np.ones(len(r.inv), dtype=bool) if name == "all" else ~r.follow_on


def per_query(r: Rounds, scores: np.ndarray, keep: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(recall@10, NDCG@10)`` of each query with a positive among the kept rows."""
    recalls, sizes, ys, ss = [], [], [], []
    for a, b in _bounds(r.sizes):
        m = keep[a:b]
        y, s = r.y[a:b][m], scores[a:b][m]
        if not y.any():
            continue
        top = rank_order(s, seed=seed)[:10]
        recalls.append(y[top].sum() / y.sum())
        sizes.append(len(y))
        ys.append(y)
        ss.append(s)
    if not sizes:
        return np.zeros(0), np.zeros(0)
    ndcg = ndcg_per_query(np.concatenate(ys), np.concatenate(ss), np.asarray(sizes), 10, seed=seed)
    return np.asarray(recalls), ndcg


def lead_history(r: Rounds) -> np.ndarray:
    """Per row, whether its query's lead co-invested with any of the query's candidates before the cut."""
    warm = np.array([bool((r.co[a:b] > 0).any()) for a, b in _bounds(r.sizes)], dtype=bool)
    return np.repeat(warm, r.sizes)


def evaluate(r: Rounds, scores: dict[str, np.ndarray], *, seed: int = 0) -> dict[str, Any]:
    """Per subset and scorer: recall@10 and NDCG@10 with intervals; the syndicate ranker against the better
    baseline (paired bootstrap on NDCG@10); NDCG@10 by the lead's history (``by_lead``: rounds whose lead had
    co-invested with some candidate before the cut, and rounds whose lead had not)."""
    out: dict[str, Any] = {}
    warm = lead_history(r)
    for sub in SUBSETS:
        keep = _subset(r, sub)
        per = {n: per_query(r, s, keep, seed=seed) for n, s in scores.items()}
        rows = {n: {"recall@10": float(rc.mean()) if len(rc) else float("nan"),
                    "recall@10_ci95": list(bootstrap_ci(rc, seed=seed)),
                    "ndcg@10": float(nd.mean()) if len(nd) else float("nan"),
                    "ndcg@10_ci95": list(bootstrap_ci(nd, seed=seed)), "queries": int(len(nd))}
                for n, (rc, nd) in per.items()}
        entry: dict[str, Any] = {"metrics": rows}
        if "syndicate" in per:
            best = max((n for n in per if n != "syndicate"), key=lambda n: rows[n]["ndcg@10"])
            entry["syndicate_vs_best_baseline"] = {"baseline": best,
                                                   **paired_bootstrap(per["syndicate"][1], per[best][1], seed=seed)}
        entry["by_lead"] = {}
        for label, rows_of in (("lead with co-investors", warm), ("lead without", ~warm)):
            part = {n: per_query(r, sc, keep & rows_of, seed=seed)[1] for n, sc in scores.items()}
            entry["by_lead"][label] = {n: float(v.mean()) if len(v) else float("nan") for n, v in part.items()} | {
                "queries": int(len(next(iter(part.values()))))}
        out[sub] = entry
    return out


def served_scorer(inputs: Inputs, cut: Cut, config: TrainConfig, progress: Progress | None = None
                  ) -> tuple[TwoSidedScorer, dict[str, Any]]:
    """The deal-list scorer of one cut: :func:`fit_scorer` with the validation window's enterprise → investor
    protocol lists (the investor → enterprise lists are not needed: only that direction's choice is)."""
    def builder(inp: Inputs, window: tuple[float, float], seed: int) -> dict[str, EvalSet]:
        return protocol_sets(inp.snap, window, ent_vecs=inp.ent_vecs, man_vecs=inp.man_vecs,
                             directions=("enterprise",))
    wins = windows_at(inputs.snap, config, cut.window())
    _, _, scorer, _, fit_seconds = fit_scorer(inputs, config, wins, eval_builder=builder, progress=progress)
    choice = scorer.choices["enterprise"]
    return scorer, {"served_scorer": choice.name, "why": choice.why, "fit_seconds": fit_seconds,
                    "windows_days": {k: [float(a), float(b)] for k, (a, b) in wins.items()}}


def run_cut(inputs: Inputs, cut: Cut, config: TrainConfig, *, lead_weight: float | None = None,
            listed: Mapping[tuple[str, str, int], int] | None = None, progress: Progress | None = None
            ) -> dict[str, Any]:
    """One cut: rounds, the served scorer, every scorer on every subset; ``lead_weight=None`` tunes it on this
    cut (the validation cut only); ``listed``: the file's order of each round's investors (:func:`listed_order`)."""
    with sklearn.config_context(working_memory=WORKING_MEMORY_MIB):  # the collaborative models' neighbour search
        return _run_cut(inputs, cut, config, lead_weight=lead_weight, listed=listed, progress=progress)


def _run_cut(inputs: Inputs, cut: Cut, config: TrainConfig, *, lead_weight: float | None,
             listed: Mapping[tuple[str, str, int], int] | None, progress: Progress | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    window = cut.window()
    r = rounds(inputs, window, listed=listed)
    if progress:
        progress(f"{cut.name}: {len(r.lead):,} rounds with 2+ investors and a positive, {len(r.inv):,} rows")
    scorer, served = served_scorer(inputs, cut, config, progress)
    deal = deal_list_scores(inputs, r, window[0], scorer)
    tuning = None
    if lead_weight is None:
        keep = _subset(r, "new_pairs")
        tuning = {str(w): float(per_query(r, syndicate_scores(r, deal, w), keep, seed=config.seed)[1].mean())
                  for w in WEIGHTS}
        lead_weight = float(max(WEIGHTS, key=lambda w: (tuning[str(w)], -w)))
    scores = {"syndicate": syndicate_scores(r, deal, lead_weight), "co_investment": r.co.astype(np.float64),
              "deal_list": deal}
    return {"cut": cut.as_dict(), "rounds": int(len(r.lead)), "rows": int(len(r.inv)),
            "positives": int(r.y.sum()), "positives_new_pairs": int((r.y.astype(bool) & ~r.follow_on).sum()),
            "lead_weight": lead_weight, "tuning_ndcg@10_new_pairs": tuning, "deal_list": served,
            "results": evaluate(r, scores, seed=config.seed), "seconds": round(time.perf_counter() - t0, 1)}


_NAMES = {"syndicate": "syndicate ranker (deal-list percentile + lead tie)",
          "co_investment": "co-investment frequency with the lead",
          "deal_list": "plain deal-list scorer (lead ignored)"}


def markdown(report: dict[str, Any]) -> str:
    """The README section: one table per cut and subset, the tuning, the attribution."""
    lines = [f"Produced by `capconnect benchmark syndicates ../shared/data/crunchbase-2013 --readme README.md` "
             f"(encoder `{report['encoder_id']}`; {report['timings']['total']:.0f} s in all, peak memory "
             f"{report['peak_rss_gib']:.1f} GiB).", ""]
    for name, cut in report["cuts"].items():
        c = cut["cut"]
        tuned = "tuned on this cut" if cut["tuning_ndcg@10_new_pairs"] else "from the validation cut"
        lines += [f"### {name.capitalize()} cut: history < {c['train_before']}, rounds {c['window_start']} … "
                  f"{c['window_end_exclusive']} (exclusive)", "",
                  f"{cut['rounds']:,} rounds with two or more investors and at least one other investor among the "
                  f"candidates; {cut['positives']:,} co-investor positives ({cut['positives_new_pairs']:,} new pairs). "
                  f"Deal-list scorer served: `{cut['deal_list']['served_scorer']}`. Lead weight "
                  f"{cut['lead_weight']:g} ({tuned}).", ""]
        for sub in SUBSETS:
            res = cut["results"][sub]
            lines += [f"*{sub.replace('_', ' ')}*", "", "| scorer | R@10 [95% CI] | NDCG@10 [95% CI] | queries |",
                      "|---|---|---|---:|"]
            for scorer in SCORERS:
                m = res["metrics"][scorer]
                lines.append(f"| {_NAMES[scorer]} | {m['recall@10']:.3f} [{m['recall@10_ci95'][0]:.3f}, "
                             f"{m['recall@10_ci95'][1]:.3f}] | {m['ndcg@10']:.3f} [{m['ndcg@10_ci95'][0]:.3f}, "
                             f"{m['ndcg@10_ci95'][1]:.3f}] | {m['queries']:,} |")
            by = res.get("by_lead") or {}
            if by:
                lines += ["", "| NDCG@10 by the lead's history | " + " | ".join(SCORERS) + " | queries |",
                          "|---|" + "---:|" * (len(SCORERS) + 1)]
                lines += [f"| {label} | " + " | ".join(f"{b[n]:.3f}" for n in SCORERS) + f" | {b['queries']:,} |"
                          for label, b in by.items()]
            vs = res.get("syndicate_vs_best_baseline")
            if vs:
                lines += ["", f"Syndicate − {vs['baseline']} (NDCG@10, paired bootstrap over queries): "
                              f"{vs['diff']:+.3f} [{vs['lo']:+.3f}, {vs['hi']:+.3f}]."]
            lines.append("")
    if report.get("attribution"):
        lines.append(report["attribution"])
    return "\n".join(lines)
