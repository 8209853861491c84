"""Thin slices of an investment-events file: little history and few investors, as a new market has.

The served scorer must not fall below the best baseline there (training chooses a baseline when the
ranker is worse on validation); ``capconnect benchmark crunchbase --history-from … --max-investors …``
and the tests run it on such slices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

from matching.ingest.investment_events import InvestmentEvents


def thin_events(parsed: InvestmentEvents, *, since: date | None = None, max_investors: int | None = None
                ) -> InvestmentEvents:
    """Keep events on or after ``since`` by the ``max_investors`` most active investors (by events kept).

    Raises:
        ValueError: ``max_investors < 1``, or nothing is left.
    """
    if max_investors is not None and max_investors < 1:
        raise ValueError(f"max_investors must be >= 1, got {max_investors}")
    events = [e for e in parsed.events if since is None or e.occurred_at.date() >= since]
    if max_investors is not None:
        top = {k for k, _ in Counter(e.investor_key for e in events).most_common(max_investors)}
        events = [e for e in events if e.investor_key in top]
    if not events:
        raise ValueError("the thin slice holds no event: move --history-from earlier or raise --max-investors")
    inv_keys = {e.investor_key for e in events}
    ent_keys = {e.enterprise_key for e in events}
    return replace(parsed, events=events, investors=[i for i in parsed.investors if i.key in inv_keys],
                   enterprises=[e for e in parsed.enterprises if e.key in ent_keys], event_rows=[])
