"""From the generator's column tables to the domain records of :mod:`matching.domain.records`.

The one place where per-row Python work happens (names, descriptions, financial history, record
construction), so it is written for speed: uniforms are drawn in chunks, vocabulary codes are
looked up from tuples, and shared strings (keys, codes) are reused rather than rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import numpy as np

from matching.domain.credit_code import make_credit_code
from matching.domain.industries import INDUSTRIES
from matching.domain.records import Enterprise, Event, Financials, Investor, Need, Secondary
from matching.domain.regions import DISTRICTS
from matching.domain.vocab import (
    BOARDS,
    EVENT_TYPES,
    INSTRUMENTS,
    LISTING_TARGETS,
    QUALIFICATIONS,
    ROUNDS,
    SECONDARY_STATUSES,
)
from matching.synth.enterprises import (
    LIANGJIANG,
    TIER_CODES,
    EnterpriseTable,
    financial_history,
    organisation_codes,
)
from matching.synth.funnel import EventArrays, Outcomes
from matching.synth.investor_texts import fund_interest_text, old_shares_text
from matching.synth.lexicon import OUTSIDE_PLACES
from matching.synth.preference import Items
from matching.synth.supply import NeedTable, SecondaryTable
from matching.synth.texts import Dice, EnterpriseFacts, describe_enterprise, enterprise_name, use_of_funds

CHUNK = 20_000
EVENT_CHUNK = 250_000
# Vocabulary code tuples, looked up once (``Vocabulary.codes`` builds a new tuple per call).
_BOARD_CODES, _QUAL_CODES, _LISTING_CODES = BOARDS.codes, QUALIFICATIONS.codes, LISTING_TARGETS.codes
_INSTR_CODES, _ROUND_CODES = INSTRUMENTS.codes, ROUNDS.codes
_STATUS = ("active", "listed", "inactive")
_DISCLOSURE = ("tier_default", "public", "on_request")
_ORDINAL = "一二三四五六"


def _chunks(n: int, progress: bool, desc: str, size: int = CHUNK) -> Iterator[int]:
    """Chunk starts; converting columns to Python values a chunk at a time bounds peak memory."""
    if not progress:
        yield from range(0, n, size)
        return
    from tqdm import tqdm

    with tqdm(total=n, desc=desc, unit=" rows", unit_scale=True) as bar:
        for start in range(0, n, size):
            yield start
            bar.update(min(size, n - start))


def _flags(value: int, codes: tuple[str, ...]) -> list[str]:
    return [c for k, c in enumerate(codes) if value >> k & 1]


def credit_codes(rng: np.random.Generator, ent: EnterpriseTable, founded: list[date]) -> list[str]:
    """Valid, unique unified social credit codes: authority 9, type 1, the district's division code."""
    new_style = np.array([d.year >= 2016 for d in founded], bool)
    org = organisation_codes(rng, new_style)
    division = [DISTRICTS[d].code if d >= 0 else OUTSIDE_PLACES[p][2]
                for d, p in zip(ent.district.tolist(), ent.place.tolist(), strict=True)]
    return [make_credit_code("9", "1", div, o) for div, o in zip(division, org, strict=True)]


