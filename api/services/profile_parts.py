"""Readiness and programmes for the profile export (:mod:`api.services.profile_export`), cut to what the
audience may see.

**Readiness** is the API's (:func:`api.services.readiness.readiness_for`, the standards in force), under the
API's rule: shown only where every figure group it is computed from (:data:`api.services.readiness.NEEDED`)
is disclosed to the audience; otherwise only the codes of the targets withheld are exported.

**Programmes** are :mod:`matching.programmes.eligibility` over the programmes open on the day, evaluated a
batch of enterprises at a time and shown as :func:`api.services.programmes.programme_view` shows them (the
export marks no notice read). A programme's eligibility reads revenue when it sets a revenue band and
employees when it sets a headcount band: a programme reading a figure withheld from the audience
(:mod:`api.disclosure`'s groups) is left out and counted; which programmes those are depends on their rules
only, never on the enterprise's figures, so the count tells nothing about them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import psycopg

from api import disclosure
from api.services import readiness
from api.services.programmes import programme_view
from matching.domain.programme import Programme
from matching.programmes.eligibility import evaluate
from matching.readiness import Standards
from matching.rules.constraints import window_closed
from store import programmes as programmes_db
from store import standards as standards_db

#: The reported figures each programme band reads.
PROGRAMME_FIELDS: dict[str, str] = {"min_revenue": "revenue", "max_revenue": "revenue",
                                    "min_employees": "employees", "max_employees": "employees"}


def programme_fields(programme: Programme) -> frozenset[str]:
    """The reported figures a programme's rules read."""
    return frozenset(f for rule, f in PROGRAMME_FIELDS.items() if getattr(programme, rule) is not None)


class PartsContext:
    """What one export reads once: the standards in force, the programmes open on the day."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.standards: Standards = standards_db.current(conn)
        self.today: date = programmes_db.china_today()
        self.programmes_open: list[tuple[int, Programme]] = [
            (pid, p) for pid, p in programmes_db.read_programmes(conn) if not window_closed(p.closes_on, self.today)]

    def readiness(self, conn: psycopg.Connection, row: Mapping[str, Any], decision: disclosure.Decision
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        """One enterprise's readiness as ``GET /v1/enterprises/{id}/readiness`` shows it (targets, top changes),
        or, where the audience may not see the figures it is computed from (the API's rule,
        :data:`api.services.readiness.NEEDED`), nothing but the codes of the targets withheld."""
        if any(g in decision.withheld for g in readiness.NEEDED):  # nothing computed that is not shown
            return [], [], [t.code for t in self.standards.targets_for(row["tier"])]
        doc = readiness.readiness_for(conn, row, standards=self.standards)
        return doc["targets"], doc["changes"], []

    def programmes(self, conn: psycopg.Connection, rows: Sequence[Mapping[str, Any]],
                   decisions: Sequence[disclosure.Decision]) -> list[tuple[list[dict[str, Any]], int]]:
        """Per enterprise row: the programmes it qualifies for or nearly (``status`` ``qualifies`` /
        ``near_miss``, ``missing``), and how many programmes were withheld from it."""
        ids = [r["id"] for r in rows]
        out: list[tuple[list[dict[str, Any]], int]] = [([], 0) for _ in ids]
        if not self.programmes_open or not ids:
            return out
        columns = programmes_db.enterprise_columns(conn, ids)
        at = {int(eid): i for i, eid in enumerate(columns.ids)}
        hidden = [frozenset(disclosure.withheld_figures(d)) for d in decisions]
        for pid, programme in self.programmes_open:
            reads = programme_fields(programme)
            result = evaluate(programme, columns, self.today)
            for k, eid in enumerate(ids):
                items, withheld = out[k]
                if reads & hidden[k]:
                    out[k] = (items, withheld + 1)
                    continue
                i = at[eid]
                status = result.status(i)
                if status == "not_eligible":
                    continue
                items.append(programme_view(pid, programme, self.today) | {
                    "status": status, "missing": [{"rule": m.rule, "zh": m.zh, "en": m.en, "gap": m.gap,
                                                   "unknown": m.unknown} for m in result.missing(i)]})
        return out
