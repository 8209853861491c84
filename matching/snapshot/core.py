"""A columnar, in-memory view of the market that every matching step reads.

The edges build a :class:`MarketSnapshot` from records (the generator's, or rows read from the
database); the core never queries a database. Categorical fields become small integer codes and
sets become bit masks, so constraints and features are vectorised NumPy over all candidates.

Ids: each party has an external ``id`` (the database id, or a position for generated markets);
arrays are indexed by *row*. ``enterprise_row`` / ``investor_row`` / ``need_row`` map ids to rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from matching.domain import regions, vocab
from matching.domain.records import Enterprise, Event, Investor, Mandate, Need, Secondary
from matching.snapshot.profiles import described, enterprise_text, mandate_text
from matching.snapshot.sectors import SectorCodes
from matching.snapshot.shared import NO_KEYS, interned, key_set

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = 86400.0


def _codes(v: vocab.Vocabulary) -> dict[str, int]:
    return {c: i for i, c in enumerate(v.codes)}


TIER = _codes(vocab.TIERS)
BOARD = _codes(vocab.BOARDS)
QUAL = _codes(vocab.QUALIFICATIONS)
INSTR = _codes(vocab.INSTRUMENTS)
ROUND = _codes(vocab.ROUNDS)
ITYPE = _codes(vocab.INVESTOR_TYPES)
REGION = _codes(vocab.REGION_SCOPES)
EVENT = _codes(vocab.EVENT_TYPES)
DEBT_MASK = sum(1 << INSTR[c] for c in vocab.DEBT_INSTRUMENTS)
EQUITY_MASK = 1 << INSTR["equity"]
GRADES = np.array([vocab.EVENT_GRADES[c] for c in vocab.EVENT_TYPES.codes], dtype=np.int8)


def mask_of(values: Sequence[str], codes: dict[str, int]) -> int:
    """Bit mask of a set of codes (unknown codes are ignored)."""
    m = 0
    for v in values:
        i = codes.get(v)
        if i is not None:
            m |= 1 << i
    return m


def to_days(when: datetime | date | None) -> float:
    """Days since 1970-01-01 UTC (``nan`` for ``None``)."""
    if when is None:
        return float("nan")
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH).total_seconds() / DAY


@dataclass(frozen=True, eq=False)
class AsOf:
    """What makes a snapshot a view of another at a past moment (:func:`matching.snapshot.asof.snapshot_at`).

    Attributes:
        source: the snapshot the view was made from (today's mandates).
        rows: investor rows whose mandate columns differ from ``source``'s (the versions valid then).
    """

    source: MarketSnapshot
    rows: np.ndarray


@dataclass(frozen=True, eq=False)
class MarketSnapshot:
    """Columnar market state, never changed once built. Build with :func:`build_snapshot`; a variant (a
    past period's mandates or statuses, serving's slim copy) is a new snapshot made with
    :func:`dataclasses.replace`, and tables computed from one live beside it (:mod:`matching.snapshot.derived`)."""

    sectors: SectorCodes
    # enterprises
    ent_id: np.ndarray
    ent_key: list[str]
    ent_name: list[str]
    ent_sector: np.ndarray
    ent_cluster: np.ndarray
    ent_tier: np.ndarray
    ent_boards: np.ndarray
    ent_quals: np.ndarray
    ent_district: list[str | None]
    ent_province: list[str | None]
    ent_country: list[str]
    ent_region_mask: np.ndarray  # which region scopes contain the enterprise
    ent_active: np.ndarray
    ent_created: np.ndarray  # days
    ent_founded: np.ndarray  # days
    ent_revenue: np.ndarray
    ent_growth: np.ndarray
    ent_rd: np.ndarray
    ent_patents: np.ndarray
    ent_employees: np.ndarray
    ent_excl_types: np.ndarray  # mask over investor types
    ent_excl_investors: list[frozenset[str]]
    ent_text: list[str]
    ent_record: list[Enterprise]
    # needs
    need_id: np.ndarray
    need_ref: list[str]
    need_ent: np.ndarray  # enterprise row
    need_instr: np.ndarray
    need_amount: np.ndarray  # in CNY-equivalent yuan
    need_round: np.ndarray  # -1 unknown
    need_open: np.ndarray  # status open / in_progress
    need_opened: np.ndarray  # days
    need_closes: np.ndarray  # days (nan = no deadline)
    need_record: list[Need]
    # investors (with the mandate current at snapshot time)
    inv_id: np.ndarray
    inv_key: list[str]
    inv_name: list[str]
    inv_type: np.ndarray
    inv_active: np.ndarray
    inv_district: list[str | None]
    inv_aum: np.ndarray
    inv_record: list[Investor]
    man_sectors: list[frozenset[int]]
    man_clusters: list[frozenset[int]]
    man_excluded_sectors: list[frozenset[int]]
    man_excluded_ents: list[frozenset[str]]
    man_stages: np.ndarray  # mask, 0 = any
    man_tiers: np.ndarray  # mask, 0 = any
    man_boards: np.ndarray  # mask, 0 = any
    man_instr: np.ndarray  # mask (never 0: empty means equity)
    man_regions: np.ndarray  # mask, 0 = any
    man_districts: list[frozenset[str]]
    man_ticket_min: np.ndarray  # nan = open
    man_ticket_max: np.ndarray
    man_reinvest: np.ndarray
    man_text: list[str]
    man_record: list[Mandate | None]
    # secondaries
    sec_id: np.ndarray
    sec_record: list[Secondary]
    sec_ent: np.ndarray  # enterprise row or -1
    sec_open: np.ndarray
    # funnel history (sorted by time)
    ev_inv: np.ndarray
    ev_ent: np.ndarray
    ev_type: np.ndarray
    ev_grade: np.ndarray
    ev_time: np.ndarray  # days
    ev_need: np.ndarray  # need row or -1
    ev_round: np.ndarray  # the event's round code (else its need's round), -1 unknown
    as_of: float = float("nan")  # days; the snapshot's "now"
    #: per investor: has a written mandate or description; the others are described by their portfolio
    #: (empty: every investor is described)
    inv_described: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: every mandate version (by version number) of investors whose mandate changed or started at a known
    #: time: training reads the one valid at each period (:func:`matching.snapshot.asof.snapshot_at`)
    man_versions: dict[int, list[Mandate]] = field(default_factory=dict)
    #: every reported financial year: rows ``(enterprise row, year, revenue, growth, R&D ratio, patents)``
    #: sorted by enterprise and year (features read the years reported by then: matching.snapshot.asof.financials_at)
    fin_hist: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))
    #: set on a view of another snapshot at a past moment (its revised mandate rows), else ``None``
    view_of: AsOf | None = None
    #: ``False`` on serving's copy (:func:`slim_for_serving`): no enterprise records, profile or mandate texts
    records_kept: bool = True
    enterprise_row: dict[int, int] = field(init=False, repr=False)
    investor_row: dict[int, int] = field(init=False, repr=False)
    need_row: dict[int, int] = field(init=False, repr=False)
    ent_key_row: dict[str, int] = field(init=False, repr=False)
    inv_key_row: dict[str, int] = field(init=False, repr=False)
    #: tables computed from this snapshot alone, kept beside its columns (:func:`matching.snapshot.derived.derived`)
    derived_tables: dict[str, Any] = field(init=False, repr=False, default_factory=dict)

    @property
    def n_enterprises(self) -> int:
        """Number of enterprises."""
        return len(self.ent_id)

    @property
    def n_investors(self) -> int:
        """Number of investors."""
        return len(self.inv_id)

    def needs_of(self, ent_row: int) -> np.ndarray:
        """Need rows of an enterprise."""
        if not 0 <= ent_row < len(self._need_bounds) - 1:
            return _EMPTY
        return self._need_order[self._need_bounds[ent_row]:self._need_bounds[ent_row + 1]]

    def events_before(self, when: float) -> slice:
        """The slice of the (time-sorted) event arrays strictly before ``when`` (days)."""
        return slice(0, int(np.searchsorted(self.ev_time, when, side="left")))

    def __post_init__(self) -> None:
        # the id maps are part of the snapshot (built once, here): frozen, so set through object.__setattr__
        order = np.argsort(self.need_ent, kind="stable")
        bounds = np.searchsorted(self.need_ent[order], np.arange(self.n_enterprises + 1))
        for name, value in (("enterprise_row", {int(x): i for i, x in enumerate(self.ent_id)}),
                            ("investor_row", {int(x): i for i, x in enumerate(self.inv_id)}),
                            ("need_row", {int(x): i for i, x in enumerate(self.need_id)}),
                            ("ent_key_row", {k: i for i, k in enumerate(self.ent_key)}),
                            ("inv_key_row", {k: i for i, k in enumerate(self.inv_key)}),
                            # need rows by enterprise as two arrays (not a dict of a million small arrays: those
                            # cost memory in every worker and seconds to map, matching.serving.mapped)
                            ("_need_order", order.astype(np.int64)), ("_need_bounds", bounds.astype(np.int64))):
            object.__setattr__(self, name, value)


_EMPTY = np.zeros(0, dtype=np.int64)
FX_TO_CNY = {"CNY": 1.0, "USD": 7.1, "HKD": 0.91, "EUR": 7.7}


def _num(v: float | int | None) -> float:
    return np.nan if v is None else float(v)


def _latest_fin(e: Enterprise) -> tuple[float, float, float, float, float]:
    if not e.financials:
        return (np.nan,) * 5  # type: ignore[return-value]
    f = max(e.financials, key=lambda x: x.year)
    return _num(f.revenue), _num(f.revenue_growth), _num(f.rd_ratio), _num(f.patents), _num(f.employees)


def _cny(m: Mandate, amount: float | None) -> float:
    return np.nan if amount is None else amount * FX_TO_CNY.get(m.currency, 1.0)


def _current_mandates(mandates: Sequence[Mandate], as_of: float) -> dict[str, Mandate]:
    """The mandate version valid at ``as_of`` per investor key (the newest started before it)."""
    best: dict[str, Mandate] = {}
    for m in mandates:
        start = to_days(m.valid_from) if m.valid_from else -np.inf
        if start > as_of:
            continue
        cur = best.get(m.investor_key)
        if cur is None or m.version > cur.version:
            best[m.investor_key] = m
    return best


def mandate_columns(sectors: SectorCodes, investors: Sequence[Investor], man: Sequence[Mandate | None]
                    ) -> dict[str, Any]:
    """The snapshot's mandate columns (``man_*``, ``inv_described``) of investors and their mandates."""
    man_sectors = [frozenset(sectors.index[s] for s in (m.sectors if m else []) if s in sectors.index)
                   | frozenset(sectors.code(None, s) for s in (m.sectors_raw if m else [])) for m in man]
    return dict(
        man_sectors=man_sectors,
        man_clusters=[frozenset(sectors.cluster[s] for s in ss if sectors.cluster[s] >= 0) for ss in man_sectors],
        man_excluded_sectors=[frozenset(sectors.index[s] for s in (m.excluded_sectors if m else [])
                                        if s in sectors.index) for m in man],
        man_excluded_ents=[key_set(m.excluded_enterprises) if m else NO_KEYS for m in man],
        man_stages=np.array([mask_of(m.stages, ROUND) if m else 0 for m in man], dtype=np.int64),
        man_tiers=np.array([mask_of(m.tiers, TIER) if m else 0 for m in man], dtype=np.int64),
        man_boards=np.array([mask_of(m.boards, BOARD) if m else 0 for m in man], dtype=np.int64),
        man_instr=np.array([(mask_of(m.instruments, INSTR) if m else 0) or EQUITY_MASK for m in man], dtype=np.int64),
        man_regions=np.array([mask_of(m.regions, REGION) if m else 0 for m in man], dtype=np.int64),
        man_districts=[key_set(m.districts) if m else NO_KEYS for m in man],
        man_ticket_min=np.array([_cny(m, m.ticket_min) if m else np.nan for m in man], dtype=np.float64),
        man_ticket_max=np.array([_cny(m, m.ticket_max) if m else np.nan for m in man], dtype=np.float64),
        man_reinvest=np.array([np.nan if not m or m.local_reinvest_ratio is None else m.local_reinvest_ratio
                               for m in man], dtype=np.float64),
        man_text=[mandate_text(i, m) for i, m in zip(investors, man, strict=True)],
        man_record=list(man),
        inv_described=np.array([described(i, m) for i, m in zip(investors, man, strict=True)], dtype=bool),
    )


def build_snapshot(
    enterprises: Sequence[Enterprise],
    investors: Sequence[Investor],
    mandates: Sequence[Mandate] = (),
    needs: Sequence[Need] = (),
    secondaries: Sequence[Secondary] = (),
    events: Sequence[Event] = (),
    *,
    enterprise_ids: Sequence[int] | None = None,
    investor_ids: Sequence[int] | None = None,
    need_ids: Sequence[int] | None = None,
    secondary_ids: Sequence[int] | None = None,
    as_of: datetime | None = None,
) -> MarketSnapshot:
    """Build a snapshot from records.

    Args:
        enterprise_ids, investor_ids, need_ids, secondary_ids: external ids (database ids); by
            default positions ``0..n-1``.
        as_of: the snapshot's "now": mandates valid then, events strictly before it. Default:
            after the last event (everything known).
    """
    sectors = SectorCodes()
    evs = sorted(events, key=lambda e: (to_days(e.occurred_at), e.event_key))
    now = to_days(as_of) if as_of else (to_days(evs[-1].occurred_at) + 1e-6 if evs else to_days(datetime.now(UTC)))
    evs = [e for e in evs if to_days(e.occurred_at) < now]
    n_e = len(enterprises)
    fin = np.array([_latest_fin(e) for e in enterprises], dtype=np.float64).reshape(n_e, 5)
    ent_sector = np.array([sectors.code(e.industry_code, e.industry_raw) for e in enterprises], dtype=np.int32)
    ent_key = [e.key for e in enterprises]
    ent_key_row = {k: i for i, k in enumerate(ent_key)}
    cur = _current_mandates(mandates, now)
    inv_key = [i.key for i in investors]
    inv_key_row = {k: i for i, k in enumerate(inv_key)}
    man = [cur.get(k) for k in inv_key]
    for m in mandates:  # every version's raw sectors get their codes now (as-of views reuse these codes)
        for raw in m.sectors_raw:
            sectors.code(None, raw)
    need_list = list(needs)
    sec_list = list(secondaries)
    need_ref_row = {n.ref: i for i, n in enumerate(need_list)}
    ev_need = np.array([need_ref_row.get(e.need_ref or "", -1) for e in evs], dtype=np.int64)
    need_round = np.array([ROUND.get(n.round or "", -1) for n in need_list], dtype=np.int8)
    ev_round = np.array([ROUND.get(e.round or "", -1) for e in evs], dtype=np.int8)
    has_need = (ev_round < 0) & (ev_need >= 0)  # an event without a round of its own takes its need's
    ev_round[has_need] = need_round[ev_need[has_need]]
    hist = [(r, f.year, _num(f.revenue), _num(f.revenue_growth), _num(f.rd_ratio), _num(f.patents))
            for r, e in enumerate(enterprises) for f in e.financials]
    versions: dict[int, list[Mandate]] = {}
    for m in mandates:
        if m.investor_key in inv_key_row:
            versions.setdefault(inv_key_row[m.investor_key], []).append(m)
    return MarketSnapshot(
        sectors=sectors,
        ent_id=np.asarray(enterprise_ids if enterprise_ids is not None else np.arange(n_e), dtype=np.int64),
        ent_key=ent_key,
        ent_name=[e.name for e in enterprises],
        ent_sector=ent_sector,
        ent_cluster=np.array([sectors.cluster[s] if s >= 0 else -1 for s in ent_sector], dtype=np.int32),
        ent_tier=np.array([TIER.get(e.tier, 0) for e in enterprises], dtype=np.int8),
        ent_boards=np.array([mask_of(e.boards, BOARD) for e in enterprises], dtype=np.int64),
        ent_quals=np.array([mask_of(e.qualifications, QUAL) for e in enterprises], dtype=np.int64),
        ent_district=interned(e.district_code for e in enterprises),
        ent_province=interned(e.province for e in enterprises),
        ent_country=interned(e.country for e in enterprises),
        ent_region_mask=np.array([sum(1 << REGION[s] for s in vocab.REGION_SCOPES.codes if regions.in_scope(
            s, district_code=e.district_code, province=e.province, country=e.country)) for e in enterprises],
            dtype=np.int64),
        ent_active=np.array([e.status == "active" for e in enterprises], dtype=bool),
        ent_created=np.array([to_days(e.created_at) for e in enterprises], dtype=np.float64),
        ent_founded=np.array([to_days(e.founded_on) for e in enterprises], dtype=np.float64),
        ent_revenue=fin[:, 0], ent_growth=fin[:, 1], ent_rd=fin[:, 2], ent_patents=fin[:, 3], ent_employees=fin[:, 4],
        ent_excl_types=np.array([mask_of(e.excluded_investor_types, ITYPE) for e in enterprises], dtype=np.int64),
        ent_excl_investors=[key_set(e.excluded_investors) for e in enterprises],
        # needs stay out of the profile text: their status changes over time and the text is not versioned,
        # so today's open needs in a text would tell training which needs were still open later (a leak)
        ent_text=[enterprise_text(e) for e in enterprises],
        ent_record=list(enterprises),
        need_id=np.asarray(need_ids if need_ids is not None else np.arange(len(need_list)), dtype=np.int64),
        need_ref=[n.ref for n in need_list],
        need_ent=np.array([ent_key_row.get(n.enterprise_key, -1) for n in need_list], dtype=np.int64),
        need_instr=np.array([INSTR[n.instrument] for n in need_list], dtype=np.int8),
        need_amount=np.array([n.amount * FX_TO_CNY.get(n.currency, 1.0) for n in need_list], dtype=np.float64),
        need_round=need_round,
        need_open=np.array([n.status in vocab.LIVE_NEED_STATUSES for n in need_list], dtype=bool),
        need_opened=np.array([to_days(n.opened_on) for n in need_list], dtype=np.float64),
        need_closes=np.array([to_days(n.closes_on) for n in need_list], dtype=np.float64),
        need_record=need_list,
        inv_id=np.asarray(investor_ids if investor_ids is not None else np.arange(len(investors)), dtype=np.int64),
        inv_key=inv_key,
        inv_name=[i.name for i in investors],
        inv_type=np.array([ITYPE[i.investor_type] for i in investors], dtype=np.int8),
        inv_active=np.array([i.status != "inactive" for i in investors], dtype=bool),
        inv_district=interned(i.district_code for i in investors),
        inv_aum=np.array([np.nan if i.aum is None else i.aum for i in investors], dtype=np.float64),
        inv_record=list(investors),
        **mandate_columns(sectors, investors, man),
        sec_id=np.asarray(secondary_ids if secondary_ids is not None else np.arange(len(sec_list)), dtype=np.int64),
        sec_record=sec_list,
        sec_ent=np.array([ent_key_row.get(s.enterprise_key or "", -1) for s in sec_list], dtype=np.int64),
        sec_open=np.array([s.status in ("open", "under_offer") for s in sec_list], dtype=bool),
        ev_inv=np.array([inv_key_row.get(e.investor_key, -1) for e in evs], dtype=np.int64),
        ev_ent=np.array([ent_key_row.get(e.enterprise_key, -1) for e in evs], dtype=np.int64),
        ev_type=np.array([EVENT[e.event_type] for e in evs], dtype=np.int8),
        ev_grade=np.array([vocab.EVENT_GRADES[e.event_type] for e in evs], dtype=np.int8),
        ev_time=np.array([to_days(e.occurred_at) for e in evs], dtype=np.float64),
        ev_need=ev_need,
        ev_round=ev_round,
        as_of=now,
        man_versions={r: sorted(vs, key=lambda m: m.version) for r, vs in versions.items()
                      if len(vs) > 1 or vs[0].valid_from is not None},
        fin_hist=np.array(sorted(hist, key=lambda h: (h[0], h[1])), dtype=np.float64).reshape(-1, 6),
    )


def slim_for_serving(snap: MarketSnapshot) -> MarketSnapshot:
    """The snapshot serving keeps once the texts are embedded: without the enterprise records (about 60 %
    of a snapshot's memory) and the profile and mandate texts (:attr:`MarketSnapshot.records_kept` is
    ``False``). Lists, explanations and filters read the columns; profile pages read the database."""
    return replace(snap, ent_record=[], ent_text=[], man_text=[], records_kept=False)