def enterprise_records(rng: np.random.Generator, ent: EnterpriseTable, *, seed: int, start: datetime,
                       created_day: np.ndarray, progress: bool = False) -> list[Enterprise]:
    """One :class:`Enterprise` per row, with name, credit code, description and financials."""
    n = len(ent)
    founded = [start.date() - timedelta(days=int(a * 365.25)) for a in ent.age_years.tolist()]
    codes = credit_codes(rng, ent, founded)
    report_year = start.year - 1
    n_years = np.where(ent.tier == 2, 3, np.where(ent.tier == 1, rng.integers(2, 4, size=n),
                                                  rng.choice([1, 2, 3], size=n, p=[0.7, 0.25, 0.05])))
    n_years = np.minimum(n_years, np.maximum(1, ent.age_years.astype(int)))
    capital = np.round(np.exp(np.log(np.array([3e6, 3e7, 1.2e8]))[ent.tier] + rng.normal(0, 0.7, size=n)), -4)
    disclosure = np.where(rng.random(n) < np.array([0.92, 0.85, 0.6])[ent.tier], 0,
                          rng.choice([1, 2], size=n, p=[0.6, 0.4]))
    history = financial_history(rng, ent)
    seen: set[str] = set()
    out: list[Enterprise] = []
    columns = [ent.district, ent.place, ent.industry, ent.tier, ent.boards, ent.quals, ent.listing,
               ent.revenue, ent.growth, ent.rd_ratio, ent.employees, ent.patents, ent.status, ent.age_years,
               n_years, capital, disclosure, created_day]
    columns += [history[k] for k in ("revenue", "net_profit", "revenue_growth", "rd_ratio", "employees",
                                     "patents")]
    years_of = (report_year - 2, report_year - 1, report_year)
    for c0 in _chunks(n, progress, "enterprises"):
        uniforms = rng.random((min(CHUNK, n - c0), 40)).tolist()
        rows = zip(*(a[c0: c0 + CHUNK].tolist() for a in columns), strict=True)  # Python values, chunk-wise
        for k, row in enumerate(rows):
            i = c0 + k
            (dist, place, ind, tier, boards, quals, listing, revenue, growth, rd, employees, patents,
             status, age, years, cap, disc, created, h_rev, h_np, h_g, h_rd, h_emp, h_pat) = row
            d = Dice(uniforms[k], rng)
            industry = INDUSTRIES[ind]
            tier_code = TIER_CODES[tier]
            if dist >= 0:
                district = DISTRICTS[dist]
                city, province, place_zh = "重庆", "重庆", district.zh
                if LIANGJIANG[dist] and d.chance(0.3):
                    place_zh = "两江新区"
            else:
                province, city, _ = OUTSIDE_PLACES[place]
                place_zh = city + "市"
            name, short, en = enterprise_name(d, seen, industry=industry.code, city=city, tier=tier_code)
            qual_codes = _flags(quals, _QUAL_CODES)
            listing_code = _LISTING_CODES[listing]
            facts = EnterpriseFacts(name, short, place_zh, industry.code, industry.zh, industry.keywords,
                                    founded[i].year, max(1, int(age)), tier_code, qual_codes, listing_code,
                                    patents, rd, revenue, growth, employees, report_year)
            out.append(Enterprise(
                name=name, credit_code=codes[i], source="generator", external_id=f"s{seed}-ent-{i:07d}",
                short_name=short, name_en=en, district_code=DISTRICTS[dist].code if dist >= 0 else None,
                province=province, country="CN", city=city, industry_code=industry.code, tier=tier_code,
                boards=_flags(boards, _BOARD_CODES), qualifications=qual_codes, listing_target=listing_code,
                description=describe_enterprise(d, facts), founded_on=founded[i], registered_capital=cap,
                disclosure=_DISCLOSURE[disc], status=_STATUS[status],
                financials=[Financials(years_of[y], h_rev[y], h_np[y], h_g[y], h_rd[y], h_emp[y], h_pat[y])
                            for y in range(3 - years, 3)],
                created_at=start + timedelta(days=created, seconds=int(d.random() * 86400)),
            ))
    return out


def need_records(rng: np.random.Generator, needs: NeedTable, enterprises: list[Enterprise], outcome: Outcomes,
                 *, seed: int, start: datetime, days: int) -> list[Need]:
    """Needs with statuses that follow from the funnel: raised → closed, deep talks → in negotiation."""
    n = len(needs)
    raised, depth = outcome.raised[:n], outcome.depth[:n]
    expired = needs.close_day < days
    fate = rng.random(n)
    # Past its closing date a need was withdrawn, closed off the platform, or simply left open.
    status = np.where(raised >= 0.6 * needs.amount, "closed",
                      np.where(depth >= 5, "in_progress",
                               np.where(expired & (fate < 0.35), "withdrawn",
                                        np.where(expired & (fate < 0.65), "closed", "open"))))
    status = np.where((status == "open") & (fate > 0.98), "withdrawn", status)
    uniforms = rng.random((n, 6)).tolist()
    out = []
    day0 = start.date()
    for k, (e, ins, amount, rnd, o, c, st) in enumerate(zip(*(a.tolist() for a in (
            needs.enterprise, needs.instrument, needs.amount, needs.round, needs.open_day, needs.close_day,
            status)), strict=True)):
        ent = enterprises[e]
        d = Dice(uniforms[k], rng)
        instrument = _INSTR_CODES[ins]
        out.append(Need(ref=f"s{seed}-need-{k:07d}", enterprise_key=ent.key, instrument=instrument,
                        amount=amount, round=_ROUND_CODES[rnd], status=st, opened_on=day0 + timedelta(days=o),
                        closes_on=day0 + timedelta(days=c),
                        use_of_funds=use_of_funds(d, instrument, ent.industry_code or "software")))
    return out


