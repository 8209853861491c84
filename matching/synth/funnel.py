"""The funnel history: month by month, investors see deals and some go all the way to investment.

Each month every active investor views a Poisson number of items (needs or old-share listings),
drawn from three channels: **fit** (an industry of its mandate, or its own district for district
funds), **popularity** (proportional to recent saves and contacts, rich get richer) and
**random** browsing. Hard rules hold by construction: an investor only sees instruments its
mandate accepts (so banks see debt, S funds old shares) and never its excluded sectors.

A new (investor, enterprise) pair then runs down the funnel; at each step it advances when the
step's utility (:mod:`matching.synth.preference`) plus logistic noise is positive. Timestamps
increase along the pair's funnel, and events after the window's end are cut (the deal is still
under way). Investments are capped by the investor's yearly capacity and by the money the need
still seeks; those that hit a cap become ``declined``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from matching.domain.vocab import EVENT_TYPES, INSTRUMENTS, INVESTOR_STATUSES
from matching.synth.enterprises import N_IND, EnterpriseTable
from matching.synth.investors import DemandSide
from matching.synth.mandates import MandateArrays
from matching.synth.preference import N_STEPS, Items, pair_utilities
from matching.synth.supply import OLD_SHARES

DAY = 86_400
YEAR_DAYS = 365
EV = {c: k for k, c in enumerate(EVENT_TYPES.codes)}
STEP_EVENTS = np.array([EV[c] for c in ("saved", "contact_requested", "contact_accepted", "meeting",
                                        "due_diligence", "term_sheet", "invested")])
# Delay before each step, seconds: fixed minimum + exponential mean.
_DELAY_MIN = np.array([60, 3600, 600, DAY, 3 * DAY, 7 * DAY, 7 * DAY])
_DELAY_MEAN = np.array([1200, 3 * DAY, 2 * DAY, 8 * DAY, 15 * DAY, 20 * DAY, 20 * DAY])
# Share of its usual activity an investor shows, by status (inactive: only early in the window).
_STATUS_ACTIVITY = np.array([0.6, 1.0, 0.35, 0.2, 0.5])
assert INVESTOR_STATUSES.codes == ("fundraising", "investing", "managing", "exiting", "inactive")
_TIER_VISIBILITY = np.array([1.0, 1.6, 2.5])
_CHANNELS = (0.55, 0.25)  # fit, popularity; the rest is random browsing
N_INSTR = len(INSTRUMENTS)
EQUITY_LIKE = np.isin(INSTRUMENTS.codes, ("equity", "convertible"))


@dataclass(slots=True)
class EventArrays:
    """Column-wise events; ``t`` in seconds from the window start."""

    investor: np.ndarray
    item: np.ndarray
    kind: np.ndarray  # index into EVENT_TYPES
    t: np.ndarray
    by_enterprise: np.ndarray  # bool: the enterprise acted
    amount: np.ndarray  # nan unless invested
    lead: np.ndarray  # -1 unknown, 0/1

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(slots=True)
class Outcomes:
    """What the window did to each item: money raised and the deepest step reached."""

    raised: np.ndarray
    depth: np.ndarray  # 0 viewed … 7 invested


class _Buckets:
    """Items grouped by an integer key, for O(1) uniform and O(log n) weighted sampling."""

    def __init__(self, items: np.ndarray, keys: np.ndarray, n_keys: int, weights: np.ndarray | None = None):
        order = np.argsort(keys, kind="stable")
        self.items = items[order]
        self.count = np.bincount(keys, minlength=n_keys)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
        self.cw = np.cumsum(weights[order]) if weights is not None else None

    def sample(self, bucket: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One item per requested bucket (uniform, or by weight); -1 where a bucket is empty."""
        count, start = self.count[bucket], self.start[bucket]
        if len(self.items) == 0:
            return np.full(len(bucket), -1)
        if self.cw is None:
            pos = start + np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
        else:
            base = np.where(start > 0, self.cw[np.maximum(start - 1, 0)], 0.0)
            total = self.cw[np.minimum(start + count - 1, len(self.cw) - 1)] - base
            pos = np.searchsorted(self.cw, base + u * total, side="right")
            pos = np.clip(pos, start, np.maximum(start + count - 1, start))
        return np.where(count > 0, self.items[np.minimum(pos, len(self.items) - 1)], -1)


