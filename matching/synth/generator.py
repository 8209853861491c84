"""``capconnect generate``: a synthetic Chongqing market with a funnel history.

The generator draws the supply side (enterprises, their needs, secondary listings), the demand
side (investors of every type with versioned mandates) and then simulates ``months`` of funnel
events from a hidden preference model (see ``matching/synth/README.md``). Everything random
comes from one ``numpy.random.default_rng(seed)``, split into independent streams per stage, so
the same arguments always give the same market.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

from matching.domain.records import Enterprise, Event, Investor, Mandate, Need, Secondary
from matching.domain.vocab import (
    EVENT_TYPES,
    INSTRUMENTS,
    INVESTOR_STATUSES,
    INVESTOR_TYPES,
    NEED_STATUSES,
    ROUNDS,
    SECONDARY_KINDS,
    SECONDARY_STATUSES,
    TIERS,
)
from matching.errors import FieldError
from matching.synth.enterprises import generate_enterprises, industry_embeddings
from matching.synth.funnel import simulate
from matching.synth.investors import generate_investors
from matching.synth.materialise import enterprise_records, event_records, need_records, secondary_records
from matching.synth.preference import Items
from matching.synth.supply import OLD_SHARES, NeedTable, SecondaryTable, generate_needs, generate_secondaries

log = logging.getLogger(__name__)

#: China Standard Time (no daylight saving since 1991), the market's clock.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(slots=True)
class Market:
    """A generated market: records ready to import, plus how it was made."""

    enterprises: list[Enterprise]
    investors: list[Investor]
    mandates: list[Mandate]
    needs: list[Need]
    secondaries: list[Secondary]
    events: list[Event]
    seed: int
    start: date
    months: int

    def summary(self) -> dict[str, object]:
        """Counts by tier, investor type, instrument, status and event type (vocabulary order)."""
        invested = [e.amount or 0.0 for e in self.events if e.event_type == "invested"]
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "months": self.months,
            "enterprises": len(self.enterprises),
            "enterprises_by_tier": _count((e.tier for e in self.enterprises), TIERS.codes),
            "districts_covered": len({e.district_code for e in self.enterprises if e.district_code}),
            "industries_covered": len({e.industry_code for e in self.enterprises}),
            "investors": len(self.investors),
            "investors_by_type": _count((i.investor_type for i in self.investors), INVESTOR_TYPES.codes),
            "investors_by_status": _count((i.status for i in self.investors), INVESTOR_STATUSES.codes),
            "mandates": len(self.mandates),
            "mandates_revised": sum(m.version > 1 for m in self.mandates),
            "needs": len(self.needs),
            "needs_by_instrument": _count((n.instrument for n in self.needs), INSTRUMENTS.codes),
            "needs_by_status": _count((n.status for n in self.needs), NEED_STATUSES.codes),
            "secondaries_by_kind": _count((s.kind for s in self.secondaries), SECONDARY_KINDS.codes),
            "secondaries_by_status": _count((s.status for s in self.secondaries), SECONDARY_STATUSES.codes),
            "events": len(self.events),
            "events_by_type": _count((e.event_type for e in self.events), EVENT_TYPES.codes),
            "invested_deals": len(invested),
            "invested_amount_yuan": float(sum(invested)),
        }


def _count(values: Iterable[str], codes: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(values)
    return {c: counts.get(c, 0) for c in codes}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's length."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def generate_market(n_enterprises: int = 5000, n_investors: int = 600, months: int = 24, seed: int = 7, *,
                    start: date = date(2024, 1, 1), progress: bool = False) -> Market:
    """Generate a synthetic market of ``n_enterprises`` × ``n_investors`` over ``months`` months.

    Args:
        n_enterprises: enterprises on the platform (1,000,000 is fine: a few minutes).
        n_investors: investors and financing providers; with 10 or more every type is present.
        months: length of the funnel history.
        seed: same seed, same market; another seed, another market.
        start: first day of the window (midnight China time).
        progress: show tqdm progress bars.

    Raises:
        FieldError: for a size or length below 1.
    """
    for field, value in (("n_enterprises", n_enterprises), ("n_investors", n_investors), ("months", months)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise FieldError(field, value, "must be a whole number of at least 1")
    clock = time.perf_counter()
    root = np.random.default_rng(seed)
    r_world, r_ent, r_inv, r_supply, r_funnel, r_text = root.spawn(6)
    start_dt = datetime(start.year, start.month, start.day, tzinfo=CST)
    month_starts = [datetime.combine(add_months(start, k), datetime.min.time(), CST)
                    for k in range(months + 1)]
    month_days = [(ms - start_dt).days for ms in month_starts]
    days = month_days[-1]

    ind_emb = industry_embeddings(r_world)
    ent = generate_enterprises(n_enterprises, r_ent, ind_emb)
    demand = generate_investors(n_investors, r_inv, ind_emb, seed=seed, start=start_dt,
                                month_starts=month_starts)
    need_t = generate_needs(r_supply, ent, days)
    sec_t = generate_secondaries(r_supply, ent, demand.investors, demand.table.kind, demand.table.status,
                                 days=days, year=start.year)
    items = _items(need_t, sec_t, days)
    log.info("tables drawn in %.1fs", time.perf_counter() - clock)

    ev, outcome = simulate(r_funnel, ent, demand, items, month_days, progress=progress)
    log.info("funnel simulated (%d events) in %.1fs", len(ev), time.perf_counter() - clock)

    created = _enterprise_joined(r_text, len(ent), items, days)
    enterprises = enterprise_records(r_text, ent, seed=seed, start=start_dt, created_day=created,
                                     progress=progress)
    log.info("enterprise records built in %.1fs", time.perf_counter() - clock)
    needs = need_records(r_text, need_t, enterprises, outcome, seed=seed, start=start_dt, days=days)
    secondaries = secondary_records(r_text, sec_t, demand.investors, demand.brands, enterprises, outcome,
                                    len(need_t), seed=seed, start=start_dt)
    log.info("need and listing records built in %.1fs", time.perf_counter() - clock)
    events = event_records(ev, items, demand.investors, enterprises, needs, secondaries, seed=seed,
                           start=start_dt, progress=progress)
    log.info("market of %d enterprises, %d investors, %d events built in %.1fs", len(enterprises),
             len(demand.investors), len(events), time.perf_counter() - clock)
    return Market(enterprises, demand.investors, demand.mandates, needs, secondaries, events, seed, start,
                  months)


def _items(needs: NeedTable, sec: SecondaryTable, days: int) -> Items:
    """Needs, then old-share listings, as one table of things investors act on."""
    old = np.flatnonzero(sec.kind == 1)
    n = len(needs)
    withdrawn = np.where(sec.withdrawn_day[old] >= 0, sec.withdrawn_day[old], days + 10_000)
    return Items(
        enterprise=np.concatenate([needs.enterprise, sec.enterprise[old]]),
        instrument=np.concatenate([needs.instrument, np.full(len(old), OLD_SHARES)]),
        amount=np.concatenate([needs.amount, sec.asking[old]]),
        round=np.concatenate([needs.round, np.full(len(old), ROUNDS.codes.index("other"))]),
        open_day=np.concatenate([needs.open_day, sec.listed_day[old]]),
        close_day=np.concatenate([needs.close_day, withdrawn]),
        need=np.concatenate([np.arange(n), np.full(len(old), -1)]),
        secondary=np.concatenate([np.full(n, -1), old]),
    )


def _enterprise_joined(rng: np.random.Generator, n: int, items: Items, days: int) -> np.ndarray:
    """Day each enterprise joined the platform: before its first need or listing opened."""
    before = rng.random(n) < 0.75
    joined = np.where(before, -rng.integers(1, 730, size=n), rng.integers(0, max(days, 1), size=n))
    first = np.full(n, days + 1)
    np.minimum.at(first, items.enterprise, items.open_day)
    return np.minimum(joined, first - 1)
