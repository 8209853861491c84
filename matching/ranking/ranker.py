"""The learned ranker: LightGBM LambdaRank on graded funnel labels, one model per asking side.

A :class:`~matching.ranking.scorer.Scorer`. The artifact is LightGBM's text model ``ranker_<side>.txt``
plus a manifest ``ranker_<side>.json`` (ordered feature names, a hash of the feature declaration, encoder id,
data window, library versions, parameters, best iteration, metrics). :meth:`LambdaRanker.load`
refuses a model whose features or encoder differ from the running code, and says to retrain.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightgbm as lgb
import numpy as np

from matching.domain.sides import Side
from matching.errors import ArtifactError
from matching.features.table import FEATURE_NAMES, features_hash
from matching.learning import metrics
from matching.learning.dataset import RankingData
from matching.ranking.compiled import CompiledTrees, compile_trees
from matching.ranking.treepaths import PathExplainer

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1
#: Gain of grades 0..5 (dismissed … invested): 2^g − 1, so an investment outweighs many views.
LABEL_GAIN = [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]
RETRAIN = "retrain with `capconnect train`"
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "label_gain": LABEL_GAIN,
    "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20, "feature_fraction": 0.9,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "lambdarank_truncation_level": 20,
    "deterministic": True, "force_row_wise": True, "verbosity": -1,
}
#: Below this many training rows one thread is faster: on the 2-core box, 240k rows × 100 rounds took
#: 4.3 s with 1 thread and 13–23 s with 2 (OpenMP spin-waits when another process holds a core).
SMALL_DATA_ROWS = 1_000_000


def ndcg_at_k(y: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k over queries with a positive label (:func:`matching.learning.metrics.ndcg_at_k`, seed 0)."""
    return metrics.ndcg_at_k(y, scores, group, k)


class _EarlyStopping:
    """Stop when the first validation metric has not improved for ``patience`` rounds, never before
    ``min_rounds`` (NDCG on a short window is noisy early on; LightGBM's callback has no floor)."""

    order = 30

    def __init__(self, patience: int, min_rounds: int) -> None:
        self.patience, self.min_rounds = patience, min_rounds
        self.best_score, self.best_iter, self.best_eval = -np.inf, 0, None
        self.curve: list[float] = []  # the watched metric after each round

    def __call__(self, env: Any) -> None:
        if not env.evaluation_result_list:
            return
        score = env.evaluation_result_list[0][2]
        self.curve.append(float(score))
        it = env.iteration + 1
        if score > self.best_score:
            self.best_score, self.best_iter, self.best_eval = score, it, env.evaluation_result_list
        if it >= self.min_rounds and it - self.best_iter >= self.patience:
            raise lgb.callback.EarlyStopException(self.best_iter - 1, self.best_eval)


def replay_early_stopping(curve: list[float], *, patience: int = 30, min_rounds: int = 50) -> tuple[int, bool]:
    """:meth:`LambdaRanker.fit`'s early stopping replayed on a validation curve (the watched metric after
    each round) computed elsewhere: ``(the round it keeps, whether it stopped within the curve)``. The Dask
    fit trains in blocks of rounds and asks this after each (one stopping rule: the same
    :class:`_EarlyStopping`). ``(0, False)`` for an empty curve."""
    stopper = _EarlyStopping(patience, min_rounds)
    for i, score in enumerate(curve):
        env = SimpleNamespace(iteration=i, evaluation_result_list=[("valid", "ndcg@10", float(score), True)])
        try:
            stopper(env)
        except lgb.callback.EarlyStopException:
            return int(stopper.best_iter), True
    return int(stopper.best_iter), False


