"""The market as it stood at a past moment: the mandate version valid then, the financials reported by then.

A snapshot holds each investor's mandate as of its own "now". An investor that revised its mandate
(sectors shift, the ticket is rescaled) had another one during earlier training periods; features
and hard constraints of those periods must read that one, not today's (today's tells which sectors
it moved into: the future). :func:`snapshot_at` returns a view of the snapshot (a new snapshot made with
:func:`dataclasses.replace`, its :attr:`~matching.snapshot.core.MarketSnapshot.view_of` naming the source and
the revised rows) whose mandate columns are those valid at ``t`` (the newest version started by then, as
:func:`matching.snapshot.core.build_snapshot` chooses), sharing every other column. Views are kept beside the
source by the set of versions they hold, so periods with the same mandates share one view and its tables.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from datetime import timedelta

import numpy as np

from matching.domain.records import Mandate
from matching.snapshot.core import EPOCH, AsOf, MarketSnapshot, mandate_columns, to_days
from matching.snapshot.derived import derived
from matching.snapshot.profiles import mandate_text

#: The embeddings of earlier mandate versions, beside the snapshot they were computed for (never inside it).
_VERSION_VECTORS: weakref.WeakKeyDictionary[MarketSnapshot, dict[tuple[int, int], np.ndarray]] = (
    weakref.WeakKeyDictionary())


def valid_at(versions: list[Mandate], t: float) -> Mandate | None:
    """The newest version started by ``t`` (days), ``None`` before the first."""
    started = [m for m in versions if (to_days(m.valid_from) if m.valid_from else -np.inf) <= t]
    return max(started, key=lambda m: m.version) if started else None


def snapshot_at(snap: MarketSnapshot, t: float) -> MarketSnapshot:
    """``snap`` with the mandates valid at ``t`` (``snap`` itself when they are today's)."""
    if not snap.man_versions:
        return snap
    changed = {}
    for row, versions in snap.man_versions.items():
        m = valid_at(versions, t)
        if m is not snap.man_record[row]:
            changed[row] = m
    if not changed:
        return snap
    key = tuple(sorted((r, m.version if m else 0) for r, m in changed.items()))
    views: dict[tuple[tuple[int, int], ...], MarketSnapshot] = derived(snap, "asof_views", dict)
    if key not in views:
        rows = sorted(changed)
        cols = mandate_columns(snap.sectors, [snap.inv_record[r] for r in rows], [changed[r] for r in rows])
        updated: dict[str, object] = {}
        for name, values in cols.items():
            current = getattr(snap, name)
            if isinstance(current, np.ndarray):
                column = current.copy()
                column[rows] = values
            else:
                column = list(current)
                for r, v in zip(rows, values, strict=True):
                    column[r] = v
            updated[name] = column
        views[key] = replace(snap, **updated, view_of=AsOf(snap, np.asarray(rows, dtype=np.int64)))  # type: ignore[arg-type]
    return views[key]


def vectors_at(view: MarketSnapshot, man_vecs: np.ndarray) -> np.ndarray:
    """Mandate vectors of a :func:`snapshot_at` view: the rows whose mandate differs from today's take the
    embedding of the version valid then (:func:`version_texts`, embedded by training at the edge), or
    zeros when it was not embedded (never today's text, which would tell the future)."""
    if view.view_of is None or not len(view.view_of.rows):
        return man_vecs
    embedded = _VERSION_VECTORS.get(view.view_of.source, {})
    out = np.array(man_vecs, copy=True)
    for r in view.view_of.rows.tolist():
        m = view.man_record[r]
        vec = embedded.get((r, m.version)) if m is not None else None
        out[r] = vec if vec is not None else 0.0
    return out


def version_texts(snap: MarketSnapshot) -> dict[tuple[int, int], str]:
    """The mandate text of every earlier version, by ``(investor row, version)`` (to embed them)."""
    return {(r, m.version): mandate_text(snap.inv_record[r], m) for r, versions in snap.man_versions.items()
            for m in versions if m is not snap.man_record[r]}


def set_version_vectors(snap: MarketSnapshot, vectors: dict[tuple[int, int], np.ndarray]) -> None:
    """Keep the embeddings of :func:`version_texts` beside the snapshot (read by :func:`vectors_at`)."""
    _VERSION_VECTORS[snap] = vectors


def financials_at(snap: MarketSnapshot, when: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(revenue, growth, R&D ratio, patents)`` per enterprise as reported by ``when`` (days): the
    latest financial year that had ended by then (a year's figures are reported after it ends), NaN
    without one. A snapshot without the history (built elsewhere) gives its latest columns."""
    if not len(snap.fin_hist):
        return snap.ent_revenue, snap.ent_growth, snap.ent_rd, snap.ent_patents
    year = (EPOCH + timedelta(days=float(when))).year if np.isfinite(when) else 10**6
    cache: dict[int, np.ndarray] = derived(snap, "financials_at", dict)
    if year not in cache:
        rows = snap.fin_hist[snap.fin_hist[:, 1] < year]
        out = np.full((snap.n_enterprises, 4), np.nan)
        if len(rows):
            last = np.r_[rows[1:, 0] != rows[:-1, 0], True]  # sorted by (enterprise, year): its latest year
            out[rows[last, 0].astype(np.int64)] = rows[last, 2:6]
        cache[year] = out
    out = cache[year]
    return out[:, 0], out[:, 1], out[:, 2], out[:, 3]
