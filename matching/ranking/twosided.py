"""Two-sided ranking: a match needs both sides to want it.

Each direction's ranker scores are mapped to probabilities by a :class:`Calibrator` fitted on that
direction's validation window (positive = the pair reached ``positive_grade``, by default contact
or meeting). :func:`combine` takes their weighted harmonic mean, which is dominated by the weaker
side: a pair one side loves and the other ignores (0.95, 0.05 → 0.095) ranks far below a mutual fit
(0.6, 0.6 → 0.6), where an arithmetic mean would tie them.

The probabilities are relative to the training sample (positives against sampled negatives),
not market-wide rates; both directions are sampled alike, so their combination is still fair.

:class:`TwoSidedScorer` is a :class:`~matching.ranking.scorer.Scorer`: its :meth:`~TwoSidedScorer.score`
serves each side's :class:`~matching.ranking.selection.Choice` (a model version serves it as saved).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from matching.domain.sides import POSITIVE_GRADE, Side
from matching.errors import ArtifactError
from matching.learning import metrics
from matching.learning.dataset import RankingData
from matching.learning.evaluation import EvalSet
from matching.ranking.ranker import RETRAIN, LambdaRanker
from matching.ranking.scorer import MANIFEST, read_manifest, write_manifest
from matching.ranking.selection import Choice, served_scores

logger = logging.getLogger(__name__)
METHODS = ("platt", "isotonic")
#: The served choices of both directions, next to the rankers.
SERVED_FILE = "served_scorer.json"
#: Two-sided weights (the investor side's) tried on validation: never 0 or 1, where the "two-sided" score
#: would be one side's alone under another name.
WEIGHT_GRID: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
EPS = 1e-6


class Calibrator:
    """Monotone map from ranker scores to P(positive).

    Args:
        method: ``platt`` (logistic on the score: smooth, strictly increasing) or ``isotonic``.
        positive_grade: labels at or above it count as positive.
    """

    def __init__(self, method: str = "platt", positive_grade: int = POSITIVE_GRADE) -> None:
        if method not in METHODS:
            raise ValueError(f"method: {method!r}: allowed: {', '.join(METHODS)}")
        self.method, self.positive_grade = method, positive_grade
        self.coef, self.intercept = 1.0, 0.0
        self.x_knots = np.zeros(0)
        self.y_knots = np.zeros(0)
        self.fitted = False

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit on validation scores and graded labels (both outcomes must occur)."""
        s = np.asarray(scores, dtype=np.float64)
        pos = np.asarray(labels) >= self.positive_grade
        if pos.all() or not pos.any():
            raise ValueError(f"calibration needs both outcomes; {int(pos.sum())} of {len(pos)} labels are "
                             f">= {self.positive_grade}")
        if self.method == "platt":
            lr = LogisticRegression(C=1e4).fit(s[:, None], pos)
            self.coef, self.intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if self.coef <= 0:
                logger.warning("scores do not rise with positives on this window (slope %.3g)", self.coef)
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=EPS, y_max=1 - EPS).fit(s, pos.astype(float))
            self.x_knots, self.y_knots = iso.X_thresholds_.astype(float), iso.y_thresholds_.astype(float)
        self.fitted = True
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """P(positive) for each score."""
        if not self.fitted:
            raise RuntimeError("Calibrator used before fit() or load()")
        s = np.asarray(scores, dtype=np.float64)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.coef * s + self.intercept)))
        return np.interp(s, self.x_knots, self.y_knots)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly state."""
        return {"method": self.method, "positive_grade": self.positive_grade, "coef": self.coef,
                "intercept": self.intercept, "x_knots": self.x_knots.tolist(),
                "y_knots": self.y_knots.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        """Inverse of :meth:`to_dict`."""
        self = cls(d["method"], int(d["positive_grade"]))
        self.coef, self.intercept = float(d["coef"]), float(d["intercept"])
        self.x_knots = np.asarray(d["x_knots"], dtype=float)
        self.y_knots = np.asarray(d["y_knots"], dtype=float)
        self.fitted = True
        return self

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        """Read a saved calibrator.

        Raises:
            ArtifactError: a missing or corrupt file.
        """
        if not path.exists():
            raise ArtifactError(f"no calibrator at {path}: {RETRAIN}")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{path} is corrupt ({exc}): {RETRAIN}") from exc


def combine(p_investor: np.ndarray, p_enterprise: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Weighted harmonic mean ``1 / (w / p_inv + (1 − w) / p_ent)``; ``weight`` is the investor side's.

    ``weight=1`` ranks by the investor side alone, ``0`` by the enterprise side alone.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight}")
    pi = np.clip(np.asarray(p_investor, dtype=np.float64), EPS, 1.0)
    pe = np.clip(np.asarray(p_enterprise, dtype=np.float64), EPS, 1.0)
    return 1.0 / (weight / pi + (1.0 - weight) / pe)


class TwoSidedScorer:
    """Both directions' rankers and calibrators, combined per pair.

    Args:
        investor_ranker, enterprise_ranker: the two :class:`LambdaRanker` models.
        investor_calibrator, enterprise_calibrator: their fitted calibrators.
        weight: the investor side's weight in :func:`combine`.
    """

    kind = "two_sided"

    def __init__(self, investor_ranker: LambdaRanker, enterprise_ranker: LambdaRanker,
                 investor_calibrator: Calibrator, enterprise_calibrator: Calibrator, weight: float = 0.5,
                 choices: Mapping[str, Choice] | None = None) -> None:
        self.rankers = {Side.INVESTOR: investor_ranker, Side.ENTERPRISE: enterprise_ranker}
        self.calibrators = {Side.INVESTOR: investor_calibrator, Side.ENTERPRISE: enterprise_calibrator}
        self.weight = weight
        #: the scorer each asking side serves (:mod:`matching.ranking.selection`); default the two-sided score
        self.choices: dict[str, Choice] = dict(choices or {side: Choice() for side in Side})

    def model_scores(self, side: Side, X: np.ndarray, *, num_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(the asking side's own ranker score, two-sided score)`` of feature rows seen from ``side``."""
        side = Side.parse(side)
        own = self.rankers[side].predict(X, num_threads=num_threads)
        other = self.rankers[side.other()].predict(X, num_threads=num_threads)
        s_inv, s_ent = (own, other) if side == Side.INVESTOR else (other, own)
        return own, self.combine_scores(s_inv, s_ent)[0]

    def score(self, X: np.ndarray, side: Side, *, fit: np.ndarray | None = None,
              num_threads: int = 1) -> np.ndarray:
        """The scores ``side`` serves: its :class:`~matching.ranking.selection.Choice` applied to ``X``."""
        side = Side.parse(side)
        return served_scores(self.choices[side], side, X,
                             lambda d, x: self.model_scores(d, x, num_threads=num_threads), fit=fit)

    def served(self, X: np.ndarray, side: Side | str, *, fit: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(the scores side serves, p_investor, p_enterprise)`` of feature rows ``X``: :meth:`score` and
        :meth:`pair_probabilities` of the same rows with each ranker run once (a served list's one pass)."""
        side = Side.parse(side)
        s_inv, s_ent = self.rankers[Side.INVESTOR].predict(X), self.rankers[Side.ENTERPRISE].predict(X)
        combined, p_inv, p_ent = self.combine_scores(s_inv, s_ent)
        own = s_inv if side == Side.INVESTOR else s_ent
        return served_scores(self.choices[side], side, X, lambda _d, _x: (own, combined), fit=fit), p_inv, p_ent

    def compile(self, cache: Path) -> bool:
        """Both rankers' request-path predictions from compiled trees (:meth:`LambdaRanker.compile`, cached in
        ``cache``); whether both compiled (a ranker that did not keeps LightGBM, with the reason logged)."""
        return all([ranker.compile(cache) for ranker in self.rankers.values()])

    def calibrate_on(self, sets: Mapping[str, EvalSet], *, method: str = "platt", positive_grade: int = POSITIVE_GRADE,
                     weights: Sequence[float] = WEIGHT_GRID, seed: int = 0) -> dict[str, float]:
        """Refit both calibrators on full validation candidate lists (not sampled negatives), then tune
        the two-sided weight on them by mean mutual-match@10 over the directions.

        Returns:
            mutual@10 of each weight tried (the chosen one is :attr:`weight`).
        """
        for side, ev in sets.items():
            self.calibrators[side] = Calibrator(method, positive_grade).fit(self.rankers[side].predict(ev.data.X),
                                                                            ev.data.y)
        own = {d: self.rankers[d].predict(ev.data.X) for d, ev in sets.items()}
        other = {d: self.rankers[Side.parse(d).other()].predict(ev.data.X) for d, ev in sets.items()}
        tried: dict[str, float] = {}
        best = (-1.0, self.weight)
        for w in weights:
            rates = []
            for d, ev in sets.items():
                s_inv, s_ent = (own[d], other[d]) if d == Side.INVESTOR else (other[d], own[d])
                p_inv = self.calibrators[Side.INVESTOR].predict(s_inv)
                p_ent = self.calibrators[Side.ENTERPRISE].predict(s_ent)
                rates.append(metrics.mutual_match_rate(ev.mutual, combine(p_inv, p_ent, w), ev.data.group, 10,
                                                       seed=seed))
            tried[f"{w:g}"] = float(np.nanmean(rates)) if rates else float("nan")
            if tried[f"{w:g}"] > best[0] + 1e-12:
                best = (tried[f"{w:g}"], w)
        self.weight = best[1]
        return tried

    @classmethod
    def fit_calibrators(cls, investor_ranker: LambdaRanker, enterprise_ranker: LambdaRanker,
                        valid_investor: RankingData, valid_enterprise: RankingData, *, method: str = "platt",
                        positive_grade: int = POSITIVE_GRADE, weight: float = 0.5) -> TwoSidedScorer:
        """Calibrate each ranker on its direction's validation window."""
        cal_i = Calibrator(method, positive_grade).fit(investor_ranker.predict(valid_investor.X),
                                                       valid_investor.y)
        cal_e = Calibrator(method, positive_grade).fit(enterprise_ranker.predict(valid_enterprise.X),
                                                       valid_enterprise.y)
        return cls(investor_ranker, enterprise_ranker, cal_i, cal_e, weight)

    def probabilities(self, side: Side, X: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) of one asking side."""
        return self.calibrators[side].predict(self.rankers[side].predict(X))

    def pair_probabilities(self, X_inv_dir: np.ndarray, X_ent_dir: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(combined, p_investor, p_enterprise)`` for the same pairs seen from each direction."""
        return self.combine_scores(self.rankers[Side.INVESTOR].predict(X_inv_dir),
                                   self.rankers[Side.ENTERPRISE].predict(X_ent_dir))

    def explains(self, side: Side | str) -> bool:
        """Whether the score ``side`` serves uses its ranker (whose :meth:`contributions` then explain it)."""
        return self.choices[Side.parse(side)].uses_model

    def contributions(self, side: Side | str, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions of ``side``'s ranker to each row of ``X`` (the model reasons)."""
        return self.rankers[Side.parse(side)].contributions(X)

    def combine_scores(self, s_investor: np.ndarray, s_enterprise: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`pair_probabilities` from raw ranker scores: calibrate each side, then :func:`combine`."""
        p_inv = self.calibrators[Side.INVESTOR].predict(s_investor)
        p_ent = self.calibrators[Side.ENTERPRISE].predict(s_enterprise)
        return combine(p_inv, p_ent, self.weight), p_inv, p_ent

    def save_calibrators(self, folder: Path) -> None:
        """Write ``calibrator_<side>.json`` and the served choices (``served_scorer.json``)."""
        for side, cal in self.calibrators.items():
            cal.save(folder / f"calibrator_{side}.json")
        (folder / SERVED_FILE).write_text(json.dumps({d: c.to_dict() for d, c in self.choices.items()}, indent=2,
                                                     ensure_ascii=False), encoding="utf-8")

    def save(self, folder: Path) -> Path:
        """Write both rankers (their manifests keep the encoder, window and metrics they carry), both
        calibrators, the served choices and :data:`~matching.ranking.scorer.MANIFEST` (the weight);
        return the manifest's path. (A model version records the weight in its own manifest.)"""
        for side, ranker in self.rankers.items():
            ranker.save(folder, direction=side)
        self.save_calibrators(folder)
        return write_manifest(folder, self.kind, weight=self.weight)

    @classmethod
    def load(cls, folder: Path, *, encoder_id: str | None = None, weight: float | None = None) -> TwoSidedScorer:
        """Load both rankers (checked against the code and encoder) and both calibrators.

        ``weight`` defaults to the one :meth:`save` wrote, else 0.5.
        """
        if weight is None:
            weight = float(read_manifest(folder, cls.kind).get("weight", 0.5)) if (folder / MANIFEST).exists() else 0.5
        path = folder / SERVED_FILE
        if not path.exists():
            raise ArtifactError(f"no {SERVED_FILE} in {folder} (which scorer serves is unknown): {RETRAIN}")
        try:
            choices = {d: Choice.from_dict(c) for d, c in json.loads(path.read_text(encoding="utf-8")).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArtifactError(f"{path} is corrupt ({exc}): {RETRAIN}") from exc
        if set(choices) != set(Side):
            raise ArtifactError(f"{path} names the served scorer of {sorted(choices) or 'no side'}, not of both "
                                f"sides ({', '.join(Side)}): {RETRAIN}")
        return cls(LambdaRanker.load(folder, Side.INVESTOR, encoder_id=encoder_id),
                   LambdaRanker.load(folder, Side.ENTERPRISE, encoder_id=encoder_id),
                   Calibrator.load(folder / "calibrator_investor.json"),
                   Calibrator.load(folder / "calibrator_enterprise.json"), weight, choices)
