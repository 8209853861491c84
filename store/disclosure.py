"""What a served list needs to apply disclosure, read in one round trip (:func:`pair_facts`).

Before a list is shown to an investor, the service needs, for the listed enterprises, their disclosure
settings (tier and choice), whether each accepted this investor's contact request (the mutual reveal),
and, for an investor targeting pre-IPO companies, the figures readiness reads. Read separately
(:func:`store.resources.disclosure_settings`, :func:`store.resources.contacts_accepted`,
:func:`store.standards.enterprise_figures`) that was two to four round trips per list; here it is one
statement, read on every request (nothing is cached: a withdrawn disclosure takes effect on the next list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

_ACCEPTED = ("e.id IN (SELECT f.enterprise_id FROM funnel_events f WHERE f.investor_id = %(investor)s "
             "AND f.enterprise_id = ANY(%(ids)s::bigint[]) AND f.event_type = 'contact_accepted' "
             "AND f.actor = 'enterprise')")
# the yearly figures as store.standards.enterprise_figures aggregates them (newest first; [] without any)
_FINANCIALS = ("(SELECT coalesce(json_agg(json_build_object('year', f.year, 'revenue', f.revenue, "
               "'net_profit', f.net_profit, 'revenue_growth', f.revenue_growth, 'rd_ratio', f.rd_ratio, "
               "'employees', f.employees, 'patents', f.patents) ORDER BY f.year DESC), '[]') "
               "FROM enterprise_financials f WHERE f.enterprise_id = e.id)")
_SETTINGS = (f"SELECT e.id, e.tier, e.disclosure, {_ACCEPTED} AS accepted FROM enterprises e "
             "WHERE e.id = ANY(%(ids)s::bigint[])")
_WITH_FIGURES = (f"SELECT e.id, e.tier, e.disclosure, {_ACCEPTED} AS accepted, e.status = 'active' AS active, "
                 f"e.district_code, CASE WHEN e.status = 'active' THEN {_FINANCIALS} END AS financials "
                 "FROM enterprises e WHERE e.id = ANY(%(ids)s::bigint[]) ORDER BY e.id")


@dataclass(frozen=True)
class PairFacts:
    """The disclosure facts of one investor and a list's enterprises.

    Attributes:
        investor_id: the investor the reveals were read for.
        ids: the enterprises asked about (whether they exist or not): facts about any other are not here.
        settings: ``id → (tier, disclosure)`` of the enterprises that exist (as
            :func:`store.resources.disclosure_settings`).
        accepted: the existing enterprises that accepted a contact request of the investor (as
            :func:`store.resources.contacts_accepted`, restricted to enterprises that exist).
        figures: with ``figures=True``, the active enterprises' readiness rows (``id``, ``tier``,
            ``district``, ``disclosure``, ``financials``), in id order, as
            :func:`store.standards.enterprise_figures` returns them; else ``None``.
    """

    investor_id: int
    ids: frozenset[int] = frozenset()
    settings: dict[int, tuple[str, str]] = field(default_factory=dict)
    accepted: frozenset[int] = frozenset()
    figures: list[dict[str, Any]] | None = None


def pair_facts(conn: psycopg.Connection, *, investor_id: int, enterprise_ids: Sequence[int],
               figures: bool = False) -> PairFacts:
    """The disclosure settings, contact reveals (and, with ``figures``, readiness figures) of ``enterprise_ids``
    for ``investor_id``, in one statement (see the module docstring)."""
    ids = sorted({int(i) for i in enterprise_ids})
    if not ids:
        return PairFacts(investor_id, figures=[] if figures else None)
    asked = frozenset(ids)
    rows = conn.execute(_WITH_FIGURES if figures else _SETTINGS, {"investor": investor_id, "ids": ids}).fetchall()
    settings = {int(r[0]): (r[1], r[2]) for r in rows}
    accepted = frozenset(int(r[0]) for r in rows if r[3])
    if not figures:
        return PairFacts(investor_id, asked, settings, accepted)
    shown = [{"id": r[0], "tier": r[1], "district": r[5], "disclosure": r[2], "financials": r[6]}
             for r in rows if r[4]]
    return PairFacts(investor_id, asked, settings, accepted, shown)
