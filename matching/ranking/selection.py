"""Which scorer serves: the ranker, the two-sided score, the best baseline or a blend, chosen on validation.

A learned ranker is not always better than a one-line heuristic: on thin data (a few dozen queries,
a new market) "most active investor first" or the category x region x stage affinity can beat it.
Training therefore scores the **validation** window's full candidate lists with every candidate
scorer and serves the best one per direction (:func:`select`); the choice and why are recorded in
the model's manifest, its report and ``served_scorer.json`` next to the rankers, and serving ranks
with exactly :func:`served_scores` (evaluation calls the same function).

Candidates per direction:

* ``model``: the direction's own LambdaRank score;
* ``two_sided``: the calibrated harmonic mean of both directions (:mod:`matching.ranking.twosided`);
* every servable baseline (:data:`matching.learning.evaluation.SERVABLE_BASELINES`), computed from the same
  feature rows (:func:`matching.learning.evaluation.feature_baseline`);
* ``blend``: ``model + w * z(baseline)`` with the best baseline standardised by its validation mean
  and deviation (constants, so a list is scored the same whatever else is in it), ``w`` on a grid.

The criterion is mean NDCG@10 on the validation window's **new pairs** (pairs that never reached a
deal before: an introduction, the served task), ties going to the simpler scorer (baseline, then
model, then blend).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from matching.domain.sides import Side
from matching.learning.evaluation import SERVABLE_BASELINES, EvalSet, feature_baseline, per_query_ndcg

#: Blend weights of the standardised baseline tried on validation.
BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
#: The subset the choice is judged on (see :data:`matching.learning.evaluation.SUBSETS`).
SELECTION_SUBSET = "new_pairs"
#: Scorer kinds a :class:`Choice` may name.
KINDS: tuple[str, ...] = ("model", "two_sided", "baseline", "blend")
_SENTINEL = 1e5  # baseline values beyond this are "missing" or "incumbent" markers, not scale


@dataclass(frozen=True)
class Choice:
    """The scorer one asking side serves.

    Attributes:
        kind: ``model``, ``two_sided``, ``baseline`` or ``blend``.
        baseline: the baseline (``baseline`` and ``blend``).
        weight: the standardised baseline's weight in a blend.
        center, scale: the baseline's validation mean and deviation (blend only).
        why: one line for people: the validation figures behind the choice.
        validation: validation NDCG@10 of every candidate scorer.
    """

    kind: str = "two_sided"
    baseline: str | None = None
    weight: float = 0.0
    center: float = 0.0
    scale: float = 1.0
    why: str = "default: no selection was run"
    validation: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: {self.kind!r}: allowed: {', '.join(KINDS)}")
        if self.kind in ("baseline", "blend") and self.baseline not in SERVABLE_BASELINES:
            raise ValueError(f"baseline: {self.baseline!r}: allowed: {', '.join(SERVABLE_BASELINES)}")

    @property
    def name(self) -> str:
        """The scorer's name in reports: ``model``, ``two_sided``, the baseline's, or ``blend(affinity, 0.5)``."""
        if self.kind == "baseline":
            return str(self.baseline)
        if self.kind == "blend":
            return f"blend({self.baseline}, {self.weight:g})"
        return self.kind

    @property
    def uses_model(self) -> bool:
        """Whether the ranker takes part (its contributions may then explain a list)."""
        return self.kind != "baseline"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``name`` included for readers)."""
        return {**asdict(self), "name": self.name}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Choice:
        """Inverse of :meth:`to_dict` (``name`` ignored)."""
        return cls(kind=str(d["kind"]), baseline=d.get("baseline"), weight=float(d.get("weight", 0.0)),
                   center=float(d.get("center", 0.0)), scale=float(d.get("scale", 1.0)), why=str(d.get("why", "")),
                   validation={str(k): float(v) for k, v in dict(d.get("validation", {})).items()})


