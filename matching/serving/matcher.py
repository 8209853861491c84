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
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from matching.config import Settings
from matching.domain import vocab
from matching.errors import FieldError
from matching.explain.reasons import explain_pair, explain_search, search_terms
from matching.features.table import feature_values, pair_features
from matching.learning.evaluation import feature_baseline
from matching.ranking.baselines import content_rules_score
from matching.ranking.diversity import DiversityConfig, rerank
from matching.ranking.twosided import TwoSidedScorer
from matching.retrieval.candidates import (
    CandidateQuery,
    Candidates,
    CandidateSource,
    CollaborativeSource,
    ExplorationSource,
    RulesSource,
    SemanticSource,
    merge_candidates,
)
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import TextEncoder
from matching.rules.constraints import S_FUND, needs_open, violations
from matching.rules.eligibility import pair_fit
from matching.rules.filters import Filters
from matching.rules.liveneeds import best_per_target
from matching.serving.context import MatchContext, market_context
from matching.serving.exposure import exposure_rows
from matching.serving.results import CONTENT_RULES, Direction, MatchItem, MatchList, UnknownPartyError
from matching.serving.secondaries import explain_secondary, rank_secondaries
from matching.snapshot.core import MarketSnapshot

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    """A list between candidate generation and scoring."""

    query: CandidateQuery
    cands: Candidates
    inv: np.ndarray
    ent: np.ndarray
    need: np.ndarray
    k: int


@dataclass(frozen=True)
class Policy:
    """How lists are shaped, the same for every request.

    Attributes:
        tolerance: ticket tolerance of the hard constraints (``Settings.ticket_tolerance``).
        candidate_k: how many candidates each source proposes (``Settings.candidate_k``).
        diversity: head re-ranking of enterprise lists (sector cap, exposure cap).
        exploration_share: share of each list kept for new or under-exposed candidates.
        seed: seeds the exploration draw.
    """

    tolerance: float
    candidate_k: int
    diversity: DiversityConfig = field(default_factory=DiversityConfig)
    exploration_share: float = 0.1
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Policy:
        """The policy of ``settings`` (default: the defaults), with ``overrides`` (``None`` values ignored)."""
        s = settings or Settings()
        base: dict[str, Any] = {"tolerance": s.ticket_tolerance, "candidate_k": s.candidate_k}
        return cls(**{**base, **{k: v for k, v in overrides.items() if v is not None}})


