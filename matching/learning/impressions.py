"""Ranking data from the impression log: the lists really served, with the feature values used.

The impression log (``store.impressions``) records every served item with its features; the funnel
later tells which pairs went on to a contact or a deal. :func:`impression_data` turns the two into
:class:`~matching.learning.dataset.RankingData`, so retraining learns from what was really served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from matching.domain.sides import Side
from matching.features.table import FEATURE_NAMES
from matching.learning.dataset import RankingData, assemble_parts
from matching.snapshot.core import MarketSnapshot, to_days


@dataclass(frozen=True)
class Impression:
    """One served item from the impression log (ids are the database ids)."""

    list_id: str
    side: str  # "investor": a deal list for the investor; "enterprise": investors for the enterprise
    served_at: datetime
    position: int
    investor_id: int
    enterprise_id: int
    need_id: int | None
    features: Mapping[str, float | None]


def impression_data(snap: MarketSnapshot, direction: Side | str, impressions: Sequence[Impression], *,
                    horizon_days: float = 30.0, start: float | None = None, end: float | None = None
                    ) -> RankingData:
    """Ranking data from served lists: the feature values *as served*, labelled by the highest grade
    the pair reached within ``horizon_days`` after the list was served.

    Each list is one query; lists without any positive are dropped (they teach nothing to a
    LambdaRank objective). Only lists served in ``[start, end)`` (days) whose label horizon has
    ended before ``end`` are used, so no label reaches past the window. Features missing from
    an old log entry are NaN.
    """
    side = Side.parse(direction)
    by_list: dict[str, list[Impression]] = {}
    for imp in impressions:
        if imp.side == side:
            by_list.setdefault(imp.list_id, []).append(imp)
    lo = -np.inf if start is None else start
    hi = np.inf if end is None else end
    key_ev = snap.ev_inv * max(snap.n_enterprises, 1) + snap.ev_ent
    parts: list[dict[str, np.ndarray]] = []
    need_row = {int(x): r for r, x in enumerate(snap.need_id)}
    for items in by_list.values():
        t0 = to_days(items[0].served_at)
        if not (lo <= t0 and t0 + horizon_days <= hi):
            continue
        inv = np.array([snap.investor_row.get(int(i.investor_id), -1) for i in items], dtype=np.int64)
        ent = np.array([snap.enterprise_row.get(int(i.enterprise_id), -1) for i in items], dtype=np.int64)
        ok = (inv >= 0) & (ent >= 0)
        if not ok.any():
            continue
        a, b = np.searchsorted(snap.ev_time, [t0, t0 + horizon_days], side="left")
        y = np.zeros(len(items), dtype=np.int64)
        keys = inv * max(snap.n_enterprises, 1) + ent
        win_keys, win_grade = key_ev[a:b], snap.ev_grade[a:b].astype(np.int64)
        for j in np.flatnonzero(ok):
            hit = win_grade[win_keys == keys[j]]
            y[j] = int(hit.max()) if len(hit) else 0
        if y[ok].max() <= 0:
            continue
        need = np.array([need_row.get(int(i.need_id), -1) if i.need_id is not None else -1 for i in items],
                        dtype=np.int64)
        X = np.array([[_num(i.features.get(n)) for n in FEATURE_NAMES] for i in items], dtype=np.float32)
        q = inv if side == Side.INVESTOR else ent
        parts.append({"X": X[ok], "y": y[ok], "query": q[ok], "inv": inv[ok], "ent": ent[ok], "need": need[ok],
                      "as_of": np.full(int(ok.sum()), t0), "event_time": np.full(int(ok.sum()), np.nan),
                      "sizes": np.array([int(ok.sum())], dtype=np.int64)})
    return assemble_parts(side.value, parts, float(lo), float(hi))


def _num(value: object) -> float:
    try:
        return float(value) if value is not None else np.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan
