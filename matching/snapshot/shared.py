"""Values many rows of a snapshot repeat, kept as one object each.

A serving snapshot is pickled once and loaded by every worker (:mod:`matching.serving.mapped`); pickling
keeps shared objects shared, so a million rows without exclusions hold one empty set, and a million
district codes a few hundred strings, in every worker instead of a million objects each.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

#: The one empty set of every row without excluded parties or districts.
NO_KEYS: frozenset[str] = frozenset()


def key_set(items: Sequence[str]) -> frozenset[str]:
    """``frozenset(items)``, or the shared empty set."""
    return frozenset(items) if items else NO_KEYS


def interned(values: Iterable[Any]) -> list[Any]:
    """Repeated codes (districts, provinces, countries) as one string object each (``None`` kept)."""
    return [sys.intern(v) if isinstance(v, str) else v for v in values]