@dataclass(frozen=True, eq=False)
class Matcher:
    """Serves ranked, explained, constraint-safe lists over one :class:`MatchContext`. Never changes:
    a model swap or a market reload makes a new matcher (:func:`dataclasses.replace`).

    Args:
        context: the market and everything derived from it (:func:`~matching.serving.context.build_context`).
        scorer: the two-sided scorer; ``None`` ranks by the transparent content + rules score.
        policy: tolerance, candidates per source, diversity and exploration.
        encoder: embeds free-text search queries.
        query_cache: embedding cache for search queries.
        model_version: recorded on every list (default: the scorer's, or :data:`CONTENT_RULES`).
    """

    context: MatchContext
    scorer: TwoSidedScorer | None = None
    policy: Policy = field(default_factory=Policy.from_settings)
    _: KW_ONLY
    encoder: TextEncoder
    query_cache: EmbeddingCache = field(default_factory=lambda: EmbeddingCache(None))
    model_version: str = ""
    explore: ExplorationSource = field(init=False, repr=False)
    _sources: dict[str, list[CandidateSource]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        c, s = self.context, self.scorer
        version = self.model_version or getattr(s, "version", None) or (CONTENT_RULES if s is None else "two-sided")
        sources = {"enterprise": [SemanticSource(c.index, c.snap.ent_id, "enterprise"), RulesSource(),
                                  CollaborativeSource(c.collab)],
                   "investor": [SemanticSource(c.inv_index, c.snap.inv_id, "investor"), RulesSource(),
                                CollaborativeSource(c.collab)]}
        explore = ExplorationSource(c.snap, share=self.policy.exploration_share, seed=self.policy.seed)
        for name, value in (("model_version", version), ("_sources", sources), ("explore", explore)):
            object.__setattr__(self, name, value)  # derived once, here: the matcher is frozen

    @classmethod
    def build(cls, snapshot: MarketSnapshot, encoder: TextEncoder, *, settings: Settings | None = None,
              scorer: TwoSidedScorer | None = None, cache: EmbeddingCache | None = None,
              show_progress: bool = False, model_version: str | None = None, **policy: Any) -> Matcher:
        """A matcher over a snapshot: its texts embedded (through ``cache``), its context built once.

        Args:
            policy: :class:`Policy` fields (``diversity``, ``exploration_share``, ``candidate_k``, ``seed``).
        """
        cache = cache if cache is not None else EmbeddingCache(None)
        context = market_context(snapshot, encoder, settings=settings, cache=cache, show_progress=show_progress)
        return cls(context, scorer, Policy.from_settings(settings, **policy), encoder=encoder, query_cache=cache,
                   model_version=model_version or "")

    def with_scorer(self, scorer: TwoSidedScorer | None, model_version: str) -> Matcher:
        """This matcher with another scorer (a model swap): the same context, policy and encoder."""
        return replace(self, scorer=scorer, model_version=model_version)

    def with_context(self, context: MatchContext) -> Matcher:
        """This matcher over another market (a reload): the same scorer, policy and encoder."""
        return replace(self, context=context)

    @property
    def snap(self) -> MarketSnapshot:
        """The market the lists are drawn from."""
        return self.context.snap

    def _row(self, ids: Mapping[int, int], value: int, what: str) -> int:
        row = ids.get(int(value))
        if row is None:
            raise UnknownPartyError(f"{what} {value} is not in the current market snapshot")
        return row

    # -- investor → enterprises ---------------------------------------------------------------
    def recommend_enterprises(self, investor_id: int, k: int = 20, filters: Filters | None = None, *,
                              exposure: Mapping[int, int] | None = None) -> MatchList:
        """A deal list for an investor: enterprises with an eligible need, best first.

        Args:
            exposure: shows per enterprise id this period (the caller's counts, e.g. a
                :class:`~matching.serving.exposure.ShownCounts`); enterprises at the exposure cap are
                demoted. ``None`` or empty: no exposure.
        """
        return self.recommend_enterprises_batch([investor_id], k, filters, exposure=exposure)[0]

    def recommend_enterprises_batch(self, investor_ids: Sequence[int], k: int = 20,
                                    filters: Filters | None = None, *,
                                    exposure: Mapping[int, int] | None = None) -> list[MatchList]:
        """:meth:`recommend_enterprises` for several investors, features and scores in one pass."""
        c, f = self.context, filters or Filters()
        snap, live = c.snap, c.live
        need_f = ent_f = None
        if f.boards or f.tiers or f.districts or f.instruments or f.amount_min is not None or f.amount_max is not None:
            ent_f = f.enterprises(snap)
            need_f = f.needs(snap) & ent_f[np.maximum(snap.need_ent, 0)]
        exp = exposure_rows(snap, exposure) if exposure else None
        pend = []
        for iid in investor_ids:
            inv = self._row(snap.investor_row, iid, "investor")
            if c.needless is not None:  # no financing needs: enterprises as they are
                ents = c.needless.enterprises_for(inv)
                if ent_f is not None:
                    ents = ents[ent_f[ents]]
                none = np.full(len(ents), -1, dtype=np.int64)
                pend.append(self._candidates(self._query_fit("enterprise", inv, ents, none, np.full(len(ents), 0.5),
                                                             snap.n_enterprises, c.man_vecs[inv], exp),
                                             self._sources["enterprise"], k))
                continue
            pos = live.eligible(inv, tolerance=self.policy.tolerance)
            if need_f is not None:
                pos = pos[need_f[live.need[pos]]]
            query = self._query_fit("enterprise", inv, live.ent[pos], live.need[pos], live.fit(inv, pos),
                                    snap.n_enterprises, c.man_vecs[inv], exp, live.shared[pos])
            pend.append(self._candidates(query, self._sources["enterprise"], k))
        return self._finish(pend, "enterprises_for_investor", exp)

    # -- enterprise → investors ---------------------------------------------------------------
    def recommend_investors(self, enterprise_id: int, k: int = 20, filters: Filters | None = None
                            ) -> MatchList:
        """Suggested investors and financing providers for an enterprise (over its open needs)."""
        c, f = self.context, filters or Filters()
        snap = c.snap
        ent = self._row(snap.enterprise_row, enterprise_id, "enterprise")
        inv_f, need_f = f.investors(snap), f.needs(snap)
        invs, nds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        if c.needless is not None:  # no financing needs: investors for the enterprise as it is
            who = c.needless.investors_for(ent)
            invs.append(who[inv_f[who]])
            nds.append(np.full(len(invs[-1]), -1, dtype=np.int64))
        for n in (int(n) for n in snap.needs_of(ent) if need_f[n]):
            who = np.flatnonzero(c.rules.investors_for(n, tolerance=self.policy.tolerance) & inv_f)
            invs.append(who)
            nds.append(np.full(len(who), n, dtype=np.int64))
        inv, need = np.concatenate(invs), np.concatenate(nds)
        query = self._query("investor", ent, inv, inv, need, snap.n_investors, c.ent_vecs[ent], None)
        pending = self._candidates(query, self._sources["investor"], k)
        return self._finish([pending], "investors_for_enterprise", None)[0]

    # -- S fund → secondary listings ------------------------------------------------------------
    def recommend_secondaries(self, investor_id: int, k: int = 20) -> MatchList:
        """Fund interests and old shares for an S fund: sector fit, discount, vintage, similarity."""
        inv = self._row(self.snap.investor_row, investor_id, "investor")
        if self.snap.inv_type[inv] != S_FUND:
            itype = vocab.INVESTOR_TYPES.codes[int(self.snap.inv_type[inv])]
            raise FieldError("investor_id", investor_id, "secondary listings are for S funds (s_fund); "
                             f"this investor is {itype}: use recommend_enterprises")
        rows, score, parts = rank_secondaries(self.snap, inv, self.context.sec_vecs, self.context.man_vecs[inv],
                                              tolerance=self.policy.tolerance)
        items = []
        for j in range(min(k, len(rows))):
            r, e = int(rows[j]), int(self.snap.sec_ent[rows[j]])
            items.append(MatchItem(
                position=j + 1, score=float(score[j]), investor_id=int(investor_id),
                secondary_id=int(self.snap.sec_id[r]),
                enterprise_id=int(self.snap.ent_id[e]) if e >= 0 else None,
                reasons=explain_secondary(self.snap, inv, r), sources=["rules", "semantic"],
                features={name: float(v[j]) for name, v in parts.items()}))
        return MatchList(items, self.model_version, "secondaries_for_investor", self.context.as_of)

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
        vec = embed(self.encoder, [text.strip()], kind="query", cache=self.query_cache)[0]
        if side == "enterprise":
            allow = snap.ent_active & f.enterprises(snap)
            if f.instruments or f.amount_min is not None or f.amount_max is not None:
                has = np.zeros(snap.n_enterprises, dtype=bool)
                live = needs_open(snap) & (snap.need_ent >= 0)
                has[snap.need_ent[f.needs(snap) & live]] = True
                allow &= has
            ids, sims = self.context.index.search(vec, max(5 * k, 100), allow=snap.ent_id[allow])
            row_of, id_field = snap.enterprise_row, "enterprise_id"
        else:
            allow = snap.inv_active & f.investors(snap) & f.investors_taking(snap)
            ids, sims = self.context.inv_index.search(vec, max(5 * k, 100), allow=snap.inv_id[allow])
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
        return MatchList(items, self.model_version, direction, self.context.as_of)

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
        return CandidateQuery(target, row, allow, best, fit_t, vector, exposure, rows=targets[first])

    def _candidates(self, query: CandidateQuery, sources: list[Any], k: int) -> _Pending:
        found = [s.candidates(query, self.policy.candidate_k) for s in sources]
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
        c, scorer = self.context, self.scorer
        X, sim = pair_features(c.snap, c.hist, inv, ent, need, man_vecs=c.man_vecs, ent_vecs=c.ent_vecs,
                               collab=c.collab)
        fit = self._fit(inv, need)
        p_inv = p_ent = None
        score = np.zeros(len(inv))  # a model with nothing to score (no candidate) ranks nothing
        view = "investor" if direction == "enterprises_for_investor" else "enterprise"
        no_need = need < 0
        if no_need.any():  # pairs without a need: the structured fit evaluation scores them by (`rules`)
            fit[no_need] = feature_baseline("rules", X[no_need], view)
        explains = scorer if scorer is not None and scorer.explains(view) else None  # model reasons
        if scorer is not None and len(inv):
            score, p_inv, p_ent = scorer.served(X, view, fit=fit)  # the scorer chosen on validation
        out, start = [], 0
        for p in pend:
            sl = slice(start, start + len(p.cands))
            start = sl.stop
            s = score[sl] if scorer is not None else content_rules_score(sim[sl], fit[sl])
            order = self._order(p, s, exp)
            contrib = explains.contributions(view, X[sl][order]) if explains is not None and len(order) else None
            items = []
            for pos, j in enumerate(order):
                i, n_, e_ = int(p.inv[j]), int(p.need[j]), int(p.ent[j])
                broken = (violations(c.snap, i, n_, tolerance=self.policy.tolerance) if n_ >= 0 else
                          [] if c.needless is not None and c.needless.ok[i, e_] else ["no_need"])
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
            out.append(MatchList(items, self.model_version, direction, self.context.as_of))
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
            order = order[rerank(self.snap.ent_sector[ranked], shown, self.policy.diversity)]
        top, rest = list(order[:p.k]), order[p.k:]
        missing = min(self.explore.size(p.k), len(top)) - sum("exploration" in src[j] for j in top)
        lift = [j for j in rest if "exploration" in src[j]]
        if missing > 0 and lift:
            cap = self.policy.diversity.max_per_sector if p.query.target == "enterprise" else None
            sector = self.snap.ent_sector[rows] if cap else np.zeros(len(rows), dtype=np.int64)
            head = [int(sector[j]) for j in top[:self.policy.diversity.head]]
            lift.sort(key=lambda j: cap is not None and head.count(int(sector[j])) >= cap)  # stable
            for j in lift[:missing]:  # replace the lowest-ranked non-exploration items
                top.remove(next(t for t in reversed(top) if "exploration" not in src[t]))
                top.append(j)
        return np.asarray(top, dtype=np.int64)