#: ``(side, X) -> (the asking side's own model score, two-sided score)`` of feature rows.
ModelScores = Callable[[Side, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _standardise(values: np.ndarray, center: float, scale: float) -> np.ndarray:
    v = np.clip(np.asarray(values, dtype=np.float64), -_SENTINEL, _SENTINEL)
    return np.clip((v - center) / scale, -5.0, 5.0)


def served_scores(choice: Choice, side: Side, X: np.ndarray, model: ModelScores, *,
                  fit: np.ndarray | None = None) -> np.ndarray:
    """The scores the asking ``side`` serves for feature rows ``X`` (evaluation and serving both call this)."""
    if choice.kind == "baseline":
        return feature_baseline(str(choice.baseline), X, side, fit=fit)
    own, two_sided = model(side, X)
    if choice.kind == "model":
        return own
    if choice.kind == "two_sided":
        return two_sided
    base = feature_baseline(str(choice.baseline), X, side, fit=fit)
    return own + choice.weight * _standardise(base, choice.center, choice.scale)


def select(ev: EvalSet, model: ModelScores, *, fit: np.ndarray | None = None, seed: int = 0,
           subset_name: str = SELECTION_SUBSET) -> Choice:
    """Choose a direction's served scorer on its validation evaluation set (full candidate lists).

    Args:
        ev: the validation window's evaluation set of one direction.
        model: the fitted model's scores of feature rows.
        fit: structured fit of each row (the ``rules`` baseline), if known.
        seed: tie-break seed of the metric.
        subset_name: the subset judged (default :data:`SELECTION_SUBSET`; ``all`` when it is empty).
    """
    side = Side.parse(ev.data.direction)
    X = ev.data.X
    own, two_sided = model(side, X)
    n_queries = per_query_ndcg(ev, own, subset_name, seed=seed).size
    if not n_queries:
        subset_name = "all"
        n_queries = per_query_ndcg(ev, own, subset_name, seed=seed).size
    score = lambda s: float(np.mean(per_query_ndcg(ev, s, subset_name, seed=seed)))  # noqa: E731
    base = {b: feature_baseline(b, X, side, fit=fit) for b in SERVABLE_BASELINES}
    values: dict[str, float] = {b: score(s) for b, s in base.items()}
    best_base = max(SERVABLE_BASELINES, key=lambda b: (values[b], -SERVABLE_BASELINES.index(b)))
    values["model"], values["two_sided"] = score(own), score(two_sided)
    blend_base = max((b for b in SERVABLE_BASELINES if b != "incumbents_then_affinity"), key=lambda b: values[b])
    raw = np.asarray(base[blend_base], dtype=np.float64)
    clean = raw[np.abs(raw) < _SENTINEL]
    center = float(clean.mean()) if clean.size else 0.0
    scale = float(clean.std()) if clean.size and clean.std() > 0 else 1.0
    z = _standardise(raw, center, scale)
    best_blend, best_w = -np.inf, 0.0
    for w in BLEND_WEIGHTS:
        v = score(own + w * z)
        values[f"blend({blend_base}, {w:g})"] = v
        if v > best_blend:
            best_blend, best_w = v, w
    options = [  # simplest first: a tie goes to the earlier one
        (values[best_base], Choice("baseline", best_base)),
        (values["model"], Choice("model")),
        (values["two_sided"], Choice("two_sided")),
        (best_blend, Choice("blend", blend_base, best_w, center, scale)),
    ]
    top, pick = options[0]
    for v, c in options[1:]:
        if v > top + 1e-12:
            top, pick = v, c
    why = (f"validation NDCG@10 on {subset_name} ({n_queries} queries): {pick.name} {top:.4f}; "
           f"model {values['model']:.4f}, two_sided {values['two_sided']:.4f}, best baseline {best_base} "
           f"{values[best_base]:.4f}, best blend {best_blend:.4f}")
    return Choice(pick.kind, pick.baseline, pick.weight, pick.center, pick.scale, why,
                  {k: round(v, 6) for k, v in values.items()})
