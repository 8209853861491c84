"""Investment events as columns: the input of the real-data benchmark.

The benchmark reads back what the importer stored (one row per investor per round) and turns it
into integer-coded NumPy columns sorted by day. Company attributes (category, state, city) and
investor attributes (type, home state) are static facts of the records; the companies file's
end-of-export values (funding totals, status, last funding) are never read, because they contain
the future relative to any cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np

#: Round codes as the importer stores them (``matching.domain.vocab.ROUNDS``), plus "unknown".
ROUND_CODES: tuple[str, ...] = (
    "seed", "angel", "pre_a", "a", "b", "c", "d_plus", "pre_ipo", "strategic", "debt", "other", "unknown",
)  # fmt: skip
_ROUND_INDEX = {r: i for i, r in enumerate(ROUND_CODES)}
_EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the benchmark's integer time axis)."""
    return (d - _EPOCH).days


def day_date(day: int) -> date:
    """The date of a day number (inverse of :func:`day_number`)."""
    return date.fromordinal(_EPOCH.toordinal() + int(day))


class DealRow(NamedTuple):
    """One investor's participation in one round, as read back from the database.

    Attributes:
        investor_id: the investor's key.
        company_id: the company's key.
        day: date of the round.
        round: round code (see :data:`ROUND_CODES`); ``None`` = unknown.
        amount: the round's total (any currency); ``None`` = unknown.
        category: the company's sector as given by the source (CrunchBase category).
        state: the company's region (state or province).
        city: the company's city.
        investor_type: ``vc``, ``corporate``, …
        investor_state: the investor's region (state or province).
    """

    investor_id: str
    company_id: str
    day: date
    round: str | None
    amount: float | None
    category: str | None
    state: str | None
    city: str | None
    investor_type: str | None
    investor_state: str | None


@dataclass(frozen=True)
class Deals:
    """Events sorted by day, with integer codes for investors, companies and their attributes.

    Per event: ``inv``, ``comp``, ``day``, ``round``, ``amount`` (NaN when unknown). Per company:
    ``comp_category``, ``comp_state``, ``comp_city``. Per investor: ``inv_type``, ``inv_state``.
    Codes index the vocabularies ``categories``, ``states`` (shared by companies and investors so
    "same state" is a comparison of codes), ``cities``, ``investor_types``; 0 means unknown.
    """

    investor_ids: np.ndarray
    company_ids: np.ndarray
    inv: np.ndarray
    comp: np.ndarray
    day: np.ndarray
    round: np.ndarray
    amount: np.ndarray
    comp_category: np.ndarray
    comp_state: np.ndarray
    comp_city: np.ndarray
    inv_type: np.ndarray
    inv_state: np.ndarray
    categories: tuple[str, ...]
    states: tuple[str, ...]
    cities: tuple[str, ...]
    investor_types: tuple[str, ...]

    @property
    def n_investors(self) -> int:
        """Number of distinct investors."""
        return len(self.investor_ids)

    @property
    def n_companies(self) -> int:
        """Number of distinct companies."""
        return len(self.company_ids)

    def __len__(self) -> int:
        return len(self.day)

    def before(self, day: int) -> slice:
        """The events strictly before ``day`` (a slice, since events are sorted by day)."""
        return slice(0, int(np.searchsorted(self.day, day, side="left")))

    def between(self, start: int, end: int) -> slice:
        """The events with ``start <= day < end``."""
        lo, hi = np.searchsorted(self.day, [start, end], side="left")
        return slice(int(lo), int(hi))


class _Vocab:
    """Strings to codes; code 0 is "unknown" (``None`` or blank)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}

    def code(self, value: str | None) -> int:
        key = (value or "").strip().lower()
        return self.index.setdefault(key, len(self.index))

    def names(self) -> tuple[str, ...]:
        return tuple(self.index)


def deals_from_rows(rows: Iterable[DealRow]) -> Deals:
    """Code and sort deal rows (the first row of a company or investor gives its attributes).

    Args:
        rows: one row per investor per round.

    Raises:
        ValueError: no rows, or a round code outside :data:`ROUND_CODES`.
    """
    inv_index: dict[str, int] = {}
    comp_index: dict[str, int] = {}
    cats, states, cities, types = _Vocab(), _Vocab(), _Vocab(), _Vocab()
    comp_attr: list[tuple[int, int, int]] = []
    inv_attr: list[tuple[int, int]] = []
    ev_inv: list[int] = []
    ev_comp: list[int] = []
    ev_day: list[int] = []
    ev_round: list[int] = []
    ev_amount: list[float] = []
    for r in rows:
        if r.company_id not in comp_index:
            comp_index[r.company_id] = len(comp_index)
            comp_attr.append((cats.code(r.category), states.code(r.state), cities.code(r.city)))
        if r.investor_id not in inv_index:
            inv_index[r.investor_id] = len(inv_index)
            inv_attr.append((types.code(r.investor_type), states.code(r.investor_state)))
        code = _ROUND_INDEX.get(r.round or "unknown")
        if code is None:
            raise ValueError(f"round: '{r.round}' is not a round code; allowed: {', '.join(ROUND_CODES)}")
        ev_inv.append(inv_index[r.investor_id])
        ev_comp.append(comp_index[r.company_id])
        ev_day.append(day_number(r.day))
        ev_round.append(code)
        ev_amount.append(float(r.amount) if r.amount is not None else np.nan)
    if not ev_day:
        raise ValueError("rows: no investment events; the benchmark needs a file with deals")
    day = np.asarray(ev_day, dtype=np.int64)
    order = np.argsort(day, kind="stable")
    comp_a = np.asarray(comp_attr, dtype=np.int32).reshape(-1, 3)
    inv_a = np.asarray(inv_attr, dtype=np.int32).reshape(-1, 2)
    return Deals(
        investor_ids=np.asarray(list(inv_index), dtype=object),
        company_ids=np.asarray(list(comp_index), dtype=object),
        inv=np.asarray(ev_inv, dtype=np.int32)[order],
        comp=np.asarray(ev_comp, dtype=np.int32)[order],
        day=day[order],
        round=np.asarray(ev_round, dtype=np.int16)[order],
        amount=np.asarray(ev_amount, dtype=np.float64)[order],
        comp_category=comp_a[:, 0],
        comp_state=comp_a[:, 1],
        comp_city=comp_a[:, 2],
        inv_type=inv_a[:, 0],
        inv_state=inv_a[:, 1],
        categories=cats.names(),
        states=states.names(),
        cities=cities.names(),
        investor_types=types.names(),
    )


@dataclass(frozen=True)
class Cut:
    """A time split: train on events before ``start``, evaluate on ``start <= day < end``.

    Attributes:
        name: label in reports ("validation", "test").
        start: first day of the evaluation window (the cut).
        end: first day after the window (exclusive).
    """

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"end must be after the cut: cut {self.start}, end {self.end}")

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form: train before ``start``, window ``[start, end)``."""
        return {"name": self.name, "train_before": self.start.isoformat(), "window_start": self.start.isoformat(),
                "window_end_exclusive": self.end.isoformat()}