def _pick_rows(u: np.ndarray, weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, axis=1)
    return (u[:, None] * cum[:, -1:] >= cum).sum(axis=1).clip(0, weights.shape[1] - 1)


def _current(v1: MandateArrays, v2: MandateArrays, switched: np.ndarray) -> MandateArrays:
    """Version 2 rows where an investor has switched, version 1 elsewhere."""
    if not switched.any():
        return v1
    out = {}
    for f in fields(MandateArrays):
        a, b = getattr(v1, f.name), getattr(v2, f.name)
        out[f.name] = np.where(switched.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)
    return MandateArrays(**out)


def simulate(rng: np.random.Generator, ent: EnterpriseTable, demand: DemandSide, items: Items,
             month_days: list[int], *, progress: bool = False) -> tuple[EventArrays, Outcomes]:
    """Run the funnel over the window whose month boundaries are ``month_days`` (days from start)."""
    inv = demand.table
    n_inv, n_ent = len(inv), len(ent)
    months, end = len(month_days) - 1, month_days[-1] * DAY
    years = end // (YEAR_DAYS * DAY) + 2
    committed = np.zeros((n_inv, years), np.int64)
    remaining = items.amount.astype(float).copy()
    raised = np.zeros(len(items))
    depth_reached = np.full(len(items), -1)
    popularity = np.zeros(n_ent)
    seen_code = np.zeros(0, np.int64)  # pairs (investor, enterprise) already shown
    seen_open = np.zeros(0, bool)  # … and still open to a re-view (viewed or saved only)
    inactive = INVESTOR_STATUSES.codes.index("inactive")
    out: list[tuple[np.ndarray, ...]] = []
    steps = range(months)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="funnel", unit="month")
    for m in steps:
        d0, d1 = month_days[m], month_days[m + 1]
        mand = _current(demand.v1, demand.v2, (inv.v2_month >= 0) & (inv.v2_month <= m))
        year = min(d0 // YEAR_DAYS, years - 1)
        load = committed[:, year] / inv.capacity

        open_ = ((items.open_day < d1) & (items.close_day >= d0) & (remaining > 0.05 * items.amount)
                 & (ent.status[items.enterprise] == 0))
        live = np.flatnonzero(open_)
        e_live = items.enterprise[live]
        instr = items.instrument[live]
        pool = np.bincount(instr, minlength=N_INSTR)
        weight = (1 + popularity[e_live]) ** 0.9 * _TIER_VISIBILITY[ent.tier[e_live]]
        by_instr = _Buckets(live, instr, N_INSTR)
        by_pop = _Buckets(live, instr, N_INSTR, weight)
        by_sector = _Buckets(live, instr * N_IND + ent.industry[e_live], N_INSTR * N_IND)
        dist = np.maximum(ent.district[e_live], 0) + 1  # 0 = outside Chongqing
        by_district = _Buckets(live, instr * 40 + dist, N_INSTR * 40)

        act = _STATUS_ACTIVITY[inv.status] * (inv.created_day < d1)
        act = np.where((inv.status == inactive) & (m >= max(1, months // 3)), 0.0, act)
        n_views = rng.poisson(inv.views * act * np.exp(rng.normal(0, 0.3, size=n_inv)))
        i = np.repeat(np.arange(n_inv), n_views)
        acc = mand.instruments[i] * pool ** 0.7
        ok = acc.sum(axis=1) > 0
        i, acc = i[ok], acc[ok]
        s = len(i)
        ins = _pick_rows(rng.random(s), acc)
        channel = rng.random(s)
        u = rng.random(s)
        j = np.full(s, -1)
        fit = channel < _CHANNELS[0]
        local = fit & (mand.district[i] >= 0) & (rng.random(s) < 0.5)
        sector = mand.sector_list[i, rng.integers(0, 4, size=s)]
        sector = np.where(mand.generalist[i], rng.integers(0, N_IND, size=s), sector)
        j = np.where(fit & ~local, by_sector.sample(ins * N_IND + sector, u), j)
        j = np.where(local, by_district.sample(ins * 40 + mand.district[i] + 1, u), j)
        pop = (channel >= _CHANNELS[0]) & (channel < sum(_CHANNELS))
        j = np.where(pop, by_pop.sample(ins, u), j)
        j = np.where(j < 0, by_instr.sample(ins, rng.random(s)), j)
        keep = j >= 0
        i, j = i[keep], j[keep]
        keep = ~mand.excluded[i, ent.industry[items.enterprise[j]]]  # hard rule: no excluded sector
        i, j = i[keep], j[keep]

        code = i.astype(np.int64) * n_ent + items.enterprise[j]
        code, first = np.unique(code, return_index=True)  # one item per pair per month
        i, j = i[first], j[first]
        pos = np.searchsorted(seen_code, code)
        pos_c = np.minimum(pos, max(len(seen_code) - 1, 0))
        if len(seen_code):
            known = (pos < len(seen_code)) & (seen_code[pos_c] == code)
        else:
            known = np.zeros(len(code), bool)
        still_open = known & seen_open[pos_c] if len(seen_code) else known
        review = still_open
        new = ~known
        day = rng.integers(d0, d1, size=len(i))
        clock = (8 + 13 * rng.beta(2.0, 2.2, size=len(i))) * 3600  # office hours, busiest early afternoon
        t_view = (day * DAY + clock).astype(np.int64)
        # Nobody sees a need before the day it opens, nor before the day after joining the platform.
        t_view = np.maximum(t_view, np.maximum(items.open_day[j], inv.created_day[i] + 1) * DAY + 3600)

        # Re-views of pairs seen before: a viewed event, nothing more.
        rv = np.flatnonzero(review)
        out.append(_events(i[rv], j[rv], EV["viewed"], t_view[rv]))

        n = np.flatnonzero(new)
        ni, nj, nt = i[n], j[n], t_view[n]
        util = pair_utilities(ent, inv, mand, items, ni, nj, popularity, load)
        passed = util + rng.logistic(size=util.shape) > 0
        depth = np.cumprod(passed, axis=1).sum(axis=1)  # steps passed in a row, 0 … 7
        times = nt[:, None] + np.cumsum(_DELAY_MIN + rng.exponential(_DELAY_MEAN, size=util.shape), axis=1)
        times = times.astype(np.int64)

        depth, forced_by_ent, amount, lead = _invest(rng, ni, nj, depth, times[:, 6], util[:, 6], end, items,
                                                    mand, inv.capacity, committed, remaining, raised)
        out.append(_events(ni, nj, EV["viewed"], nt))
        for k in range(N_STEPS):
            sel = np.flatnonzero(depth > k)
            last = k == N_STEPS - 1
            out.append(_events(ni[sel], nj[sel], STEP_EVENTS[k], times[sel, k], by_enterprise=(k == 2),
                               amount=amount[sel] if last else None, lead=lead[sel] if last else None))
        dismissed = (depth == 0) & (rng.random(len(ni)) < 0.35)
        dm = np.flatnonzero(dismissed)
        out.append(_events(ni[dm], nj[dm], EV["dismissed"],
                           nt[dm] + 30 + rng.exponential(300, size=len(dm)).astype(np.int64)))
        explicit = (rng.random(len(ni)) < 0.85) | (forced_by_ent >= 0)
        fail = np.flatnonzero((depth >= 2) & (depth < N_STEPS) & explicit)
        f = depth[fail]
        t_fail = times[fail, f - 1] + 3600 + rng.exponential(7 * DAY, size=len(fail)).astype(np.int64)
        t_fail = np.where(forced_by_ent[fail] >= 0, times[fail, N_STEPS - 1], t_fail)
        chosen = (f == 2) | (rng.random(len(fail)) < 0.25)  # the enterprise refuses contact, or walks away
        by_ent = np.where(forced_by_ent[fail] >= 0, forced_by_ent[fail] == 1, chosen)
        out.append(_events(ni[fail], nj[fail], EV["declined"], t_fail, by_enterprise=by_ent))

        reached = (times < end).sum(axis=1)
        np.maximum.at(depth_reached, nj, np.minimum(depth, reached))
        e_new = items.enterprise[nj]
        popularity *= 0.75
        popularity += np.bincount(e_new[depth >= 1], minlength=n_ent)
        popularity += 2.0 * np.bincount(e_new[depth >= 2], minlength=n_ent)

        # Pairs only viewed or saved may be shown again (a re-view); the others are settled.
        seen_code = np.concatenate([seen_code, code[new]])
        seen_open = np.concatenate([seen_open, (depth <= 1) & ~dismissed])
        order = np.argsort(seen_code, kind="stable")
        seen_code, seen_open = seen_code[order], seen_open[order]

    cols = list(zip(*out, strict=True))
    ev = EventArrays(*(np.concatenate(c) for c in cols))
    keep = ev.t < end
    ev = EventArrays(*(getattr(ev, f.name)[keep] for f in fields(EventArrays)))
    return ev, Outcomes(raised, depth_reached)


def _events(i: np.ndarray, j: np.ndarray, kind: int | np.ndarray, t: np.ndarray, *,
            by_enterprise: bool | np.ndarray = False, amount: np.ndarray | None = None,
            lead: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    n = len(i)
    return (i.astype(np.int64), j.astype(np.int64), np.broadcast_to(np.asarray(kind, np.int64), (n,)).copy(),
            t.astype(np.int64), np.broadcast_to(np.asarray(by_enterprise, bool), (n,)).copy(),
            np.full(n, np.nan) if amount is None else amount.astype(float),
            np.full(n, -1, np.int8) if lead is None else lead.astype(np.int8))


def _invest(rng: np.random.Generator, i: np.ndarray, j: np.ndarray, depth: np.ndarray, t_inv: np.ndarray,
            u_inv: np.ndarray, end: int, items: Items, mand: MandateArrays, capacity: np.ndarray,
            committed: np.ndarray, remaining: np.ndarray, raised: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cap investments by yearly capacity and by the money still sought; size the cheques.

    Returns the adjusted depth, who forced a decline (-1 none, 0 investor at capacity,
    1 enterprise whose round is full), the amount and the lead flag per pair.
    """
    n = len(i)
    amount = np.full(n, np.nan)
    lead = np.full(n, -1, np.int8)
    forced = np.full(n, -1)
    cand = np.flatnonzero((depth == N_STEPS) & (t_inv < end))
    depth = depth.copy()
    if len(cand) == 0:
        return depth, forced, amount, lead
    year = np.minimum(t_inv[cand] // (YEAR_DAYS * DAY), committed.shape[1] - 1)
    # Capacity: the investor keeps its best deals of the year (highest utility) up to its capacity.
    order = np.lexsort((-u_inv[cand], year, i[cand]))
    c = cand[order]
    yr = year[order]
    grp = np.r_[True, (i[c][1:] != i[c][:-1]) | (yr[1:] != yr[:-1])]
    rank = np.arange(len(c)) - np.maximum.accumulate(np.where(grp, np.arange(len(c)), 0))
    ok = rank < capacity[i[c]] - committed[i[c], yr]
    forced[c[~ok]] = 0
    c, yr = c[ok], yr[ok]
    # Money: in time order per item, each cheque takes what the need still seeks.
    order = np.lexsort((t_inv[c], j[c]))
    c, yr = c[order], yr[order]
    jj = j[c]
    ins = items.instrument[jj]
    share = np.where(ins == OLD_SHARES, rng.uniform(0.5, 1.0, len(c)),
                     np.where(EQUITY_LIKE[ins], rng.uniform(0.2, 0.6, len(c)), rng.uniform(0.7, 1.0, len(c))))
    want = np.clip(items.amount[jj] * share, 0.5 * mand.ticket_min[i[c]], 1.5 * mand.ticket_max[i[c]])
    want = np.where(items.secondary[jj] >= 0, items.amount[jj], want)  # a listing is bought whole
    grp = np.r_[True, jj[1:] != jj[:-1]]
    cum = np.cumsum(want)
    before = cum - want - np.maximum.accumulate(np.where(grp, cum - want, 0))
    got = np.round(np.clip(remaining[jj] - before, 0, want), -4)
    fine = got >= 0.1 * want
    forced[c[~fine]] = 1
    c, yr, jj, got, grp = c[fine], yr[fine], jj[fine], got[fine], grp[fine]
    amount[c] = got
    first_in = (raised[jj] == 0) & np.r_[True, jj[1:] != jj[:-1]]
    leads = (first_in & (got >= 0.3 * items.amount[jj])).astype(np.int8)
    lead[c] = np.where(EQUITY_LIKE[items.instrument[jj]], leads, -1)
    np.add.at(remaining, jj, -got)
    np.add.at(raised, jj, got)
    np.add.at(committed, (i[c], yr), 1)
    depth[forced >= 0] = N_STEPS - 1
    return depth, forced, amount, lead