class LambdaRanker:
    """LightGBM LambdaRank over :data:`~matching.features.table.FEATURES`.

    Args:
        params: LightGBM parameters overriding :data:`DEFAULT_PARAMS`. ``num_threads`` defaults to 1
            below :data:`SMALL_DATA_ROWS` training rows and 2 above (results are deterministic for a
            given thread count, and the count follows from the data).
        seed: every LightGBM seed (same data, same seed, same model).
    """

    def __init__(self, params: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.params: dict[str, Any] = {**DEFAULT_PARAMS, **(params or {}), "seed": seed}
        self.seed = seed
        self.booster: lgb.Booster | None = None
        self.best_iteration = 0
        self.manifest: dict[str, Any] = {}
        #: the asking side whose lists this ranker orders (known once fitted or loaded)
        self.side: Side | None = None
        self._paths: PathExplainer | None = None  # built on first use, from the fitted or loaded booster
        self._compiled: CompiledTrees | None = None  # request-path predictions (:meth:`compile`)

    def fit(self, train: RankingData, valid: RankingData | None = None, *, num_boost_round: int = 400,
            early_stopping_rounds: int = 30, min_boost_round: int = 50) -> LambdaRanker:
        """Train; with ``valid`` (a *later* time window), stop early on its NDCG@10.

        Early stopping keeps the best iteration on ``valid``, and looks for it from the start but
        stops no earlier than ``min_boost_round``.
        """
        if len(train) == 0:
            raise ValueError("training data is empty: widen the window or generate more history")
        if tuple(train.feature_names) != FEATURE_NAMES:
            raise ValueError("training data was built with another feature list: rebuild it")
        params = dict(self.params)
        params.setdefault("num_threads", 1 if len(train) < SMALL_DATA_ROWS else 2)
        self.params = params
        dtrain = lgb.Dataset(train.X, label=train.y, group=train.group, feature_name=list(FEATURE_NAMES),
                             free_raw_data=False, params={"verbosity": -1})
        callbacks: list[Any] = [lgb.log_evaluation(0)]
        stopper: _EarlyStopping | None = None
        valid_sets = []
        if valid is not None and len(valid):
            if valid.window[0] < train.window[1] - 1e-9:
                logger.warning("validation window starts before the training window ends: not a time split")
            valid_sets = [lgb.Dataset(valid.X, label=valid.y, group=valid.group, reference=dtrain)]
            stopper = _EarlyStopping(early_stopping_rounds, min_boost_round)
            callbacks.append(stopper)
        self._paths, self._compiled = None, None
        self.side = Side.parse(train.direction)
        self.booster = lgb.train(params, dtrain, num_boost_round=num_boost_round, valid_sets=valid_sets,
                                 valid_names=["valid"][:len(valid_sets)], callbacks=callbacks)
        # the best round on valid, also when the rounds ran out before the patience did
        self.best_iteration = int(stopper.best_iter if stopper and stopper.best_iter
                                  else self.booster.current_iteration())
        #: LightGBM's validation NDCG@10 after each round (what early stopping watched)
        self.valid_curve: list[float] = stopper.curve if stopper else []
        logger.info("trained %s ranker: %d rows, %d queries, best iteration %d", train.direction, len(train),
                    train.n_queries, self.best_iteration)
        return self

    @classmethod
    def from_booster(cls, booster: lgb.Booster, side: Side | str, *, params: dict[str, Any], seed: int,
                     best_iteration: int, valid_curve: list[float]) -> LambdaRanker:
        """A ranker around a booster trained elsewhere with :data:`DEFAULT_PARAMS` (the Dask fit,
        ``training.dask_train``): saved, loaded and served like one from :meth:`fit`."""
        self = cls(params=params, seed=seed)
        self.booster, self.side = booster, Side.parse(side)
        self.best_iteration = int(best_iteration or booster.current_iteration())
        self.valid_curve = list(valid_curve)
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the compiled code (native, for this machine): :meth:`compile` again after loading."""
        return {**self.__dict__, "_compiled": None}

    def _model(self) -> lgb.Booster:
        if self.booster is None:
            raise RuntimeError("LambdaRanker used before fit() or load()")
        return self.booster

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"expected features of shape (n, {len(FEATURE_NAMES)}), got {X.shape}")
        return X

    def predict(self, X: np.ndarray, *, num_threads: int = 1) -> np.ndarray:
        """Ranking scores (higher is better; comparable within a query).

        ``num_threads`` stays 1 on request paths; offline evaluation of millions of rows passes more
        (the scores do not depend on it).
        """
        X = self._check(X)
        if len(X) == 0:
            return np.zeros(0, dtype=np.float64)
        if num_threads == 1 and self._compiled is not None:  # the same trees, compiled and checked (:meth:`compile`)
            return self._compiled.predict(X)
        return np.asarray(self._model().predict(X, num_iteration=self.best_iteration, num_threads=num_threads))

    def compile(self, cache: Path) -> bool:
        """Answer one-thread :meth:`predict` calls (the request paths) with the trees compiled to native
        code (:mod:`matching.ranking.compiled`, cached in ``cache``), checked against LightGBM's scores on
        load. Returns whether the compiled model serves (``False``: LightGBM does, and the reason is logged)."""
        self._compiled = compile_trees(self._model(), cache, self.best_iteration)
        if self._compiled is not None:
            logger.info("%s ranker: compiled trees serve (%s)", self.side, self._compiled.path.name)
        return self._compiled is not None

    @property
    def compiled(self) -> bool:
        """Whether one-thread predictions come from compiled trees (:meth:`compile`)."""
        return self._compiled is not None

    def score(self, X: np.ndarray, side: Side, *, fit: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict` of one list asked by ``side`` (``fit`` is a feature already; unused).

        Raises:
            ValueError: ``side`` is not the side this ranker was trained for.
        """
        side = Side.parse(side)
        if self.side is not None and side != self.side:
            raise ValueError(f"this ranker orders the {self.side} side's lists, not the {side} side's: "
                             f"load ranker_{side}")
        return self.predict(X)

    def contributions(self, X: np.ndarray, *, method: str = "path") -> np.ndarray:
        """Per-feature contributions, ``(n, len(FEATURES) + 1)``; the last one is the bias. They sum to the score.

        ``path`` (default, served lists): decision-path attribution (:mod:`matching.ranking.treepaths`), about
        20× faster than ``shap`` (LightGBM's TreeSHAP ``pred_contrib``, for offline analysis).
        """
        X = self._check(X)
        if method == "shap":
            return np.asarray(self._model().predict(X, num_iteration=self.best_iteration, pred_contrib=True,
                                                    num_threads=1))
        if method != "path":
            raise ValueError(f"method must be 'path' or 'shap', got {method!r}")
        if self._paths is None:
            self._paths = PathExplainer(self._model(), self.best_iteration)
        return self._paths.contributions(X)

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature."""
        gain = self._model().feature_importance(importance_type="gain", iteration=self.best_iteration)
        return {n: float(g) for n, g in zip(FEATURE_NAMES, gain, strict=True)}

    def save(self, folder: Path, *, direction: str | None = None, encoder_id: str | None = None,
             data_window: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``ranker_<direction>.txt`` and its manifest into ``folder``; return the manifest path.

        Arguments left out keep what the ranker knows: its side, and the encoder, data window and
        metrics of the manifest it was loaded with (else empty).

        Raises:
            ValueError: no ``direction`` for a ranker that was neither fitted nor loaded.
        """
        model = self._model()
        direction = direction or self.side
        if direction is None:
            raise ValueError("save: pass direction='investor' or 'enterprise' (the ranker's side is unknown)")
        known = self.manifest
        encoder_id = known.get("encoder_id", "") if encoder_id is None else encoder_id
        data_window = dict(known.get("data_window", {})) if data_window is None else data_window
        metrics = dict(known.get("metrics", {})) if metrics is None else metrics
        folder.mkdir(parents=True, exist_ok=True)
        model.save_model(str(folder / f"ranker_{direction}.txt"), num_iteration=self.best_iteration)
        self.manifest = {
            "format": FORMAT_VERSION, "direction": direction, "features": list(FEATURE_NAMES),
            "features_hash": features_hash(), "encoder_id": encoder_id, "data_window": data_window,
            "versions": {p: version(p) for p in ("lightgbm", "numpy", "scikit-learn")},
            "params": {k: v for k, v in self.params.items()}, "seed": self.seed,
            "best_iteration": self.best_iteration, "metrics": metrics,
        }
        path = folder / f"ranker_{direction}.json"
        text = json.dumps(self.manifest, indent=2, ensure_ascii=False, default=float)
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path, direction: str | None = None, *, encoder_id: str | None = None) -> LambdaRanker:
        """Load a saved ranker, checking it against the running code.

        Args:
            folder: where :meth:`save` wrote it.
            direction: the side to load; may be left out when ``folder`` holds one ranker only.
            encoder_id: the active encoder, which the ranker must have been trained with (unchecked if ``None``).

        Raises:
            ArtifactError: missing or corrupt files, another feature list, or another encoder.
        """
        if direction is None:
            saved = sorted(p.name[len("ranker_"):-len(".json")] for p in folder.glob("ranker_*.json"))
            if len(saved) != 1:
                raise ArtifactError(f"{folder} holds {len(saved)} rankers ({', '.join(saved) or 'none'}): "
                                    f"name the side to load, or {RETRAIN}")
            direction = saved[0]
        model_path, man_path = folder / f"ranker_{direction}.txt", folder / f"ranker_{direction}.json"
        for path in (model_path, man_path):
            if not path.exists():
                raise ArtifactError(f"no {direction} ranker at {folder} ({path.name} missing): {RETRAIN}")
        try:
            m = json.loads(man_path.read_text(encoding="utf-8"))
            features, saved_hash = list(m["features"]), m["features_hash"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{man_path} is corrupt ({exc}): {RETRAIN}") from exc
        if m.get("format") != FORMAT_VERSION:
            raise ArtifactError(f"{man_path} has format {m.get('format')}, code expects {FORMAT_VERSION}: "
                                f"{RETRAIN}")
        if features != list(FEATURE_NAMES) or saved_hash != features_hash():
            missing = [f for f in FEATURE_NAMES if f not in features]
            extra = [f for f in features if f not in FEATURE_NAMES]
            raise ArtifactError(
                f"the {direction} ranker at {folder} was trained on other features than the code computes "
                f"(missing: {missing or '-'}, unknown: {extra or '-'}, "
                f"hash {saved_hash} vs {features_hash()}): {RETRAIN}")
        if encoder_id is not None and m.get("encoder_id") != encoder_id:
            raise ArtifactError(f"the {direction} ranker at {folder} was trained with encoder "
                                f"{m.get('encoder_id')!r} but the active encoder is {encoder_id!r}: "
                                f"{RETRAIN}")
        try:
            booster = lgb.Booster(model_file=str(model_path))
        except lgb.basic.LightGBMError as exc:
            raise ArtifactError(f"{model_path} is unreadable ({exc}): {RETRAIN}") from exc
        if booster.feature_name() != list(FEATURE_NAMES):
            raise ArtifactError(f"{model_path} does not hold the features its manifest lists: {RETRAIN}")
        self = cls(params=m.get("params"), seed=int(m.get("seed", 0)))
        self.booster, self.best_iteration, self.manifest = booster, int(booster.current_iteration()), m
        self.side = Side.parse(str(m.get("direction", direction)))
        return self
