"""Readiness: where an enterprise stands against each target's standard, from its own reported figures.

One vectorised evaluation serves both a single enterprise (its page, ``GET /v1/enterprises/{id}/readiness``)
and the staff pipeline over every enterprise (:func:`readiness_matrix`).

**Figures.** An enterprise's yearly figures are aligned on its latest reported year: a criterion needing
``years = n`` uses the latest year and the ``n - 1`` before it; a missing year makes the figure unknown.
``latest`` takes the latest year; ``each`` requires every one of the years (the figure shown is the worst
year); ``sum`` and ``mean`` combine them; ``pooled`` is R&D spending summed over revenue summed. R&D
spending is revenue × R&D ratio.

**Each criterion** is ``met``, ``missed`` (with ``margin`` = figure − threshold in the criterion's unit, and
the relative gap ``|threshold − figure| / max(|threshold|, |figure|)``) or ``unknown`` (no figure on file,
the metric is not assessable from platform data, or the threshold is not public).

**Score.** A set's score is the mean credit of its *scored* criteria (assessable, with a public threshold):
1 for met, ``1 − relative gap`` (at least 0) for missed, 0 for a missing figure; criteria that cannot be
assessed are listed but not scored. A target's score is its best set's (ties: the earlier set); ``None``
when no set has a scored criterion. A target is ``met`` when a set has every criterion met,
``met_on_platform_data`` when a set has every scored criterion met and only unassessable ones left (the
usual case for boards: market value is not platform data), ``missed`` otherwise, ``unknown`` without a score.

**Changes** that would move a target most: its best set's missed criteria, smallest relative gap first,
then the figures missing from it (report them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.readiness.standards import MAX_YEARS, CriteriaSet, Criterion, Standards, Target, shipped

#: Figures the reported data carries (R&D spending is derived).
REPORTED = ("revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents")
NEAR = 0.8  # a score at least this (and not met) is "near"
MET, MISSED, UNKNOWN = 1, 2, 0
_STATUS = {MET: "met", MISSED: "missed", UNKNOWN: "unknown"}


@dataclass(frozen=True)
class Panel:
    """Reported figures of ``n`` enterprises aligned on each one's latest year.

    Attributes:
        keys: the enterprises' ids (as given), in row order.
        tiers: each enterprise's tier code.
        latest: each one's latest reported year (``-1`` when none).
        values: metric → ``(n, MAX_YEARS)`` array; column ``j`` is year ``latest - j``; NaN where not reported.
    """

    keys: tuple[Any, ...]
    tiers: tuple[str, ...]
    latest: np.ndarray
    values: Mapping[str, np.ndarray]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def panel(enterprises: Sequence[Any], keys: Sequence[Any] | None = None, as_of_year: int | None = None) -> Panel:
    """The panel of ``enterprises``: each an :class:`~matching.domain.records.Enterprise` or a mapping with
    ``tier`` and ``financials`` (yearly records or dicts with ``year`` and the :data:`REPORTED` fields).

    Args:
        enterprises: the enterprises.
        keys: their ids (default: ``id`` of each, else its position).
        as_of_year: ignore figures for this year and later (``None``: use everything on file).
    """
    n = len(enterprises)
    vals = {m: np.full((n, MAX_YEARS), np.nan) for m in REPORTED}
    latest = np.full(n, -1, dtype=np.int64)
    for i, e in enumerate(enterprises):
        years = [f for f in (_get(e, "financials") or ()) if as_of_year is None or _get(f, "year") < as_of_year]
        if not years:
            continue
        top = max(int(_get(f, "year")) for f in years)
        latest[i] = top
        for f in years:
            j = top - int(_get(f, "year"))
            if j < MAX_YEARS:
                for m in REPORTED:
                    v = _get(f, m)
                    if v is not None:
                        vals[m][i, j] = float(v)
    vals["rd_spending"] = vals["revenue"] * vals["rd_ratio"]
    ks = tuple(keys) if keys is not None else tuple(_get(e, "id", i) for i, e in enumerate(enterprises))
    return Panel(ks, tuple(str(_get(e, "tier", "basic")) for e in enterprises), latest, vals)


@dataclass(frozen=True)
class Evaluated:
    """One criterion over a panel: per-row status, figure and margin (in the criterion's unit), relative gap."""

    status: np.ndarray
    figure: np.ndarray
    margin: np.ndarray
    gap: np.ndarray
    credit: np.ndarray
    scored: bool


def evaluate(c: Criterion, p: Panel) -> Evaluated:
    """Evaluate one criterion for every row of ``p`` (see the module docstring)."""
    n = len(p.keys)
    nan = np.full(n, np.nan)
    if not c.assessable or c.threshold is None:
        return Evaluated(np.full(n, UNKNOWN), nan, nan, nan, np.zeros(n), False)
    k = c.years
    if c.aggregate == "pooled":
        rev = p.values["revenue"][:, :k]
        figure = p.values["rd_spending"][:, :k].sum(axis=1) / np.where(rev.sum(axis=1) > 0, rev.sum(axis=1), np.nan)
    else:
        block = p.values[c.metric][:, :k]
        if c.aggregate in ("latest", "sum"):
            figure = block.sum(axis=1)
        elif c.aggregate == "mean":
            figure = block.mean(axis=1)
        else:  # each: the worst year decides
            figure = block.min(axis=1) if c.operator in (">=", ">") else block.max(axis=1)
    figure = figure / c.scale  # NaN stays NaN: any missing year makes the figure unknown
    t = c.threshold
    ok = {">=": figure >= t, ">": figure > t, "<=": figure <= t, "<": figure < t}[c.operator]
    known = np.isfinite(figure)
    status = np.where(~known, UNKNOWN, np.where(ok, MET, MISSED))
    margin = figure - t
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(t - figure) / np.maximum(np.maximum(abs(t), np.abs(figure)), 1e-12)
    gap = np.where(status == MISSED, np.maximum(gap, 1e-9), np.where(status == MET, 0.0, np.nan))
    credit = np.where(status == MET, 1.0, np.where(status == MISSED, np.clip(1.0 - gap, 0.0, 1.0), 0.0))
    return Evaluated(status, figure, margin, gap, credit, True)


@dataclass(frozen=True)
class SetScores:
    """One set over a panel: its criteria evaluated, the score (NaN where nothing is scored), whether met."""

    criteria: tuple[Evaluated, ...]
    score: np.ndarray
    met_all: np.ndarray
    met_scored: np.ndarray


def score_set(s: CriteriaSet, p: Panel) -> SetScores:
    """Evaluate every criterion of ``s`` and the set's score for every row of ``p``."""
    ev = tuple(evaluate(c, p) for c in s.criteria)
    n = len(p.keys)
    scored = [e for e in ev if e.scored]
    score = np.mean([e.credit for e in scored], axis=0) if scored else np.full(n, np.nan)
    met_scored = np.all([e.status == MET for e in scored], axis=0) if scored else np.zeros(n, dtype=bool)
    met_all = met_scored & (len(scored) == len(ev))
    return SetScores(ev, score, met_all, met_scored)


@dataclass(frozen=True)
class TargetScores:
    """One target over a panel: per row the best set's index, score (NaN: none), status code and sets."""

    target: Target
    sets: tuple[SetScores, ...]
    best: np.ndarray
    score: np.ndarray
    status: np.ndarray  # "met" | "met_on_platform_data" | "near" | "far" | "unknown"
    applicable: np.ndarray


def score_target(t: Target, p: Panel) -> TargetScores:
    """Every set of ``t`` for every row of ``p``, with the best set and the target's status."""
    sets = tuple(score_set(s, p) for s in t.sets)
    scores = np.vstack([s.score for s in sets])  # (sets, n)
    filled = np.where(np.isnan(scores), -1.0, scores)
    best = filled.argmax(axis=0)
    score = scores[best, np.arange(len(p.keys))]
    met_all = np.any([s.met_all for s in sets], axis=0)
    met_scored = np.any([s.met_scored for s in sets], axis=0)
    status = np.where(met_all, "met", np.where(met_scored, "met_on_platform_data", np.where(
        np.isnan(score), "unknown", np.where(score >= NEAR, "near", "far"))))
    applicable = np.array([t.next_of is None or tier == t.next_of for tier in p.tiers], dtype=bool)
    return TargetScores(t, sets, best, score, status.astype(object), applicable)


def readiness_matrix(p: Panel, standards: Standards | None = None) -> dict[str, TargetScores]:
    """Every target of ``standards`` (default: the shipped file) for every enterprise of ``p``."""
    std = standards or shipped()
    return {t.code: score_target(t, p) for t in std.targets}


# --- one enterprise, as records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    """One criterion for one enterprise (figure and margin in ``criterion.unit``; years of the figure)."""

    criterion: Criterion
    status: str
    figure: float | None
    margin: float | None
    gap: float | None
    years: tuple[int, ...]
    reason: str  # why unknown: "no_figure" | "not_assessable" | "not_public"; "" otherwise

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        c = self.criterion
        return {"metric": c.metric, "label_zh": c.describe("zh"), "label_en": c.describe("en"),
                "operator": c.operator, "threshold": c.threshold, "unit": c.unit, "years_needed": c.years,
                "aggregate": c.aggregate, "status": self.status, "figure": self.figure, "margin": self.margin,
                "relative_gap": self.gap, "figure_years": list(self.years), "unknown_reason": self.reason or None,
                "assessable": c.assessable, "placeholder": c.placeholder, "verified": c.verified,
                "source": {"document": c.document, "article": c.article}, "date": c.date, "note": c.note or None}


@dataclass(frozen=True)
class Change:
    """A change that would move a target: reach ``criterion``'s threshold (``delta`` more, in its unit) or
    report the figure (``delta`` ``None``)."""

    target: str
    set_code: str
    criterion: Criterion
    figure: float | None
    delta: float | None
    gap: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with the change in words (zh, en)."""
        c = self.criterion
        if self.delta is None:
            zh, en = f"补充填报：{c.describe('zh')}所需的年度数据", f"Report the figures for: {c.describe('en')}"
        else:
            zh = f"{c.describe('zh')}：现为 {self.figure:,.2f} {c.unit}，差 {abs(self.delta):,.2f} {c.unit}"
            en = f"{c.describe('en')}: now {self.figure:,.2f} {c.unit}, short by {abs(self.delta):,.2f} {c.unit}"
        return {"target": self.target, "set": self.set_code, "metric": c.metric, "figure": self.figure,
                "threshold": c.threshold, "unit": c.unit, "delta": self.delta, "relative_gap": self.gap,
                "text_zh": zh, "text_en": en}


@dataclass(frozen=True)
class SetResult:
    """One alternative set for one enterprise."""

    set: CriteriaSet
    score: float | None
    met: bool
    criteria: tuple[CriterionResult, ...]


@dataclass(frozen=True)
class TargetReadiness:
    """One target for one enterprise: status, score, best set, every set's criteria, the top changes."""

    target: Target
    applicable: bool
    status: str
    score: float | None
    best_set: str
    sets: tuple[SetResult, ...]
    changes: tuple[Change, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the API's and the export's)."""
        t = self.target
        return {"target": t.code, "zh": t.zh, "en": t.en, "kind": t.kind, "applicable": self.applicable,
                "status": self.status, "score": self.score, "best_set": self.best_set,
                "placeholder": any(c.placeholder for s in t.sets for c in s.criteria),
                "sets": [{"code": s.set.code, "zh": s.set.zh, "en": s.set.en, "score": s.score, "met": s.met,
                          "criteria": [c.as_dict() for c in s.criteria]} for s in self.sets],
                "changes": [c.as_dict() for c in self.changes]}


def _f(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


def _row(ts: TargetScores, p: Panel, i: int, max_changes: int) -> TargetReadiness:
    t = ts.target
    sets: list[SetResult] = []
    for s, ss in zip(t.sets, ts.sets, strict=True):
        crit = []
        for c, e in zip(s.criteria, ss.criteria, strict=True):
            top = int(p.latest[i])
            years = tuple(top - j for j in range(c.years)) if top >= 0 and e.scored else ()
            reason = ("not_assessable" if not c.assessable else "not_public" if c.threshold is None
                      else "no_figure" if e.status[i] == UNKNOWN else "")
            crit.append(CriterionResult(c, _STATUS[int(e.status[i])], _f(e.figure[i]), _f(e.margin[i]),
                                        _f(e.gap[i]), years, reason))
        sets.append(SetResult(s, _f(ss.score[i]), bool(ss.met_all[i]), tuple(crit)))
    best = int(ts.best[i])
    chosen = sets[best]
    missed = sorted((r for r in chosen.criteria if r.status == "missed"), key=lambda r: r.gap or 0.0)
    missing = [r for r in chosen.criteria if r.reason == "no_figure"]
    changes = tuple(Change(t.code, chosen.set.code, r.criterion, r.figure, r.margin, r.gap)
                    for r in [*missed, *missing][:max_changes])
    return TargetReadiness(t, bool(ts.applicable[i]), str(ts.status[i]), _f(ts.score[i]), chosen.set.code,
                           tuple(sets), changes)


def readiness_for(enterprise: Any, standards: Standards | None = None, *, targets: Sequence[str] | None = None,
                  as_of_year: int | None = None, max_changes: int = 3) -> list[TargetReadiness]:
    """Readiness of one enterprise for each target.

    Args:
        enterprise: an :class:`~matching.domain.records.Enterprise`, or a mapping with ``tier`` and
            ``financials`` (as :func:`store.resources.get_enterprise` returns it).
        standards: the standards (default: the shipped file).
        targets: target codes to assess (default: the next tier of the enterprise's tier, then every board).
        as_of_year: ignore figures for this year and later.
        max_changes: changes listed per target.

    Raises:
        FieldError: an unknown target code (the message lists the allowed ones).
    """
    std = standards or shipped()
    p = panel([enterprise], keys=[0], as_of_year=as_of_year)
    chosen = [std.target(c) for c in targets] if targets is not None else std.targets_for(p.tiers[0])
    return [_row(score_target(t, p), p, 0, max_changes) for t in chosen]
