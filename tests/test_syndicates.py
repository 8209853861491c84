"""Syndicates (issue 17 item 2) in the core: co-investor sets that cover a need, known answers.

The allocation and the search on plain arrays (exact shares, the lead tie beating a slightly better fit); on a
generated market: the shares add up to the amount, each within its member's ticket range, every member fits the
need on its own by the hard rules at its share (an enterprise's refusal keeps an investor out, and out of the
lead), the lead's co-investors are preferred and said so only when the history may be told, a closed need and a
lead who does not fit are refused with the field named.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from helpers_encoder import HashingEncoder

from matching.domain.records import Event
from matching.errors import FieldError
from matching.rules.constraints import violations
from matching.serving import syndicate_search as ss
from matching.serving.context import MatchContext, market_context
from matching.serving.syndicates import pool, suggest
from matching.snapshot.core import build_snapshot
from matching.synth.generator import Market, generate_market

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)
WAN = 1e4


# --- plain arrays ---

def test_allocation_fills_every_range_to_the_same_fraction_in_whole_wan() -> None:
    lo = np.array([300, 500, 0]) * WAN
    hi = np.array([1000, 1500, 2000]) * WAN
    got = ss.allocate(2000 * WAN, lo, hi)
    # t = (2000 - 800) / 3700: 527.03, 824.32, 648.65 → floored to whole 万, the 1 万 left goes to the first
    assert got is not None and (got / WAN).tolist() == [528.0, 824.0, 648.0]
    assert got.sum() == 2000 * WAN and np.all(got >= lo) and np.all(got <= hi)
    assert ss.allocate(3000 * WAN, lo[:2], hi[:2]) is None  # Σhi = 2,500 万 < 3,000 万
    assert ss.allocate(700 * WAN, lo[:2], hi[:2]) is None  # Σlo = 800 万 > 700 万


def test_search_prefers_the_leads_co_investor_over_a_slightly_better_fit() -> None:
    amount = 1000 * WAN
    lo, hi = np.zeros(4), np.full(4, 600 * WAN)  # nobody covers the amount alone: two or more members
    fit = np.array([1.0, 0.9, 0.8, 0.1])
    co = np.zeros((4, 4), dtype=np.int64)
    co[0, 2] = co[2, 0] = 3
    best = ss.search(amount, lo, hi, fit, co, lead=0, n=3)
    assert best[0].members == (0, 2) and best[0].ties == (1.0, 0.0)
    assert best[0].objective == pytest.approx(0.9 + ss.LEAD_WEIGHT * 1.0)
    assert sum(best[0].amounts) == amount
    plain = ss.search(amount, lo, hi, fit, np.zeros_like(co), lead=0, n=3)
    assert plain[0].members == (0, 1)  # without the tie: the better fit
    assert all(f.members[0] == 0 for f in best + plain)  # the lead always first
    assert ss.search(amount, lo, hi, fit, co, lead=0, max_size=1) == []  # one member cannot cover it


def test_percentile_and_member_scores() -> None:
    assert ss.percentile(np.array([0.2, 0.9, 0.5])).tolist() == [0.0, 1.0, 0.5]
    assert ss.member_scores(np.array([0.5, 0.5]), np.array([0, 9])).tolist() == [0.5, 0.5 + ss.LEAD_WEIGHT]


# --- on a market ---

@pytest.fixture(scope="module")
def market() -> Market:
    return generate_market(300, 80, 6, seed=11)


def _context(m: Market, mandates: list[Any] | None = None, enterprises: list[Any] | None = None,
             events: list[Event] = ()) -> MatchContext:  # type: ignore[assignment]
    snap = build_snapshot(enterprises or m.enterprises, m.investors, mandates or m.mandates, m.needs, m.secondaries,
                          [*m.events, *events], as_of=AS_OF)
    return market_context(snap, HashingEncoder(64))


@pytest.fixture(scope="module")
def setup(market: Market) -> tuple[Market, list[Any], int, list[str]]:
    """A need with at least eight investors who may join, whose tickets are then capped at 40 % of its amount
    (so it takes three members or more), with a floor of 10 %."""
    base = _context(market)
    snap = base.snap
    sizes = [(len(pool(base, None, int(n)).rows), int(n)) for n in np.flatnonzero(base.rules.statuses().need)]
    size, need = max(sizes)
    assert size >= 8
    keys = [snap.inv_key[r] for r in pool(base, None, need).rows]
    amount = float(snap.need_amount[need])
    mandates = [replace(d, ticket_min=0.1 * amount, ticket_max=0.4 * amount, currency="CNY")
                if d.investor_key in keys else d for d in market.mandates]
    return market, mandates, int(snap.need_id[need]), keys


def test_shares_cover_the_amount_within_ranges_and_every_member_fits_alone(setup: Any) -> None:
    market, mandates, need_id, keys = setup
    ctx = _context(market, mandates)
    snap = ctx.snap
    need = snap.need_row[need_id]
    amount = float(snap.need_amount[need])
    got = suggest(ctx, None, need, n=5)
    assert len(got) == 5
    assert [s.objective for s in got] == sorted((s.objective for s in got), reverse=True)
    assert len({frozenset(m.row for m in s.members) for s in got}) == 5  # distinct sets
    for s in got:
        assert len(s.members) >= 3 and s.total == pytest.approx(amount, abs=1e-3)
        assert sum(m.amount for m in s.members) == pytest.approx(amount, abs=1e-3)
        for m in s.members:
            assert 0.1 * amount - 1e-6 <= m.amount <= 0.4 * amount + 1e-6
            assert m.ticket_max == pytest.approx(0.4 * amount)
            assert [v for v in violations(snap, m.row, need, tolerance=0.0) if v != "ticket"] == []
        cover = s.reasons[0]
        assert cover.code == "syndicate:cover"
        assert cover.zh == f"{len(s.members)} 家合计 {amount / WAN:,.0f} 万元，覆盖融资需求 {amount / WAN:,.0f} 万元"
        assert cover.en.startswith(f"{len(s.members)} investors together CNY ")
        assert s.co_investments is None and all(m.co_with_lead is None for m in s.members)
        assert s.members[0].reasons[0].zh.startswith("拟投 ")
    assert suggest(ctx, None, need, n=5) == got  # the same sets twice


def test_an_enterprise_refusal_keeps_an_investor_out_and_out_of_the_lead(setup: Any) -> None:
    market, mandates, need_id, keys = setup
    ctx = _context(market, mandates)
    need = ctx.snap.need_row[need_id]
    top = suggest(ctx, None, need, n=1)[0].members[0]
    ent_key = ctx.snap.ent_key[int(ctx.snap.need_ent[need])]
    refusing = [replace(e, excluded_investors=[ctx.snap.inv_key[top.row]]) if e.key == ent_key else e
                for e in market.enterprises]
    ctx2 = _context(market, mandates, refusing)
    need2 = ctx2.snap.need_row[need_id]
    row2 = ctx2.snap.investor_row[top.id]
    assert all(m.id != top.id for s in suggest(ctx2, None, need2, n=5) for m in s.members)
    with pytest.raises(FieldError) as err:
        suggest(ctx2, None, need2, lead_row=row2)
    assert err.value.field == "lead" and err.value.value == top.id
    assert "excluded_by_enterprise" in err.value.reason


def test_the_leads_co_investors_are_preferred_and_said_so_only_when_told(setup: Any) -> None:
    market, mandates, need_id, keys = setup
    ctx = _context(market, mandates)
    need = ctx.snap.need_row[need_id]
    lead_row = int(pool(ctx, None, need).rows[0])
    lead_key = ctx.snap.inv_key[lead_row]
    plain = suggest(ctx, None, need, lead_row=lead_row, n=5)
    assert all(s.members[0].row == lead_row and s.members[0].lead for s in plain)
    in_first = {m.row for m in plain[0].members}
    p = pool(ctx, None, need)
    outside = [j for j in np.argsort(-p.fit, kind="stable") if int(p.rows[j]) not in in_first]
    tied_row = int(p.rows[outside[len(outside) // 2]])  # a middling fit outside the best set
    tied_key = ctx.snap.inv_key[tied_row]
    others = [e.key for e in market.enterprises if e.status == "active"][:3]
    when = AS_OF - timedelta(days=30)
    events = [Event(event_key=f"syn-{n}", investor_key=k, enterprise_key=e, event_type="invested", occurred_at=when,
                    amount=5e6, currency="CNY") for n, (k, e) in enumerate((k, e) for k in (lead_key, tied_key)
                                                                             for e in others)]
    ctx2 = _context(market, mandates, events=events)
    need2, lead2 = ctx2.snap.need_row[need_id], ctx2.snap.investor_row[int(ctx.snap.inv_id[lead_row])]
    tied_id = int(ctx.snap.inv_id[tied_row])
    told = suggest(ctx2, None, need2, lead_row=lead2, n=5, reveal_history=True)
    member = next(m for m in told[0].members if m.id == tied_id)  # the tie lifts it into the best set
    assert member.co_with_lead is not None and member.co_with_lead >= 3
    tie = next(r for r in member.reasons if r.code == "syndicate:lead_ties")
    assert tie.zh == f"曾与领投方共同投资{member.co_with_lead}次"
    assert any(r.code == "syndicate:lead_ties" for r in told[0].reasons)
    hidden = suggest(ctx2, None, need2, lead_row=lead2, n=5)
    assert all(m.co_with_lead is None and all(r.code != "syndicate:lead_ties" for r in m.reasons)
               for s in hidden for m in s.members)
    assert [[m.id for m in s.members] for s in hidden] == [[m.id for m in s.members] for s in plain]


def test_a_closed_need_is_refused(setup: Any) -> None:
    market, mandates, need_id, _ = setup
    ctx = _context(market, mandates)
    snap = build_snapshot(market.enterprises, market.investors, mandates,
                          [replace(n, status="closed") for n in market.needs], market.secondaries, market.events,
                          as_of=AS_OF)
    closed = market_context(snap, HashingEncoder(64))
    with pytest.raises(FieldError) as err:
        suggest(closed, None, closed.snap.need_row[need_id])
    assert err.value.field == "need_id" and err.value.value == need_id and "closed" in err.value.reason
    assert suggest(ctx, None, ctx.snap.need_row[need_id], n=1)  # open, the same need has sets
