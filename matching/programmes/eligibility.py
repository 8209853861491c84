"""Who qualifies for a support programme: every rule checked over all enterprises at once.

:class:`EnterpriseColumns` holds the few enterprise columns the rules read (built from a snapshot,
:meth:`EnterpriseColumns.from_snapshot`, or from records, :meth:`EnterpriseColumns.from_records`);
:func:`evaluate` checks one programme's rules over them as NumPy arrays and returns a
:class:`ProgrammeEligibility`: per enterprise, whether it *qualifies* (every rule met), is a *near
miss* (exactly one rule failed, and, when that rule is a number, by at most :data:`NEAR_MARGIN` of the
threshold or because the figure was never reported), and what is missing, worded in Chinese and English
(:meth:`ProgrammeEligibility.missing`).

Figures are the latest reported financial year's; age is counted in years (365.25 days) from the
founding date to the day of evaluation. Every bound is inclusive. Inactive enterprises (停业/注销, or
already listed) never qualify and are never near misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from matching.domain import industries, regions, vocab
from matching.domain.programme import Programme
from matching.domain.records import Enterprise
from matching.snapshot.core import BOARD, QUAL, TIER, MarketSnapshot, mask_of, to_days

#: A numeric rule failed by at most this share of its threshold still makes a near miss.
NEAR_MARGIN = 0.20
DAYS_PER_YEAR = 365.25
STATUSES = ("qualifies", "near_miss", "not_eligible")


@dataclass(frozen=True, eq=False)
class EnterpriseColumns:
    """The enterprise columns programme rules read, row-aligned.

    Attributes:
        ids: enterprise ids (database ids, or positions).
        district: district code or ``None`` (object array).
        tier: index into :data:`matching.domain.vocab.TIERS` codes.
        boards, quals: bit masks over BOARDS and QUALIFICATIONS codes.
        industry: industry code or ``None`` (object array).
        employees, revenue: the latest reported year's figures (``nan`` when not reported).
        founded: founding date in days since 1970-01-01 (``nan`` when unknown).
        active: status ``active``.
    """

    ids: np.ndarray
    district: np.ndarray
    tier: np.ndarray
    boards: np.ndarray
    quals: np.ndarray
    industry: np.ndarray
    employees: np.ndarray
    revenue: np.ndarray
    founded: np.ndarray
    active: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_snapshot(cls, snap: MarketSnapshot) -> EnterpriseColumns:
        """The columns of a market snapshot (its ids are the database ids)."""
        names = snap.sectors.names
        industry = [names[s] if s >= 0 and not names[s].startswith("raw:") else None for s in snap.ent_sector]
        return cls(ids=np.asarray(snap.ent_id, dtype=np.int64), district=_objects(snap.ent_district),
                   tier=np.asarray(snap.ent_tier, dtype=np.int8), boards=np.asarray(snap.ent_boards, dtype=np.int64),
                   quals=np.asarray(snap.ent_quals, dtype=np.int64), industry=_objects(industry),
                   employees=np.asarray(snap.ent_employees, dtype=np.float64),
                   revenue=np.asarray(snap.ent_revenue, dtype=np.float64),
                   founded=np.asarray(snap.ent_founded, dtype=np.float64), active=np.asarray(snap.ent_active, bool))

    @classmethod
    def from_records(cls, enterprises: Sequence[Enterprise], ids: Sequence[int] | None = None) -> EnterpriseColumns:
        """The columns of enterprise records (``ids`` default to positions)."""
        latest = [max(e.financials, key=lambda f: f.year) if e.financials else None for e in enterprises]
        return cls(
            ids=np.asarray(ids if ids is not None else range(len(enterprises)), dtype=np.int64),
            district=_objects([e.district_code for e in enterprises]),
            tier=np.array([TIER.get(e.tier, 0) for e in enterprises], dtype=np.int8),
            boards=np.array([mask_of(e.boards, BOARD) for e in enterprises], dtype=np.int64),
            quals=np.array([mask_of(e.qualifications, QUAL) for e in enterprises], dtype=np.int64),
            industry=_objects([e.industry_code for e in enterprises]),
            employees=np.array([_num(f.employees if f else None) for f in latest], dtype=np.float64),
            revenue=np.array([_num(f.revenue if f else None) for f in latest], dtype=np.float64),
            founded=np.array([to_days(e.founded_on) for e in enterprises], dtype=np.float64),
            active=np.array([e.status == "active" for e in enterprises], dtype=bool))


def _objects(values: Sequence[object]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _num(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Missing:
    """One rule an enterprise does not meet.

    Attributes:
        rule: the programme field behind it (``districts``, ``min_revenue``, …).
        zh, en: what is missing, for the enterprise to read.
        gap: for a number, the shortfall as a share of the threshold (0.15 = 15 % short); ``None`` for a
            list rule or a figure not reported.
        unknown: the figure is not reported (reporting it may be all that is missing).
    """

    rule: str
    zh: str
    en: str
    gap: float | None = None
    unknown: bool = False


@dataclass(frozen=True, eq=False)
class ProgrammeEligibility:
    """One programme's rules over all enterprises (rows as in the :class:`EnterpriseColumns`).

    Attributes:
        programme: the programme.
        columns: the enterprise columns evaluated.
        today: the day of evaluation (ages are counted to it).
        rules: the programme's rules, in the order of :data:`RULES` (only those it sets).
        fails: ``(rules, enterprises)`` whether each rule fails.
        unknown: ``(rules, enterprises)`` failed because the figure is not reported.
        gaps: ``(rules, enterprises)`` relative shortfall of a failed numeric rule (``nan`` otherwise).
    """

    programme: Programme
    columns: EnterpriseColumns
    today: date
    rules: tuple[str, ...]
    fails: np.ndarray
    unknown: np.ndarray
    gaps: np.ndarray

    @property
    def failed_count(self) -> np.ndarray:
        """Rules failed per enterprise."""
        return self.fails.sum(axis=0)

    @property
    def qualifies(self) -> np.ndarray:
        """Every rule met, and the enterprise active."""
        return self.columns.active & (self.failed_count == 0)

    @property
    def near_miss(self) -> np.ndarray:
        """Exactly one rule failed: a list rule, a figure not reported, or a number by ≤ :data:`NEAR_MARGIN`."""
        if not self.rules:
            return np.zeros(len(self.columns), dtype=bool)
        close = ~self.fails | self.unknown | np.isnan(self.gaps) | (self.gaps <= NEAR_MARGIN + 1e-9)
        return self.columns.active & (self.failed_count == 1) & close.all(axis=0)

    def status(self, row: int) -> str:
        """``qualifies``, ``near_miss`` or ``not_eligible`` for one enterprise row."""
        if self.qualifies[row]:
            return "qualifies"
        return "near_miss" if self.near_miss[row] else "not_eligible"

    def missing(self, row: int) -> list[Missing]:
        """What one enterprise lacks, in rule order (empty when it qualifies)."""
        from matching.programmes.wording import describe  # the wording reads the rules' values

        return [describe(self.programme, rule, self.columns, row, self.today, bool(self.unknown[i, row]),
                         None if np.isnan(self.gaps[i, row]) else float(self.gaps[i, row]))
                for i, rule in enumerate(self.rules) if self.fails[i, row]]


#: Every rule a programme may set, in the order they are checked and shown.
RULES = ("districts", "tiers", "boards", "qualifications", "industries", "min_employees", "max_employees",
         "min_revenue", "max_revenue", "min_age_years", "max_age_years")


def ages(columns: EnterpriseColumns, today: date) -> np.ndarray:
    """Years since founding on ``today`` (``nan`` where the founding date is unknown)."""
    return (to_days(today) - columns.founded) / DAYS_PER_YEAR


def _numeric(values: np.ndarray, bound: float, at_least: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    unknown = np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        short = (bound - values) if at_least else (values - bound)
        fails = unknown | (short > 1e-9 * max(abs(bound), 1.0))
        gaps = np.where(fails & ~unknown, short / bound if bound else np.inf, np.nan)
    return fails, unknown, gaps


def evaluate(programme: Programme, columns: EnterpriseColumns, today: date) -> ProgrammeEligibility:
    """Check every rule ``programme`` sets over all enterprises in ``columns``."""
    n = len(columns)
    rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    nothing, no_gap = np.zeros(n, dtype=bool), np.full(n, np.nan)
    if programme.districts:
        rows.append(("districts", ~np.isin(columns.district, list(programme.districts)), nothing, no_gap))
    if programme.tiers:
        rows.append(("tiers", ~np.isin(columns.tier, [TIER[t] for t in programme.tiers]), nothing, no_gap))
    if programme.boards:
        rows.append(("boards", (columns.boards & mask_of(programme.boards, BOARD)) == 0, nothing, no_gap))
    if programme.qualifications:
        rows.append(("qualifications", (columns.quals & mask_of(programme.qualifications, QUAL)) == 0, nothing,
                     no_gap))
    if programme.industries:
        rows.append(("industries", ~np.isin(columns.industry, list(programme.industries)), nothing, no_gap))
    age = ages(columns, today) if programme.min_age_years is not None or programme.max_age_years is not None else None
    for rule, values, bound, at_least in (
            ("min_employees", columns.employees, programme.min_employees, True),
            ("max_employees", columns.employees, programme.max_employees, False),
            ("min_revenue", columns.revenue, programme.min_revenue, True),
            ("max_revenue", columns.revenue, programme.max_revenue, False),
            ("min_age_years", age, programme.min_age_years, True),
            ("max_age_years", age, programme.max_age_years, False)):
        if bound is not None and values is not None:
            fails, unknown, gaps = _numeric(values, float(bound), at_least)
            if not at_least and getattr(programme, "min" + rule[3:]) is not None:
                fails = fails & ~unknown  # a figure not reported is one thing missing, said once (by the min rule)
                unknown = nothing
            rows.append((rule, fails, unknown, gaps))
    order = {r: i for i, r in enumerate(RULES)}
    rows.sort(key=lambda r: order[r[0]])
    def stack(k: int, dtype: type) -> np.ndarray:
        return np.array([r[k] for r in rows], dtype=dtype).reshape(len(rows), n)

    return ProgrammeEligibility(programme, columns, today, tuple(r[0] for r in rows), stack(1, bool),
                                stack(2, bool), stack(3, np.float64))


def evaluate_all(programmes: Sequence[Programme], columns: EnterpriseColumns, today: date
                 ) -> list[ProgrammeEligibility]:
    """:func:`evaluate` for each programme."""
    return [evaluate(p, columns, today) for p in programmes]


def kind_label(code: str, lang: str = "zh") -> str:
    """The label of a programme kind."""
    return vocab.PROGRAMME_KINDS.label(code, lang)


def district_label(code: str | None, lang: str = "zh") -> str:
    """A district's name (``—`` for none)."""
    if not code:
        return "未填" if lang == "zh" else "not given"
    d = regions.district(code)
    return d.zh if lang == "zh" else d.en


def industry_label(code: str | None, lang: str = "zh") -> str:
    """An industry's name (``未填`` / ``not given`` for none)."""
    if not code:
        return "未填" if lang == "zh" else "not given"
    ind = industries.industry(code)
    return ind.zh if lang == "zh" else ind.en
