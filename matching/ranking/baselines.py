"""The scorers without a trained model: the servable baselines and the content-rules score.

:class:`BaselineScorer` wraps :func:`matching.learning.evaluation.feature_baseline` (the one definition
of each servable baseline, which evaluation, model selection and serving all call) and
:class:`ContentRulesScorer` wraps :func:`content_rules_score` (what serves without a model), both in the
:class:`~matching.ranking.scorer.Scorer` interface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matching.domain.sides import Side
from matching.errors import ArtifactError
from matching.learning.evaluation import SERVABLE_BASELINES, feature_baseline
from matching.ranking.scorer import MANIFEST, RESAVE, read_manifest, write_manifest


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
