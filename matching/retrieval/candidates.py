"""Candidate generation: several sources, one interface, merged with their source tags.

Every list starts from a :class:`CandidateQuery` that already holds the hard-constraint mask
(``allow``, from :mod:`matching.rules.eligibility`) over the *target* rows (enterprises for an
investor, investors for an enterprise), the best eligible financing need of each allowed target and
its structured-fit score (:func:`matching.rules.fit.structured_fit`). Each source searches *inside*
that mask (constraints apply in the search, not after it):

* :class:`SemanticSource`: nearest profiles in the FAISS index, restricted to the allow-list;
* :class:`RulesSource`: best structured mandate fit (``query.fit``);
* :class:`CollaborativeSource`: investors alike by portfolio and funnel history;
* :class:`ExplorationSource`: new or under-exposed targets, a configurable share, seeded.

:func:`merge_candidates` unions the results and tags each candidate with the sources that found it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from matching.retrieval.idmap import IdMap
from matching.retrieval.index import VectorIndex
from matching.snapshot.core import MarketSnapshot, to_days

logger = logging.getLogger(__name__)

Target = Literal["enterprise", "investor"]


@dataclass
class CandidateQuery:
    """One list request, with the hard constraints already applied.

    Attributes:
        target: the kind of rows wanted: ``"enterprise"`` or ``"investor"``.
        row: the asking party's row (an investor row when ``target`` is enterprise, and back).
        allow: bool mask over target rows: the only rows any source may return.
        best_need: per target row, the eligible need row with the best structured fit (-1: none).
        fit: per target row, that need's structured-fit score in [0, 1] (``nan`` where not allowed).
        vector: the asking party's embedding (for semantic search), if any.
        exposure: per target row, shows in the current period (``None``: unknown).
        rows: the allowed target rows (``allow``'s true entries) in any order, when the caller has them
            already (``None``: :meth:`allowed` finds them). At 1,000,000 enterprises a scan of ``allow``
            costs ~0.8 ms, and each source would make its own.
    """

    target: Target
    row: int
    allow: np.ndarray
    best_need: np.ndarray
    fit: np.ndarray
    vector: np.ndarray | None = None
    exposure: np.ndarray | None = None
    rows: np.ndarray | None = None

    def allowed(self) -> np.ndarray:
        """The allowed target rows (:attr:`rows`, or ``allow``'s true entries, found once and kept)."""
        if self.rows is None:
            self.rows = np.flatnonzero(self.allow)
        return self.rows


@dataclass
class Found:
    """What one source returned: target rows and the source's own scores, best first."""

    source: str
    rows: np.ndarray
    scores: np.ndarray


@runtime_checkable
class CandidateSource(Protocol):
    """One way of finding candidates. Implementations never return a row outside ``query.allow``."""

    name: str

    def candidates(self, query: CandidateQuery, k: int) -> Found:
        """Up to ``k`` target rows for ``query``, best first."""
        ...


def _top(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` by score, ties broken by row (deterministic).

    Long inputs are cut first to the scores at or above the ``k``-th best (a linear partition), so
    only those are sorted; the result equals a full sort's head, ties at the cut included.
    """
    if k <= 0:
        return rows[:0], scores[:0]
    if len(scores) > 4 * k:
        kth = np.partition(np.nan_to_num(scores, nan=-np.inf), len(scores) - k)[len(scores) - k]
        keep = ~(scores < kth)  # NaN scores sort last in lexsort: drop them unless they are needed
        if np.count_nonzero(keep & ~np.isnan(scores)) >= k:
            keep &= ~np.isnan(scores)
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:k]
    return rows[order], scores[order]


def _empty(name: str) -> Found:
    return Found(name, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class SemanticSource:
    """Nearest neighbours of the query vector in a :class:`VectorIndex`, inside the allow-list.

    Args:
        index: the index of the target side's vectors, keyed by the snapshot's external ids.
        ids: external ids of the target rows (``snap.ent_id`` or ``snap.inv_id``).
        target: which side the index holds.
    """

    name = "semantic"

    def __init__(self, index: VectorIndex, ids: np.ndarray, target: Target) -> None:
        self.index = index
        self.ids = np.asarray(ids, dtype=np.int64)
        self.target = target
        self._aligned = index.id_map.built and np.array_equal(index.id_map.ids(), self.ids)
        self._rows = index.id_map if self._aligned else IdMap()  # id -> target row, without a dict (1M ids)
        if not self._aligned:
            self._rows.assign(self.ids)

    def candidates(self, query: CandidateQuery, k: int) -> Found:
        """Allowed rows nearest to ``query.vector`` (cosine), best first."""
        if query.target != self.target or query.vector is None or not query.allow.any() or k <= 0:
            return _empty(self.name)
        if self._aligned:  # the index's rows are the target rows: pass the mask as it is
            ids, scores = self.index.search_rows(query.vector[None, :], k, allow=query.allow)
        else:
            ids, scores = self.index.search(query.vector[None, :], k, allow=self.ids[query.allow])
        keep = ids[0] >= 0
        rows = self._rows.rows_of(ids[0][keep], strict=True)
        return Found(self.name, rows, scores[0][keep].astype(np.float64))


class RulesSource:
    """Allowed rows with the best structured mandate fit (``query.fit``)."""

    name = "rules"

    def candidates(self, query: CandidateQuery, k: int) -> Found:
        """Top ``k`` allowed rows by structured fit."""
        rows = query.allowed()
        if len(rows) == 0 or k <= 0:
            return _empty(self.name)
        top, scores = _top(rows, query.fit[rows], k)
        return Found(self.name, top, scores)


class CollaborativeSource:
    """Investors alike by portfolio and funnel history (wraps a fitted ``CollaborativeModel``).

    For an investor the model proposes enterprises (``model.candidates``); for an enterprise it
    scores every allowed investor (``model.score``).
    """

    name = "collaborative"

    def __init__(self, model: Any) -> None:
        self.model = model

    def candidates(self, query: CandidateQuery, k: int) -> Found:
        """Up to ``k`` allowed rows the collaborative model likes best."""
        if self.model is None or not query.allow.any() or k <= 0:
            return _empty(self.name)
        if query.target == "enterprise":
            rows, scores = self.model.candidates(query.row, k, query.allow)
            rows = np.asarray(rows, dtype=np.int64)
            scores = np.asarray(scores, dtype=np.float64)
        else:
            rows = query.allowed()
            scores = np.asarray(self.model.score(rows, np.full(len(rows), query.row, dtype=np.int64)),
                                dtype=np.float64)
            rows, scores = _top(rows, scores, k)
        ok = np.isfinite(scores) & (scores > 0)  # no evidence is no candidate
        rows, scores = rows[ok], scores[ok]
        inside = query.allow[rows]
        if not inside.all():  # the model must respect the mask; never pass a violation on
            logger.error("collaborative model returned %d rows outside the allow-list", int((~inside).sum()))
        return Found(self.name, rows[inside], scores[inside])


class ExplorationSource:
    """New or under-exposed allowed targets, so that small and new firms get seen.

    Args:
        snap: the market (for creation dates and funnel history).
        share: fraction of a list of ``k`` this source provides (at least one when > 0).
        new_days: a party created within this many days of the snapshot is *new*.
        max_events: a party with at most this many funnel events (or, when exposure counts are
            given, shows this period) is *under-exposed*.
        seed: makes the draw reproducible; the draw also depends on the asking row.
    """

    name = "exploration"

    def __init__(self, snap: MarketSnapshot, *, share: float = 0.1, new_days: float = 90.0,
                 max_events: int = 2, seed: int = 0) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be in [0, 1], got {share}")
        self.share = share
        self.max_events = max_events
        self.seed = seed
        live = snap.ev_time < snap.as_of
        self._counts = {
            "enterprise": np.bincount(snap.ev_ent[live & (snap.ev_ent >= 0)], minlength=snap.n_enterprises),
            "investor": np.bincount(snap.ev_inv[live & (snap.ev_inv >= 0)], minlength=snap.n_investors),
        }
        inv_created = np.array([to_days(i.created_at) for i in snap.inv_record], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            self._new = {"enterprise": snap.as_of - snap.ent_created <= new_days,
                         "investor": snap.as_of - inv_created <= new_days}
        #: per target row: new or never in the funnel (the pool whatever the exposure), and also with few events
        self._unseen = {t: self._new[t] | (self._counts[t] == 0) for t in self._new}
        self._quiet = {t: self._unseen[t] | (self._counts[t] <= max_events) for t in self._new}

    def size(self, k: int) -> int:
        """How many of a list of ``k`` this source fills."""
        return 0 if self.share <= 0 or k <= 0 else max(1, math.ceil(self.share * k))

    def pool(self, query: CandidateQuery) -> np.ndarray:
        """Bool mask of allowed targets that are new or under-exposed."""
        mask = np.zeros(len(query.allow), dtype=bool)
        mask[self.pool_rows(query)] = True
        return mask

    def pool_rows(self, query: CandidateQuery) -> np.ndarray:
        """The allowed targets that are new or under-exposed (:meth:`pool`'s rows, in the order of
        :meth:`CandidateQuery.allowed`: the draw breaks ties by row, so it needs no sort)."""
        rows, t = query.allowed(), query.target
        if query.exposure is None:  # shows this period unknown: funnel events alone
            return rows[self._quiet[t][rows]]
        return rows[self._unseen[t][rows] | (np.asarray(query.exposure)[rows] <= self.max_events)]

    def candidates(self, query: CandidateQuery, k: int) -> Found:
        """``size(k)`` pool members: the best-fitting, with seeded jitter to rotate near-ties."""
        n = self.size(k)
        rows = self.pool_rows(query) if n else query.allowed()[:0]
        if n == 0 or len(rows) == 0:
            return _empty(self.name)
        side = 0 if query.target == "enterprise" else 1
        jitter = _hash_uniform(rows, self.seed * 2 + side, query.row)  # per row: stable under pool changes
        top, scores = _top(rows, np.nan_to_num(query.fit[rows]) + 0.25 * jitter, n)
        return Found(self.name, top, scores)


def _hash_uniform(rows: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Deterministic uniforms in [0, 1) per row (splitmix64 of row, seed and salt): no RNG state."""
    with np.errstate(over="ignore"):
        x = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed * 1_000_003 + salt + 1)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class Candidates:
    """Merged candidates: target rows, their chosen needs and the sources that found each."""

    rows: np.ndarray
    needs: np.ndarray
    sources: list[list[str]]
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # per source, nan where absent

    def __len__(self) -> int:
        return len(self.rows)


def merge_candidates(query: CandidateQuery, found: list[Found]) -> Candidates:
    """Union of the sources' rows (in row order), each tagged with the sources that found it.

    Rows outside ``query.allow`` are dropped and logged as errors: a source that breaks the mask
    is a bug, and no list may ever show a pair that breaks a hard constraint.
    """
    rows = np.unique(np.concatenate([np.asarray(f.rows, dtype=np.int64) for f in found])) if found else \
        np.zeros(0, dtype=np.int64)
    if len(rows):
        bad = ~query.allow[rows]
        if bad.any():
            logger.error("dropping %d candidates outside the hard-constraint mask", int(bad.sum()))
            rows = rows[~bad]
    member = np.zeros(len(rows), dtype=np.int64)  # bit j: found by source j
    scores: dict[str, np.ndarray] = {}
    names: list[str] = []
    for f in found:
        if f.source not in names:
            names.append(f.source)
        bit = names.index(f.source)
        frows = np.asarray(f.rows, dtype=np.int64)
        pos = np.searchsorted(rows, frows)
        ok = pos < len(rows)
        ok[ok] = rows[pos[ok]] == frows[ok]
        member[pos[ok]] |= 1 << bit
        arr = scores.setdefault(f.source, np.full(len(rows), np.nan))
        fs = np.asarray(f.scores, dtype=np.float64)[ok]
        p = pos[ok]
        fresh = ~np.isfinite(arr[p]) & np.isfinite(fs)
        arr[p[fresh][::-1]] = fs[fresh][::-1]  # the first score a source gave a row wins
    tags = {code: [n for j, n in enumerate(names) if code >> j & 1] for code in np.unique(member).tolist()}
    return Candidates(rows=rows, needs=query.best_need[rows] if len(rows) else rows.copy(),
                      sources=[list(tags[c]) for c in member.tolist()], scores=scores)
