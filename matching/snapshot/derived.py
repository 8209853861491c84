"""Tables derived from a snapshot, built once on first use and kept beside it (never as attributes of it).

A :class:`~matching.snapshot.core.MarketSnapshot` never changes after it is built, so anything
computed from it alone (pair tables of the funnel, exclusion sets, static eligibility, invested
rows per investor) can be built once and shared by every request that reads the same snapshot.
:func:`derived` is the one place that memo lives: the snapshot's
:attr:`~matching.snapshot.core.MarketSnapshot.derived_tables`, by name. The tables go with the
snapshot (a market reload frees its tables with it), even those that refer back to it.

    tables = derived(snap, "pair_tables", lambda: build_pair_tables(snap))
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from matching.snapshot.core import MarketSnapshot

T = TypeVar("T")

_LOCK = threading.Lock()


def derived(snap: MarketSnapshot, name: str, build: Callable[[], T]) -> T:
    """The table ``name`` derived from ``snap``: built by ``build()`` on first use, then shared.

    ``build`` must depend on ``snap`` only (not on the caller's time, filters or request): two
    callers asking for the same name get the same object. Thread-safe; a table is built at most
    once per snapshot unless two threads race on the very first use (both build, one is kept).
    """
    tables: dict[str, Any] = snap.derived_tables
    if name in tables:
        return tables[name]  # type: ignore[no-any-return]
    value = build()
    with _LOCK:
        return tables.setdefault(name, value)  # type: ignore[no-any-return]
