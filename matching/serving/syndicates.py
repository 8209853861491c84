"""Syndicates: co-investor sets that together cover one financing need, over one :class:`MatchContext`.

For a need (and optionally a lead investor):

1. **Who may join**: every investor the hard rules let take a share of the need. The one implementation
   (:func:`matching.rules.eligibility.eligible`) is asked with the amount each investor would take: its share
   cap ``min(amount, ticket_max)`` for the pool, then each member's proposed share once a set is chosen (a
   member whose share breaks a rule is a bug: the set is dropped and logged, as the matcher does). So a member
   fits the need on its own (type, instrument, stage, region, tier, board, sectors, exclusions both ways) with
   its share inside its own ticket range, without tolerance.
2. **How well each fits**: the served deal-list scorer on the same feature rows as the enterprise's investor
   list (view ``enterprise``; without a model the content + rules score), turned into a percentile among
   those who may join.
3. **Which sets**: :func:`matching.serving.syndicate_search.search` (fit, co-investment ties with the lead and
   among members, feasible ticket allocation).
4. **Why**: reasons in Chinese and English: the tickets adding up, each member's share against its range, ties.

**What may be told.** Co-investment counts come from investments in *other* enterprises (``invested`` events
as of the snapshot), which :mod:`matching.rules.event_visibility` lets only admin, operator and data
scientists read. With ``reveal_history=False`` the counts are ``None``, no reason mentions them and they do not
lift any set either (an order that a count changed would tell it). Which member fields a caller sees (ticket
ranges, shares, scores) is the API's decision (:mod:`api.services.syndicates`); the reasons carry ``code``\\ s so
it can drop the ones it withholds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from matching.errors import FieldError
from matching.explain.reasons import Reason, ticket_range, yuan_en
from matching.features.table import pair_features
from matching.ranking.baselines import content_rules_score
from matching.ranking.twosided import TwoSidedScorer
from matching.rules.constraints import violations
from matching.rules.eligibility import Columns, eligible, pair_fit
from matching.serving import syndicate_search as ss
from matching.serving.context import MatchContext
from matching.serving.similar import co_investment

logger = logging.getLogger(__name__)
#: Reason codes that state a member's own ticket range or share (private to the member and staff).
TICKET_CODES = ("syndicate:ticket",)
#: Reason codes that state co-investment history (investments in other enterprises).
HISTORY_CODES = ("syndicate:lead_ties", "syndicate:pair_ties")


@dataclass(frozen=True)
class Member:
    """One member of a suggested syndicate.

    Attributes:
        row, id: the investor's snapshot row and id.
        amount: its proposed share (yuan).
        ticket_min, ticket_max: its ticket range in yuan (``None``: open).
        score: the served deal-list score of the pair; ``fit`` its percentile among those who may join.
        lead: whether it is the lead.
        co_with_lead: enterprises it and the lead both invested in (``None``: not told, or no lead).
        reasons: its own reasons (its share against its range, its tie to the lead).
    """

    row: int
    id: int
    amount: float
    ticket_min: float | None
    ticket_max: float | None
    score: float
    fit: float
    lead: bool
    co_with_lead: int | None
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class Syndicate:
    """A suggested set: members (the lead first) whose shares add up to the need's amount.

    Attributes:
        members: the members, the lead first, then by fit.
        amount: the need's amount (yuan); ``total`` the shares' sum (equal to it).
        objective: the search's objective; ``fit`` the members' mean fit percentile.
        co_investments: co-investments among the members, lead included (``None``: not told).
        reasons: the set's reasons (the tickets adding up, the hard rules, the ties where told).
    """

    members: list[Member]
    amount: float
    total: float
    objective: float
    fit: float
    co_investments: int | None
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class Pool:
    """Who may take a share of a need: investor rows with their share range and fit.

    Attributes:
        rows: investor rows (ascending).
        lo, hi: each one's share range in yuan (``lo`` 0 for an open minimum; ``hi`` at most the amount).
        score: the served deal-list score; ``fit`` its percentile among ``rows``.
    """

    rows: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    score: np.ndarray
    fit: np.ndarray


def share_columns(context: MatchContext, need_row: int, amounts: np.ndarray) -> Columns:
    """The need's columns repeated once per amount, each with that amount (a share) in place of the need's."""
    cols = Columns.of_needs(context.snap, np.full(len(amounts), need_row, dtype=np.int64))
    return replace(cols, amount=np.asarray(amounts, dtype=np.float64))


def pool(context: MatchContext, scorer: TwoSidedScorer | None, need_row: int) -> Pool:
    """Every investor the hard rules let take a share of the need, scored by the served scorer."""
    snap = context.snap
    amount = float(snap.need_amount[need_row])
    cap = np.where(np.isnan(snap.man_ticket_max), amount, np.minimum(snap.man_ticket_max, amount))
    invs = np.arange(snap.n_investors, dtype=np.int64)
    ok = eligible(snap, invs, share_columns(context, need_row, cap), context.rules.statuses(), tolerance=0.0)
    rows = np.flatnonzero(ok)
    lo = np.nan_to_num(snap.man_ticket_min[rows], nan=0.0)
    score = served_scores(context, scorer, need_row, rows)
    return Pool(rows, lo, cap[rows], score, ss.percentile(score))


def served_scores(context: MatchContext, scorer: TwoSidedScorer | None, need_row: int, rows: np.ndarray
                  ) -> np.ndarray:
    """The deal-list score of each (investor row, need) pair: the served scorer seen from the enterprise (the
    enterprise's investor list), or the content + rules score without a model."""
    snap = context.snap
    if not len(rows):
        return np.zeros(0)
    need = np.full(len(rows), need_row, dtype=np.int64)
    ent = np.full(len(rows), int(snap.need_ent[need_row]), dtype=np.int64)
    X, sim = pair_features(snap, context.hist, rows, ent, need, man_vecs=context.man_vecs, ent_vecs=context.ent_vecs,
                           collab=context.collab)
    fit = pair_fit(snap, rows, need)
    if scorer is None:
        return np.asarray(content_rules_score(sim, fit), dtype=np.float64)
    return np.asarray(scorer.score(X, "enterprise", fit=fit), dtype=np.float64)


def suggest(context: MatchContext, scorer: TwoSidedScorer | None, need_row: int, *, lead_row: int | None = None,
            n: int = 5, max_size: int = 5, reveal_history: bool = False, found: Pool | None = None
            ) -> list[Syndicate]:
    """Suggested syndicates for a need, best first.

    Args:
        context: the market.
        scorer: the served scorer (``None``: content + rules).
        need_row: the need (a snapshot row).
        lead_row: the lead investor (always a member, the first), or ``None``.
        n: how many sets (at most).
        max_size: the most members a set has (the lead included).
        reveal_history: use and state co-investment counts (module docstring for who may).
        found: the need's :func:`pool` when the caller already has it.

    Raises:
        IndexError: ``need_row`` or ``lead_row`` is not a row of the snapshot.
        FieldError: the need is not open (``need_id``), or the lead may not take a share of it (``lead``).
    """
    snap = context.snap
    if not 0 <= need_row < len(snap.need_id):
        raise IndexError(f"need row {need_row}: the snapshot has need rows 0..{len(snap.need_id) - 1}")
    need_id = int(snap.need_id[need_row])
    if not context.rules.statuses().need[need_row]:
        raise FieldError("need_id", need_id, "the need is closed (or its enterprise inactive): syndicates are "
                                             "suggested for open needs only")
    found = found if found is not None else pool(context, scorer, need_row)
    lead = None
    if lead_row is not None:
        if not 0 <= lead_row < snap.n_investors:
            raise IndexError(f"investor row {lead_row}: the snapshot has investor rows 0..{snap.n_investors - 1}")
        at = np.searchsorted(found.rows, lead_row)
        if at >= len(found.rows) or found.rows[at] != lead_row:
            lo, amount = float(snap.man_ticket_min[lead_row]), float(snap.need_amount[need_row])
            if lo > amount:  # whatever else is broken (the same answer whether or not the enterprise refused it)
                raise LeadAlone(int(snap.inv_id[lead_row]), lo, amount, _why_not(context, lead_row, need_row))
            raise FieldError("lead", int(snap.inv_id[lead_row]), _why_not(context, lead_row, need_row))
        lead = int(at)
    amount = float(snap.need_amount[need_row])
    co = _co_matrix(context, found.rows) if reveal_history else np.zeros((len(found.rows),) * 2)
    sets = ss.search(amount, found.lo, found.hi, found.fit, co, lead=lead, n=n + 2, max_size=max_size)
    out = []
    for s in sets:
        syn = _syndicate(context, found, s, co, lead, amount, need_row, reveal_history)
        if syn is not None:
            out.append(syn)
    return out[:n]


def _co_matrix(context: MatchContext, rows: np.ndarray) -> np.ndarray:
    """Co-investment counts between the pool's investors (enterprises both invested in, as of the snapshot)."""
    m = co_investment(context).by_investor[rows]
    co = np.asarray((m @ m.T).toarray(), dtype=np.int64)
    np.fill_diagonal(co, 0)
    return co


class LeadAlone(FieldError):
    """The lead's minimum ticket is above the whole amount sought, so it leaves no share to co-investors (it may
    still fund the round alone: the deal list allows a ticket within its tolerance). Raised whatever else the
    pair breaks, so that an investor told this learns nothing about the enterprise's private refusals.

    Attributes:
        ticket_min: the lead's minimum ticket (yuan).
        amount: the need's amount (yuan).
    """

    def __init__(self, investor_id: int, ticket_min: float, amount: float, reason: str) -> None:
        super().__init__("lead", investor_id, reason)
        self.ticket_min, self.amount = ticket_min, amount


def _why_not(context: MatchContext, lead_row: int, need_row: int) -> str:
    snap = context.snap
    broken = [b for b in violations(snap, lead_row, need_row, tolerance=0.0) if b != "ticket"]
    lo = snap.man_ticket_min[lead_row]
    if not broken and not np.isnan(lo) and lo > snap.need_amount[need_row]:
        broken = [f"ticket (its minimum ticket {lo:,.0f} is above the amount sought "
                  f"{snap.need_amount[need_row]:,.0f})"]
    return ("this investor may not take a share of the need by the hard rules (broken: "
            f"{', '.join(broken) or 'inactive'}); choose a lead that fits the need, or none")


def _syndicate(context: MatchContext, found: Pool, s: ss.Found, co: np.ndarray, lead: int | None, amount: float,
               need_row: int, reveal: bool) -> Syndicate | None:
    snap = context.snap
    pos = np.asarray(s.members, dtype=np.int64)
    rows = found.rows[pos]
    shares = np.asarray(s.amounts)
    if (shares <= 0).any():  # a member with nothing to put in is no member (open minimums, amount met by the rest)
        return None
    ok = eligible(snap, rows, share_columns(context, need_row, shares), context.rules.statuses(), tolerance=0.0)
    if not ok.all():  # the last line of defence: never suggest a share the rules refuse (a bug: shout)
        logger.error("dropped a syndicate for need row %d: rows %s refused at shares %s", need_row,
                     rows[~ok].tolist(), shares[~ok].tolist())
        return None
    members = []
    for p, r, a in zip(pos, rows, shares, strict=True):
        is_lead = lead is not None and int(p) == lead
        c = int(co[lead, p]) if reveal and lead is not None and not is_lead else None
        lo, hi = snap.man_ticket_min[r], snap.man_ticket_max[r]
        members.append(Member(int(r), int(snap.inv_id[r]), float(a), None if np.isnan(lo) else float(lo),
                              None if np.isnan(hi) else float(hi), float(found.score[p]), float(found.fit[p]),
                              is_lead, c, _member_reasons(float(a), lo, hi, c)))
    others = pos[pos != lead] if lead is not None else pos
    pairs = int(np.triu(co[np.ix_(pos, pos)], 1).sum()) if reveal else None
    reasons = [_cover(len(pos), float(shares.sum()), amount),
               Reason("syndicate:rules", "每家均以拟投金额单独符合该需求的硬性条件",
                      "Each member meets the need's hard rules on its own, at its proposed share", 1.0)]
    if reveal and lead is not None:
        tied = int((co[lead, others] > 0).sum())
        if tied:
            reasons.append(Reason("syndicate:lead_ties", f"{tied} 家成员曾与领投方共同投资",
                                  f"{tied} member{'s' if tied != 1 else ''} co-invested with the lead before",
                                  s.ties[0], facts={"members_tied_to_lead": tied}))
    inner = int(np.triu(co[np.ix_(others, others)], 1).sum()) if reveal else 0
    if inner:
        reasons.append(Reason("syndicate:pair_ties", f"跟投成员之间曾共同投资{inner}次",
                              f"The co-investors invested together {inner} time{'s' if inner != 1 else ''} before",
                              s.ties[1], facts={"co_investments": inner}))
    return Syndicate(members, amount, float(shares.sum()), s.objective, s.fit, pairs, reasons)


def _cover(k: int, total: float, amount: float) -> Reason:
    return Reason("syndicate:cover", f"{k} 家合计 {_wan(total)}，覆盖融资需求 {_wan(amount)}",
                  f"{k} investors together {yuan_en(total)}, covering the {yuan_en(amount)} sought", 1.0,
                  facts={"members": k, "total": total, "amount": amount})


def _member_reasons(amount: float, lo: float, hi: float, co: int | None) -> list[Reason]:
    out = [Reason("syndicate:ticket", f"拟投 {_wan(amount)}（单笔投资额 {ticket_range(lo, hi)}）"
                  if not (np.isnan(lo) and np.isnan(hi)) else f"拟投 {_wan(amount)}（单笔投资额不限）",
                  f"Proposed share {yuan_en(amount)} (ticket {ticket_range(lo, hi, 'en')})"
                  if not (np.isnan(lo) and np.isnan(hi)) else f"Proposed share {yuan_en(amount)} (any ticket size)",
                  1.0, facts={"amount": amount})]
    if co:
        out.append(Reason("syndicate:lead_ties", f"曾与领投方共同投资{co}次",
                          f"Co-invested with the lead {co} time{'s' if co != 1 else ''}", float(co),
                          facts={"co_with_lead": co}))
    return out


def _wan(amount: float) -> str:
    """An amount in 万元 with thousands separators, as a round's amount is written: 2,000 万元."""
    wan = amount / 1e4
    return f"{wan:,.0f} 万元" if abs(wan - round(wan)) < 1e-6 else f"{wan:,.2f} 万元"


__all__ = ["HISTORY_CODES", "TICKET_CODES", "Member", "Pool", "Syndicate", "pool", "served_scores", "share_columns",
           "suggest"]
