"""The scorers without a trained model: the servable baselines and the content-rules score.

:func:`feature_baseline` is the one definition of each servable baseline, computed from one list's
feature rows; evaluation (:func:`matching.learning.evaluation.baseline_scores`), model selection
(:mod:`matching.ranking.selection`) and serving all call it. :class:`BaselineScorer` and
:class:`ContentRulesScorer` wrap them in the :class:`~matching.ranking.scorer.Scorer` interface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matching.domain.sides import POSITIVE_GRADE, Side
from matching.errors import ArtifactError
from matching.ranking.features import FEATURE_INDEX
from matching.ranking.scorer import MANIFEST, RESAVE, read_manifest, write_manifest

#: Baselines a model version may serve instead of its ranker (computable from one list's features).
SERVABLE_BASELINES: tuple[str, ...] = ("popularity", "rules", "affinity", "similarity", "incumbents_then_affinity")
#: A missing feature value (no past deals) ranks a baseline's candidate last, never first.
_FLOOR = -1e6
#: The structured-fit features whose mean stands in for the fit of pairs without a need.
_FIT_FEATURES: tuple[str, ...] = ("sector_cluster", "stage_fit", "instrument_fit", "tier_fit", "board_fit")


def feature_baseline(name: str, X: np.ndarray, side: str, *, fit: np.ndarray | None = None) -> np.ndarray:
    """One servable baseline's score from feature rows: the one definition used by evaluation, model
    selection and serving.

    Args:
        name: one of :data:`SERVABLE_BASELINES`.
        X: feature rows (columns in :data:`~matching.ranking.features.FEATURE_NAMES` order).
        side: who asks: ``investor`` (queries are investors) or ``enterprise``.
        fit: the structured mandate fit of each pair (``rules``); without it, the mean of the fit
            features.

    Raises:
        ValueError: an unknown baseline name.
    """
    col = lambda n: np.asarray(X[:, FEATURE_INDEX[n]], dtype=np.float64)  # noqa: E731
    if name == "popularity":
        return np.nan_to_num(col("ent_popularity" if side == Side.INVESTOR else "inv_positives"), nan=0.0)
    if name == "rules":
        if fit is not None:
            return np.asarray(fit, dtype=np.float64)
        return sum(np.nan_to_num(col(n), nan=0.0) for n in _FIT_FEATURES) / len(_FIT_FEATURES)
    if name == "affinity":
        return np.nan_to_num(col("affinity"), nan=_FLOOR)
    if name == "similarity":
        return np.nan_to_num(col("semantic_sim"), nan=-1.0)
    if name == "incumbents_then_affinity":
        incumbent = np.nan_to_num(col("pair_prior_engagement"), nan=0.0) >= POSITIVE_GRADE
        return np.nan_to_num(col("affinity"), nan=_FLOOR) + 1e7 * incumbent
    raise ValueError(f"baseline: {name!r}: allowed: {', '.join(SERVABLE_BASELINES)}")


class BaselineScorer:
    """One servable baseline (:func:`feature_baseline`) as a :class:`~matching.ranking.scorer.Scorer`.

    Args:
        name: one of :data:`SERVABLE_BASELINES`.

    Raises:
        ValueError: an unknown baseline name.
    """

    kind = "baseline"

    def __init__(self, name: str) -> None:
        if name not in SERVABLE_BASELINES:
            raise ValueError(f"baseline: {name!r}: allowed: {', '.join(SERVABLE_BASELINES)}")
        self.name = name

    def score(self, X: np.ndarray, side: Side, *, fit: np.ndarray | None = None) -> np.ndarray:
        """:func:`feature_baseline` of the rows."""
        return feature_baseline(self.name, np.asarray(X), Side(side), fit=fit)

    def save(self, folder: Path) -> Path:
        """Write :data:`~matching.ranking.scorer.MANIFEST` (kind and baseline name)."""
        return write_manifest(folder, self.kind, baseline=self.name)

    @classmethod
    def load(cls, folder: Path) -> BaselineScorer:
        """Read a saved baseline scorer; refuses a baseline this code does not compute."""
        name = read_manifest(folder, cls.kind).get("baseline")
        if name not in SERVABLE_BASELINES:
            raise ArtifactError(f"{folder / MANIFEST} names baseline {name!r}: allowed: "
                                f"{', '.join(SERVABLE_BASELINES)}; {RESAVE}")
        return cls(str(name))


def content_rules_score(sim: np.ndarray, fit: np.ndarray, sim_weight: float = 0.35) -> np.ndarray:
    """The transparent score without a model: similarity *rank* among the candidates plus structured fit.

    Embedding cosines are compressed (related and unrelated texts differ by a few hundredths), so the
    similarity enters as its percentile within the list, never as an absolute value.
    """
    n = len(sim)
    if n == 0:
        return np.zeros(0)
    ranks = np.argsort(np.argsort(sim, kind="stable"), kind="stable")
    pct = ranks / max(n - 1, 1)
    return sim_weight * pct + (1.0 - sim_weight) * np.asarray(fit, dtype=np.float64)


class ContentRulesScorer:
    """What serves without a trained model: :func:`content_rules_score` of the list's semantic
    similarity and each pair's structured fit.

    Args:
        sim_weight: the similarity percentile's weight (the fit gets the rest).
    """

    kind = "content_rules"

    def __init__(self, sim_weight: float = 0.35) -> None:
        if not 0.0 <= sim_weight <= 1.0:
            raise ValueError(f"sim_weight must lie in [0, 1], got {sim_weight}")
        self.sim_weight = sim_weight

    def score(self, X: np.ndarray, side: Side, *, fit: np.ndarray | None = None,
              sim: np.ndarray | None = None) -> np.ndarray:
        """:func:`content_rules_score` of one list.

        ``sim`` overrides the ``semantic_sim`` column (serving passes the cosines it computed in
        ``float64``, so ties rank as they always have); without ``fit``, the rules baseline's fit.
        """
        X = np.asarray(X)
        if sim is None:
            sim = feature_baseline("similarity", X, side)
        if fit is None:
            fit = feature_baseline("rules", X, side)
        return content_rules_score(sim, fit, self.sim_weight)

    def save(self, folder: Path) -> Path:
        """Write :data:`~matching.ranking.scorer.MANIFEST` (kind and weight)."""
        return write_manifest(folder, self.kind, sim_weight=self.sim_weight)

    @classmethod
    def load(cls, folder: Path) -> ContentRulesScorer:
        """Read a saved content-rules scorer."""
        manifest = read_manifest(folder, cls.kind)
        try:
            return cls(float(manifest["sim_weight"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{folder / MANIFEST} is corrupt ({exc}): {RESAVE}") from exc
