"""The support-programme record (扶持政策): who offers it, what kind, whom it is for, how much, until when.

A programme is keyed by its ``ref`` (re-importing a file changes nothing). Its eligibility rules are
plain fields; an empty list or ``None`` means "no rule on this". Lists are *any of*: a programme for
``boards = ["srdi", "sci_tech"]`` takes an enterprise on either board. Amounts are in yuan, as every
record (the import takes ``50万`` or a ``(万元)`` header). The rules are evaluated by
:mod:`matching.programmes.eligibility`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(slots=True)
class Programme:
    """One support programme (扶持政策) and its eligibility rules.

    Attributes:
        ref: unique reference (the natural key).
        name: the programme's name.
        issuer: who offers it (a district office, a municipal bureau, a guarantee fund, …).
        kind: a :data:`matching.domain.vocab.PROGRAMME_KINDS` code.
        districts: Chongqing district codes the enterprise must be registered in (any of; empty = any).
        tiers: tier codes (any of; empty = any).
        boards: special board codes (any of; empty = any).
        qualifications: qualification codes (any of; empty = any).
        industries: industry codes of the 33618 taxonomy (any of; empty = any).
        min_employees, max_employees: headcount band of the latest reported year (inclusive).
        min_revenue, max_revenue: revenue band of the latest reported year, yuan (inclusive).
        min_age_years, max_age_years: years since founding on the day of evaluation (inclusive).
        max_amount: the most one enterprise may receive, yuan.
        opens_on, closes_on: application window (inclusive; ``None`` = open-ended).
        link: where to read the policy and apply.
        description: free text (what is funded, how to apply).
        is_sample: the record is demonstration data, not a real policy.
    """

    ref: str
    name: str
    issuer: str
    kind: str
    districts: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    boards: list[str] = field(default_factory=list)
    qualifications: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    min_employees: int | None = None
    max_employees: int | None = None
    min_revenue: float | None = None
    max_revenue: float | None = None
    min_age_years: float | None = None
    max_age_years: float | None = None
    max_amount: float | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    link: str | None = None
    description: str = ""
    is_sample: bool = False