def secondary_records(rng: np.random.Generator, sec: SecondaryTable, investors: list[Investor],
                      brands: list[str], enterprises: list[Enterprise], outcome: Outcomes, first_item: int, *,
                      seed: int, start: datetime) -> list[Secondary]:
    """Listings; old shares take their status from the funnel, fund interests from a draw."""
    n = len(sec)
    codes = SECONDARY_STATUSES.codes
    drawn = rng.choice(len(codes), size=n, p=[0.55, 0.15, 0.2, 0.1])
    item = first_item + np.cumsum(sec.kind) - 1  # old-share listings follow the needs in item order
    raised = np.where(sec.kind == 1, outcome.raised[np.minimum(item, len(outcome.raised) - 1)], 0)
    depth = np.where(sec.kind == 1, outcome.depth[np.minimum(item, len(outcome.depth) - 1)], -1)
    from_funnel = np.where(raised >= 0.5 * sec.asking, 2, np.where(depth >= 6, 1, 0))
    status = np.where(sec.kind == 0, drawn, from_funnel)
    status = np.where(sec.withdrawn_day >= 0, 3, status)
    uniforms = rng.random((n, 8)).tolist()
    out = []
    for k in range(n):
        d = Dice(uniforms[k], rng)
        seller = investors[int(sec.seller[k])]
        common = dict(ref=f"s{seed}-sec-{k:06d}", seller_name=seller.name, seller_investor_key=seller.key,
                      asking_price=float(sec.asking[k]), nav=float(sec.nav[k]), status=codes[int(status[k])],
                      listed_on=start.date() + timedelta(days=int(sec.listed_day[k])))
        if sec.kind[k] == 0:
            fund = seller.name if seller.name.endswith("（有限合伙）") else (
                f"{brands[int(sec.seller[k])]}{d.pick(_ORDINAL)}期股权投资基金合伙企业（有限合伙）")
            vintage = int(sec.vintage[k])
            out.append(Secondary(kind="fund_interest", fund_name=fund, vintage=vintage,
                                 description=fund_interest_text(d, fund_name=fund, nav=float(sec.nav[k]),
                                                                vintage=vintage), **common))  # type: ignore[arg-type]
        else:
            ent = enterprises[int(sec.enterprise[k])]
            pct = float(sec.pct[k])
            out.append(Secondary(kind="old_shares", enterprise_key=ent.key,
                                 description=old_shares_text(d, short=ent.short_name or ent.name, pct=pct,
                                                             valuation=float(sec.nav[k]) * 100 / pct),
                                 **common))  # type: ignore[arg-type]
    return out


def event_records(ev: EventArrays, items: Items, investors: list[Investor], enterprises: list[Enterprise],
                  needs: list[Need], secondaries: list[Secondary], *, seed: int, start: datetime,
                  progress: bool = False) -> list[Event]:
    """Events in time order, keyed ``gen-<seed>-<n>``."""
    order = np.lexsort((ev.kind, ev.item, ev.investor, ev.t))
    fields = ("investor", "item", "kind", "t", "by_enterprise", "amount", "lead")
    columns = [getattr(ev, f)[order] for f in fields]
    inv_keys = [x.key for x in investors]
    item_ent = [enterprises[e].key for e in items.enterprise.tolist()]
    item_need = [needs[k].ref if k >= 0 else None for k in items.need.tolist()]
    item_sec = [secondaries[k].ref if k >= 0 else None for k in items.secondary.tolist()]
    item_round = [_ROUND_CODES[r] for r in items.round.tolist()]
    kinds = EVENT_TYPES.codes
    invested = kinds.index("invested")
    base = start.timestamp()
    tz = start.tzinfo
    out = []
    for c0 in _chunks(len(order), progress, "events", EVENT_CHUNK):
        rows = zip(*(a[c0: c0 + EVENT_CHUNK].tolist() for a in columns), strict=True)
        for n, (i, j, kind, t, by_ent, amount, lead) in enumerate(rows, start=c0):
            is_inv = kind == invested
            out.append(Event(
                event_key=f"gen-{seed}-{n:08d}", investor_key=inv_keys[i], enterprise_key=item_ent[j],
                event_type=kinds[kind], occurred_at=datetime.fromtimestamp(base + t, tz),
                actor="enterprise" if by_ent else "investor", need_ref=item_need[j],
                secondary_ref=item_sec[j], source="generator", amount=amount if is_inv else None,
                currency="CNY" if is_inv else None, round=item_round[j] if is_inv else None,
                lead=None if lead < 0 else bool(lead)))
    return out
