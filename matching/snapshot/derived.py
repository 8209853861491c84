"""Tables derived from a snapshot, built once on first use and kept beside it (never inside it).

A :class:`~matching.snapshot.core.MarketSnapshot` never changes after it is built, so anything
computed from it alone (pair tables of the funnel, exclusion sets, static eligibility, invested
rows per investor) can be built once and shared by every request that reads the same snapshot.
:func:`derived` is the one place that memo lives: keyed by the snapshot's identity and a name, and
dropped when the snapshot is garbage-collected (a market reload frees its tables with it).

    tables = derived(snap, "pair_tables", lambda: build_pair_tables(snap))
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_TABLES: dict[int, dict[str, Any]] = {}
_LOCK = threading.Lock()


def derived(snap: object, name: str, build: Callable[[], T]) -> T:
    """The table ``name`` derived from ``snap``: built by ``build()`` on first use, then shared.

    ``build`` must depend on ``snap`` only (not on the caller's time, filters or request): two
    callers asking for the same name get the same object. Thread-safe; a table is built at most
    once per snapshot unless two threads race on the very first use (both build, one is kept).
    """
    key = id(snap)
    tables = _TABLES.get(key)
    if tables is not None and name in tables:
        return tables[name]  # type: ignore[no-any-return]
    value = build()
    with _LOCK:
        tables = _TABLES.get(key)
        if tables is None:
            tables = _TABLES[key] = {}
            weakref.finalize(snap, _TABLES.pop, key, None)
        return tables.setdefault(name, value)  # type: ignore[no-any-return]


def forget(snap: object) -> None:
    """Drop every table derived from ``snap`` (tests that rebuild a snapshot in place use it)."""
    with _LOCK:
        _TABLES.pop(id(snap), None)
