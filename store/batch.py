"""Loading several kinds of records together, atomically (a generated market, real deal data)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from matching.domain.records import Enterprise, Event, Investor, Mandate, Need, Secondary
from store import market_store as store
from store.bulk import LoadCounts, Progress
from store.database import Database


@dataclass
class MarketBatch:
    """Records of several kinds loaded together (a generated market, an investment-events file)."""

    enterprises: Sequence[Enterprise] = ()
    investors: Sequence[Investor] = ()
    mandates: Sequence[Mandate] = ()
    needs: Sequence[Need] = ()
    secondaries: Sequence[Secondary] = ()
    events: Sequence[Event] = ()


def load_batch(cur: psycopg.Cursor, batch: MarketBatch, *, progress: Progress | None = None) -> list[LoadCounts]:
    """Load every kind of record in dependency order, inside the caller's transaction."""
    counts: list[LoadCounts] = []
    if batch.enterprises:
        counts.extend(store.load_enterprises(cur, batch.enterprises, progress=progress))
    if batch.investors:
        counts.append(store.load_investors(cur, batch.investors, progress=progress))
    if batch.mandates:
        counts.append(store.load_mandates(cur, batch.mandates, progress=progress))
    if batch.needs:
        counts.append(store.load_needs(cur, batch.needs, progress=progress))
    if batch.secondaries:
        counts.append(store.load_secondaries(cur, batch.secondaries, progress=progress))
    if batch.events:
        counts.append(store.load_events(cur, batch.events, progress=progress))
    return counts


def save_batch(db: Database, batch: MarketBatch, *, progress: Progress | None = None) -> list[LoadCounts]:
    """Load a batch atomically.

    Raises:
        ValueError: when a reference does not resolve (nothing is written).
    """
    with db.connect() as conn, conn.cursor() as cur:
        counts = load_batch(cur, batch, progress=progress)
        bad = [(c.table, u) for c in counts for u in c.unresolved]
        if bad:
            conn.rollback()
            table, (i, fld, value, reason) = bad[0]
            raise ValueError(f"{len(bad)} unresolved reference(s); first: {table} #{i}: {fld} = '{value}': {reason}")
        conn.commit()
    return counts
