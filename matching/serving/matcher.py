"""The matcher: the plain-Python surface the API and training use.

* :meth:`Matcher.recommend_enterprises`: a deal list for an investor (and ``_batch``);
* :meth:`Matcher.recommend_investors`: suggested funds and financing providers for an enterprise;
* :meth:`Matcher.recommend_secondaries`: fund interests and old shares for an S fund;
* :meth:`Matcher.search`: free-text search of enterprises or investors.

A list is built in one way: hard constraints (narrowed, never loosened, by :class:`Filters`) give
the allow-mask; the candidate sources search inside it; the pairs get their features; the
two-sided scorer ranks them, or without a model a transparent content + rules score does (cold
start); the head is re-ranked for diversity and exposure, with a share kept for exploration; each
served pair is checked again against :func:`matching.rules.constraints.violations`; every item carries
its reasons, candidate sources and the feature values used (for the impression log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from matching.config import Settings
from matching.domain import vocab
from matching.errors import FieldError, MatchingError
from matching.explain.reasons import Reason, explain_pair, explain_search, search_terms
from matching.ranking.baselines import content_rules_score, feature_baseline
from matching.ranking.collaborative import CollaborativeModel
from matching.ranking.diversity import DiversityConfig, rerank
from matching.ranking.features import History, compute_features, feature_values, investor_vectors
from matching.retrieval.candidates import (
    CandidateQuery,
    Candidates,
    CollaborativeSource,
    ExplorationSource,
    RulesSource,
    SemanticSource,
    merge_candidates,
)
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import TextEncoder
from matching.retrieval.index import IndexConfig, VectorIndex
from matching.retrieval.indexstore import build_or_load
from matching.rules.constraints import S_FUND, needs_open, violations
from matching.rules.eligibility import Eligibility, pair_fit
from matching.rules.filters import Filters
from matching.rules.liveneeds import LiveNeeds, best_per_target
from matching.serving.needless import EnterpriseRules, needless
from matching.serving.secondaries import explain_secondary, rank_secondaries, secondary_text
from matching.snapshot.core import EPOCH, MarketSnapshot

logger = logging.getLogger(__name__)
Direction = Literal["enterprises_for_investor", "investors_for_enterprise", "secondaries_for_investor",
                    "search_enterprises", "search_investors"]


class UnknownPartyError(MatchingError, KeyError):
    """An investor or enterprise id that the snapshot does not hold."""


@dataclass
class MatchItem:
    """One served item. Ids are the snapshot's external ids; ``None`` where not applicable."""

    position: int  # 1-based, as stored in the impression log
    score: float
    enterprise_id: int | None = None
    investor_id: int | None = None
    need_id: int | None = None
    secondary_id: int | None = None
    p_investor: float | None = None
    p_enterprise: float | None = None
    reasons: list[Reason] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    features: dict[str, float | None] = field(default_factory=dict)


@dataclass
class MatchList:
    """A served list: items best first, and what produced it."""

    items: list[MatchItem]
    model_version: str
    direction: Direction
    as_of: datetime

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _Pending:
    """A list between candidate generation and scoring."""

    query: CandidateQuery
    cands: Candidates
    inv: np.ndarray
    ent: np.ndarray
    need: np.ndarray
    k: int


class Matcher:
    """Serves ranked, explained, constraint-safe lists over one market snapshot.

    Args:
        snapshot: the market.
        encoder: embeds free-text queries (and secondary listings).
        ent_vecs: passage embeddings of ``snapshot.ent_text`` (row-aligned).
        man_vecs: query embeddings of ``snapshot.man_text`` (row-aligned).
        index: the enterprise index (ids = ``snapshot.ent_id``), searched single-threaded.
        scorer: a ``TwoSidedScorer``; ``None`` ranks by the transparent content + rules score.
        collab: a fitted ``CollaborativeModel`` (``None``: no collaborative source or feature).
        settings: tolerances and thread counts.
        model_version: recorded on every list (default: the scorer's, or ``"content-rules"``).
        diversity: head re-ranking of enterprise lists (sector cap, exposure cap).
        exploration_share: share of each list kept for new or under-exposed candidates.
        candidate_k: how many candidates each source proposes (default ``settings.candidate_k``).
        seed: seeds the exploration draw.
        cache: embedding cache for queries and listings.
    """

    def __init__(self, snapshot: MarketSnapshot, encoder: TextEncoder, *, ent_vecs: np.ndarray,
                 man_vecs: np.ndarray, index: VectorIndex, scorer: Any | None = None,
                 collab: CollaborativeModel | None = None, settings: Settings | None = None,
                 model_version: str | None = None, diversity: DiversityConfig | None = None,
                 exploration_share: float = 0.1, candidate_k: int | None = None, seed: int = 0,
                 cache: EmbeddingCache | None = None) -> None:
        self.snap, self.encoder, self.scorer, self.collab = snapshot, encoder, scorer, collab
        self.settings = settings or Settings()
        self.tolerance = self.settings.ticket_tolerance
        self.ent_vecs = np.ascontiguousarray(ent_vecs, dtype=np.float32)
        self.man_vecs = np.ascontiguousarray(man_vecs, dtype=np.float32)
        if len(self.ent_vecs) != snapshot.n_enterprises or len(self.man_vecs) != snapshot.n_investors:
            raise ValueError("ent_vecs and man_vecs must have one row per enterprise and per investor")
        self.index = index
        self.model_version = model_version or getattr(scorer, "version", None) or (
            "content-rules" if scorer is None else "two-sided")
        self.diversity = diversity or DiversityConfig()
        self.candidate_k = candidate_k or self.settings.candidate_k
        self.cache = cache if cache is not None else EmbeddingCache(None)
        self.as_of = EPOCH + timedelta(days=float(snapshot.as_of))
        self.rules = Eligibility.of(snapshot)
        self.needless = EnterpriseRules(snapshot) if needless(snapshot) else None
        self.live = LiveNeeds(snapshot)
        self.hist = History.build(snapshot, snapshot.as_of, ent_vecs=self.ent_vecs)
        # an investor without text of its own is found and compared by its portfolio's centroid
        self.man_vecs = investor_vectors(snapshot, self.man_vecs, self.hist)
        self.inv_index = VectorIndex(self.man_vecs.shape[1], index.encoder_id, IndexConfig(threads=1))
        self.inv_index.build(snapshot.inv_id, self.man_vecs)
        self.sources_ent = [SemanticSource(index, snapshot.ent_id, "enterprise"), RulesSource(),
                            CollaborativeSource(collab)]
        self.sources_inv = [SemanticSource(self.inv_index, snapshot.inv_id, "investor"), RulesSource(),
                            CollaborativeSource(collab)]
        self.explore = ExplorationSource(snapshot, share=exploration_share, seed=seed)
        self.exposure: dict[int, int] = {}
        self._shown = np.zeros(snapshot.n_enterprises, dtype=np.int64)  # ``exposure`` by row, kept in step
        self._sec_vecs: np.ndarray | None = None

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(cls, snapshot: MarketSnapshot, encoder: TextEncoder, *, settings: Settings | None = None,
              scorer: Any | None = None, cache: EmbeddingCache | None = None, show_progress: bool = False,
              **kwargs: Any) -> Matcher:
        """Embed the snapshot's texts (through the cache); build the index and the collaborative model."""
        settings = settings or Settings()
        cache = cache if cache is not None else EmbeddingCache(None)
        bs = settings.encoder_batch_size
        ent_vecs = embed(encoder, snapshot.ent_text, kind="passage", cache=cache, batch_size=bs,
                         show_progress=show_progress)
        man_vecs = embed(encoder, snapshot.man_text, kind="query", cache=cache, batch_size=bs,
                         show_progress=show_progress)
        config = IndexConfig(exact_threshold=settings.exact_search_threshold, threads=settings.faiss_threads)
        folder = cache.folder / "indexes" if cache.folder is not None else None  # built once, loaded by workers
        index = build_or_load(folder, snapshot.ent_id, ent_vecs, encoder.encoder_id, config)
        collab = CollaborativeModel().fit(snapshot, History.build(snapshot, snapshot.as_of))
        return cls(snapshot, encoder, ent_vecs=ent_vecs, man_vecs=man_vecs, index=index, scorer=scorer,
                   collab=collab, settings=settings, cache=cache, **kwargs)

    def set_exposure(self, counts: Mapping[int, int]) -> None:
        """Shows per enterprise id in the current period (the impression log's counts)."""
        self.exposure = {int(k): int(v) for k, v in counts.items()}
        self._shown = self._exposure_rows(self.exposure)

    def record_exposure(self, enterprise_ids: Sequence[int]) -> None:
        """Count one more show of each enterprise (a list was served); unknown ids are ignored."""
        for eid in enterprise_ids:
            self.exposure[int(eid)] = self.exposure.get(int(eid), 0) + 1
            row = self.snap.enterprise_row.get(int(eid))
            if row is not None:
                self._shown[row] += 1

    def _exposure_rows(self, counts: Mapping[int, int]) -> np.ndarray:
        out = np.zeros(self.snap.n_enterprises, dtype=np.int64)
        for eid, n in counts.items():
            row = self.snap.enterprise_row.get(int(eid))
            if row is not None:
                out[row] = n
        return out

    def _row(self, ids: Mapping[int, int], value: int, what: str) -> int:
        row = ids.get(int(value))
        if row is None:
            raise UnknownPartyError(f"{what} {value} is not in the current market snapshot")
        return row

    # -- investor → enterprises ---------------------------------------------------------------
    def recommend_enterprises(self, investor_id: int, k: int = 20, filters: Filters | None = None, *,
                              exposure: Mapping[int, int] | None = None) -> MatchList:
        """A deal list for an investor: enterprises with an eligible need, best first."""
        return self.recommend_enterprises_batch([investor_id], k, filters, exposure=exposure)[0]

    def recommend_enterprises_batch(self, investor_ids: Sequence[int], k: int = 20,
                                    filters: Filters | None = None, *,
                                    exposure: Mapping[int, int] | None = None) -> list[MatchList]:
        """:meth:`recommend_enterprises` for several investors, features and scores in one pass."""
        f, snap, live = filters or Filters(), self.snap, self.live
        need_f = None
        if f.boards or f.tiers or f.districts or f.instruments or f.amount_min is not None or f.amount_max is not None:
            need_f = f.needs(snap) & f.enterprises(snap)[np.maximum(snap.need_ent, 0)]
        if exposure is not None:
            exp = self._exposure_rows(exposure) if exposure else None
        else:
            exp = self._shown if self.exposure else None
        pend = []
        for iid in investor_ids:
            inv = self._row(snap.investor_row, iid, "investor")
            if self.needless is not None:  # no financing needs: enterprises as they are
                ents = self.needless.enterprises_for(inv)
                if need_f is not None:
                    ents = ents[f.enterprises(snap)[ents]]
                none = np.full(len(ents), -1, dtype=np.int64)
                pend.append(self._candidates(self._query_fit("enterprise", inv, ents, none, np.full(len(ents), 0.5),
                                                             snap.n_enterprises, self.man_vecs[inv], exp),
                                             self.sources_ent, k))
                continue
            pos = live.eligible(inv, tolerance=self.tolerance)
            if need_f is not None:
                pos = pos[need_f[live.need[pos]]]
            query = self._query_fit("enterprise", inv, live.ent[pos], live.need[pos], live.fit(inv, pos),
                                    snap.n_enterprises, self.man_vecs[inv], exp, live.shared[pos])
            pend.append(self._candidates(query, self.sources_ent, k))
        return self._finish(pend, "enterprises_for_investor", exp)

    # -- enterprise → investors ---------------------------------------------------------------
    def recommend_investors(self, enterprise_id: int, k: int = 20, filters: Filters | None = None
                            ) -> MatchList:
        """Suggested investors and financing providers for an enterprise (over its open needs)."""
        f, snap = filters or Filters(), self.snap
        ent = self._row(snap.enterprise_row, enterprise_id, "enterprise")
        inv_f, need_f = f.investors(snap), f.needs(snap)
        invs, nds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        if self.needless is not None:  # no financing needs: investors for the enterprise as it is
            who = self.needless.investors_for(ent)
            invs.append(who[inv_f[who]])
            nds.append(np.full(len(invs[-1]), -1, dtype=np.int64))
        for n in (int(n) for n in snap.needs_of(ent) if need_f[n]):
            who = np.flatnonzero(self.rules.investors_for(n, tolerance=self.tolerance) & inv_f)
            invs.append(who)
            nds.append(np.full(len(who), n, dtype=np.int64))
        inv, need = np.concatenate(invs), np.concatenate(nds)
        query = self._query("investor", ent, inv, inv, need, snap.n_investors, self.ent_vecs[ent], None)
        pending = self._candidates(query, self.sources_inv, k)
        return self._finish([pending], "investors_for_enterprise", None)[0]

    # -- S fund → secondary listings ------------------------------------------------------------
    def recommend_secondaries(self, investor_id: int, k: int = 20) -> MatchList:
        """Fund interests and old shares for an S fund: sector fit, discount, vintage, similarity."""
        inv = self._row(self.snap.investor_row, investor_id, "investor")
        if self.snap.inv_type[inv] != S_FUND:
            itype = vocab.INVESTOR_TYPES.codes[int(self.snap.inv_type[inv])]
            raise FieldError("investor_id", investor_id, "secondary listings are for S funds (s_fund); "
                             f"this investor is {itype}: use recommend_enterprises")
        if self._sec_vecs is None:
            texts = [secondary_text(self.snap, r) for r in range(len(self.snap.sec_id))]
            self._sec_vecs = embed(self.encoder, texts, kind="passage", cache=self.cache)
        rows, score, parts = rank_secondaries(self.snap, inv, self._sec_vecs, self.man_vecs[inv],
                                              tolerance=self.tolerance)
        items = []
        for j in range(min(k, len(rows))):
            r, e = int(rows[j]), int(self.snap.sec_ent[rows[j]])
            items.append(MatchItem(
                position=j + 1, score=float(score[j]), investor_id=int(investor_id),
                secondary_id=int(self.snap.sec_id[r]),
                enterprise_id=int(self.snap.ent_id[e]) if e >= 0 else None,
                reasons=explain_secondary(self.snap, inv, r), sources=["rules", "semantic"],
                features={name: float(v[j]) for name, v in parts.items()}))
        return MatchList(items, self.model_version, "secondaries_for_investor", self.as_of)

    # -- free-text search -------------------------------------------------------------------------
    def search(self, text: str, side: Literal["enterprise", "investor"] = "enterprise", k: int = 20,
               filters: Filters | None = None) -> MatchList:
        """Free-text search of enterprises or investors.

        The query is embedded; the nearest profiles inside the filters are re-ranked by their
        similarity percentile and the share of the query's structured terms (industries,
        districts, rounds) they match.
        """
        if side not in ("enterprise", "investor"):
            raise FieldError("side", side, "allowed: enterprise, investor")
        if not text or not text.strip():
            raise FieldError("text", text, "a non-empty search text is required")
        f, snap = filters or Filters(), self.snap
        vec = embed(self.encoder, [text.strip()], kind="query", cache=self.cache)[0]
        if side == "enterprise":
            allow = snap.ent_active & f.enterprises(snap)
            if f.instruments or f.amount_min is not None or f.amount_max is not None:
                has = np.zeros(snap.n_enterprises, dtype=bool)
                live = needs_open(snap) & (snap.need_ent >= 0)
                has[snap.need_ent[f.needs(snap) & live]] = True
                allow &= has
            ids, sims = self.index.search(vec, max(5 * k, 100), allow=snap.ent_id[allow])
            row_of, id_field = snap.enterprise_row, "enterprise_id"
        else:
            allow = snap.inv_active & f.investors(snap) & f.investors_taking(snap)
            ids, sims = self.inv_index.search(vec, max(5 * k, 100), allow=snap.inv_id[allow])
            row_of, id_field = snap.investor_row, "investor_id"
        keep = ids[0] >= 0
        ids, sims = ids[0][keep], sims[0][keep].astype(np.float64)
        terms = search_terms(text)
        expl = [explain_search(snap, terms, ent=row_of[int(i)]) if side == "enterprise" else
                explain_search(snap, terms, inv=row_of[int(i)]) for i in ids]
        hits = np.array([h for _, h in expl], dtype=np.float64)
        pct = np.argsort(np.argsort(sims, kind="stable"), kind="stable") / max(len(ids) - 1, 1)
        score = 0.6 * pct + 0.4 * hits / len(terms) if len(terms) else pct
        items = [MatchItem(position=pos + 1, score=float(score[j]), reasons=expl[j][0], sources=["semantic"],
                           features={"semantic_sim": float(sims[j]), "term_hits": float(hits[j])},
                           **{id_field: int(ids[j])})
                 for pos, j in enumerate(np.lexsort((ids, -score))[:k])]
        direction: Direction = "search_enterprises" if side == "enterprise" else "search_investors"
        return MatchList(items, self.model_version, direction, self.as_of)

    # -- shared pipeline ------------------------------------------------------------------------
    def _query(self, target: Literal["enterprise", "investor"], row: int, targets: np.ndarray,
               invs: np.ndarray, needs: np.ndarray, n: int, vector: np.ndarray,
               exposure: np.ndarray | None) -> CandidateQuery:
        """Best need per target (by structured fit) over the eligible pairs."""
        return self._query_fit(target, row, targets, needs, self._fit(invs, needs), n, vector, exposure)

    def _fit(self, inv: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Structured fit of pairs; 0.5 (neutral) for a pair without a need (a market without needs)."""
        out = np.full(len(inv), 0.5)
        has = need >= 0
        if has.any():
            out[has] = pair_fit(self.snap, inv[has], need[has])
        return out

    @staticmethod
    def _query_fit(target: Literal["enterprise", "investor"], row: int, targets: np.ndarray, needs: np.ndarray,
                   fit: np.ndarray, n: int, vector: np.ndarray, exposure: np.ndarray | None,
                   shared: np.ndarray | None = None) -> CandidateQuery:
        """The query over eligible pairs whose fit is known (``shared``: the target has other pairs)."""
        first = best_per_target(targets, needs, fit, shared)
        best, fit_t = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
        best[targets[first]], fit_t[targets[first]] = needs[first], fit[first]
        allow = np.zeros(n, dtype=bool)
        allow[targets[first]] = True  # an allowed target may have no need (a market without needs)
        return CandidateQuery(target, row, allow, best, fit_t, vector, exposure)

    def _candidates(self, query: CandidateQuery, sources: list[Any], k: int) -> _Pending:
        found = [s.candidates(query, self.candidate_k) for s in sources]
        found.append(self.explore.candidates(query, k))
        cands = merge_candidates(query, found)
        n = len(cands)
        if query.target == "enterprise":
            inv, ent = np.full(n, query.row, dtype=np.int64), cands.rows
        else:
            inv, ent = cands.rows, np.full(n, query.row, dtype=np.int64)
        return _Pending(query, cands, inv, ent, cands.needs, k)

    def _finish(self, pend: list[_Pending], direction: Direction, exp: np.ndarray | None) -> list[MatchList]:
        inv = np.concatenate([p.inv for p in pend]).astype(np.int64)
        ent = np.concatenate([p.ent for p in pend]).astype(np.int64)
        need = np.concatenate([p.need for p in pend]).astype(np.int64)
        sim = np.einsum("ij,ij->i", self.man_vecs[inv], self.ent_vecs[ent]).astype(np.float64)
        collab = self.collab.score(inv, ent) if self.collab is not None and len(inv) else None
        X = compute_features(self.snap, self.hist, inv, ent, need, sim=sim, collab=collab)
        fit = self._fit(inv, need)
        p_inv = p_ent = None
        score = np.zeros(len(inv))  # a model with nothing to score (no candidate) ranks nothing
        view = "investor" if direction == "enterprises_for_investor" else "enterprise"
        no_need = need < 0
        if no_need.any():  # pairs without a need: the structured fit evaluation scores them by (`rules`)
            fit[no_need] = feature_baseline("rules", X[no_need], view)
        choice = self.scorer.choices[view] if self.scorer is not None else None
        if self.scorer is not None and len(inv):
            _, p_inv, p_ent = self.scorer.pair_probabilities(X, X)
            score = self.scorer.score(X, view, fit=fit)  # the scorer chosen on validation
        out, start = [], 0
        for p in pend:
            sl = slice(start, start + len(p.cands))
            start = sl.stop
            s = score[sl] if self.scorer is not None else content_rules_score(sim[sl], fit[sl])
            order = self._order(p, s, exp)
            contrib = None
            if choice is not None and choice.uses_model and len(order):
                contrib = self.scorer.rankers[view].contributions(X[sl][order])
            items = []
            for pos, j in enumerate(order):
                i, n_, e_ = int(p.inv[j]), int(p.need[j]), int(p.ent[j])
                broken = (violations(self.snap, i, n_, tolerance=self.tolerance) if n_ >= 0 else
                          [] if self.needless is not None and self.needless.ok[i, e_] else ["no_need"])
                if broken:  # the last line of defence: never serve a violation (and shout: it is a bug)
                    logger.error("dropped investor row %d / need row %d breaking %s", i, n_, broken)
                    continue
                g = sl.start + j
                items.append(MatchItem(
                    position=len(items) + 1, score=float(s[j]), enterprise_id=int(self.snap.ent_id[p.ent[j]]),
                    investor_id=int(self.snap.inv_id[i]), need_id=int(self.snap.need_id[n_]) if n_ >= 0 else None,
                    p_investor=None if p_inv is None else float(p_inv[g]),
                    p_enterprise=None if p_ent is None else float(p_ent[g]),
                    reasons=explain_pair(self.snap, i, n_, view=view, features=X[g], ent=e_,
                                         contributions=None if contrib is None else contrib[pos]),
                    sources=list(p.cands.sources[j]), features=feature_values(X[g])))
            out.append(MatchList(items, self.model_version, direction, self.as_of))
        return out

    def _order(self, p: _Pending, score: np.ndarray, exp: np.ndarray | None) -> np.ndarray:
        """Ranked positions into the candidates: score, diversity head, exploration share; top k.

        The exploration share is kept even over the sector cap (at most ``share · k`` items), but
        exploration items whose sector still has room in the head are lifted first.
        """
        rows, src = p.cands.rows, p.cands.sources
        order = np.lexsort((rows, -score))
        if p.query.target == "enterprise" and len(order):
            ranked = rows[order]
            shown = None if exp is None else exp[ranked]
            order = order[rerank(self.snap.ent_sector[ranked], shown, self.diversity)]
        top, rest = list(order[:p.k]), order[p.k:]
        missing = min(self.explore.size(p.k), len(top)) - sum("exploration" in src[j] for j in top)
        lift = [j for j in rest if "exploration" in src[j]]
        if missing > 0 and lift:
            cap = self.diversity.max_per_sector if p.query.target == "enterprise" else None
            sector = self.snap.ent_sector[rows] if cap else np.zeros(len(rows), dtype=np.int64)
            head = [int(sector[j]) for j in top[:self.diversity.head]]
            lift.sort(key=lambda j: cap is not None and head.count(int(sector[j])) >= cap)  # stable
            for j in lift[:missing]:  # replace the lowest-ranked non-exploration items
                top.remove(next(t for t in reversed(top) if "exploration" not in src[t]))
                top.append(j)
        return np.asarray(top, dtype=np.int64)
