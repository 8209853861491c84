"""``capconnect train``: read the market, train both directions, evaluate, write and register a version.

Stages (each a thin call into :mod:`matching`):

1. **Load**: the market and the impression log from PostgreSQL; embeddings through the cache.
2. **Split in time**: ``train`` (all history before the last ``valid_days + holdout_days``),
   ``valid`` (early stopping and calibration), ``holdout`` (the window promotion is judged on).
   Never a random split of time-ordered data.
3. **Data**: funnel events with features recomputed point-in-time (the History at each period's
   start), plus served lists from the impression log with the feature values actually served.
4. **Fit** a LambdaRank model per direction and calibrate both (:class:`TwoSidedScorer`).
5. **Evaluate** on the holdout over the full candidate set, beside the baselines and the active
   model, on the same rows.
6. **Write** ``models/<version>/`` atomically (a temporary folder renamed at the end), with the
   manifest written last, and register it as a ``candidate``.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import psycopg

from matching.config import Settings
from matching.domain.sides import POSITIVE_GRADE, Side
from matching.features.table import FEATURE_INDEX
from matching.learning.dataset import RankingData, build_ranking_sets, concat
from matching.learning.evaluation import BASELINES, EvalSet, rules_fit, subset
from matching.learning.impressions import impression_data
from matching.ranking.bundle import ModelBundle
from matching.ranking.ranker import LambdaRanker
from matching.ranking.selection import select
from matching.ranking.twosided import TwoSidedScorer
from matching.retrieval.encoder.encoder import TextEncoder
from matching.snapshot.core import MarketSnapshot
from store import registry
from training.artifacts import day, write_version
from training.cluster import IN_PROCESS, Batch, batch_for
from training.holdout import (
    EVAL_THREADS,
    EvalBuilder,
    eval_sets,
    evaluate,
    model_scores,
    primary_of,
    versus_best_baseline,
)
from training.inputs import (
    Inputs,
    Progress,
    TrainingError,
    embed_inputs,
    inputs_from_market,
    load_inputs,
    say,
)
from training.provenance import active_scorer, new_version_name

#: Re-exported: callers (notebooks, tests, the benchmark) import these from the pipeline.
__all__ = ["EVAL_THREADS", "EvalBuilder", "Fitted", "Inputs", "Progress", "TrainConfig",
           "TrainingError", "embed_inputs", "eval_sets", "evaluate", "fit_and_evaluate", "fit_scorer",
           "inputs_from_market", "load_inputs", "model_scores", "primary_of", "train", "windows", "windows_at"]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How a version is trained. Same data and same config give the same metrics."""

    seed: int = 0
    valid_days: float = 45.0
    holdout_days: float = 45.0
    period_days: float = 30.0
    negatives_per_query: int = 20
    impression_horizon_days: float = 30.0
    num_boost_round: int = 400
    #: Labelled training periods cover at most this many days before the validation window (``None``:
    #: the whole history). Features still read every event before each period, so older history
    #: keeps informing them; only the oldest labels go. On the 1M-event bench market (45 months of
    #: history, ``bench.scale.training``) 365 days cut training rows 3.6x and train() from 324 s to
    #: 127 s; holdout mean NDCG@10 was 0.1955 (365 days), 0.1979 (730) and 0.1974 (all), two-sided
    #: 0.2015 / 0.2009 / 0.2001: differences within ±1 %, of both signs. Markets with less history
    #: (the demo's 12 months) are unaffected.
    train_days: float | None = 365.0
    #: Features masked as missing in training and evaluation (ablations; empty in production).
    drop_features: tuple[str, ...] = ()
    #: Train on new pairs only: rows of pairs that reached a deal before their period are left out (the
    #: served task is an introduction; follow-ons are then ranked by what the features say of them).
    new_pairs_only: bool = False


def windows(snap: MarketSnapshot, config: TrainConfig) -> dict[str, tuple[float, float]]:
    """``train`` / ``valid`` / ``holdout`` windows in days, cut at the end of the event history.

    Raises:
        TrainingError: less history than the validation and holdout windows plus one period.
    """
    if len(snap.ev_time) == 0:
        raise TrainingError("the market has no funnel events: import events or generate a market first")
    first, end = float(snap.ev_time[0]), float(snap.ev_time[-1]) + 1e-6
    holdout_start = end - config.holdout_days
    valid_start = holdout_start - config.valid_days
    if valid_start - first < config.period_days:
        span = end - first
        raise TrainingError(
            f"{span:.0f} days of funnel history is too short: training needs at least "
            f"{config.period_days + config.valid_days + config.holdout_days:.0f} (one {config.period_days:.0f}-day "
            f"period, {config.valid_days:.0f} validation and {config.holdout_days:.0f} holdout days); import more "
            f"history or lower valid_days/holdout_days")
    train_start = first if config.train_days is None else max(first, valid_start - config.train_days)
    return {"train": (train_start, valid_start), "valid": (valid_start, holdout_start), "holdout": (holdout_start, end)}


def windows_at(snap: MarketSnapshot, config: TrainConfig, holdout: tuple[float, float]
               ) -> dict[str, tuple[float, float]]:
    """``train`` / ``valid`` / ``holdout`` windows for a given holdout window (a benchmark's cut):
    validation is the ``valid_days`` before it, training the ``train_days`` before that.

    Raises:
        TrainingError: no funnel event before the validation window.
    """
    start, end = holdout
    valid_start = start - config.valid_days
    first = float(snap.ev_time[0]) if len(snap.ev_time) else valid_start
    if valid_start - first < config.period_days:
        raise TrainingError(f"less than one {config.period_days:.0f}-day period of history before the validation "
                            f"window starting {day(valid_start)}: move the cut later or lower valid_days")
    train_start = first if config.train_days is None else max(first, valid_start - config.train_days)
    return {"train": (train_start, valid_start), "valid": (valid_start, start), "holdout": (start, end)}


def build_training_data(inputs: Inputs, config: TrainConfig, wins: dict[str, tuple[float, float]], *,
                        batch: Batch = IN_PROCESS) -> dict[str, dict[str, RankingData]]:
    """``{direction: {"train", "valid"}}``: recomputed point-in-time rows plus the impression log's
    (the periods run where ``batch`` runs: here, or a Dask task each; the rows are the same)."""
    out: dict[str, dict[str, RankingData]] = {d: {} for d in tuple(Side)}
    map_periods = batch.period_map(inputs.versions)
    for name in ("train", "valid"):
        start, end = wins[name]
        recomputed = build_ranking_sets(  # both directions in one pass: they share each period's History
            inputs.snap, tuple(Side), start, end, ent_vecs=inputs.ent_vecs, man_vecs=inputs.man_vecs,
            negatives_per_query=config.negatives_per_query, seed=config.seed, period_days=config.period_days,
            map_periods=map_periods)
        for direction in tuple(Side):
            logged = impression_data(inputs.snap, direction, inputs.impressions,  # type: ignore[arg-type]
                                     horizon_days=config.impression_horizon_days, start=start, end=end)
            rows = recomputed[direction]
            part = concat([rows, logged]) if len(logged) else rows
            part.logged_rows = len(logged)  # type: ignore[attr-defined]
            part.recomputed_rows = len(rows)  # type: ignore[attr-defined]
            if config.new_pairs_only:
                part = _new_pairs(part)
            out[direction][name] = part
            mask_features(part.X, config.drop_features)
    return out


def _new_pairs(data: RankingData) -> RankingData:
    """The rows of pairs that had not reached a deal (grade >= 3) before their period."""
    prior = np.nan_to_num(data.column("pair_prior_engagement").astype(np.float64), nan=0.0) >= POSITIVE_GRADE
    if not prior.any():
        return data
    out = subset(data, ~prior)
    for attr in ("logged_rows", "recomputed_rows"):
        if hasattr(data, attr):
            setattr(out, attr, getattr(data, attr))
    return out


def mask_features(X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Set the named feature columns of ``X`` to missing, in place (ablations); returns ``X``."""
    for name in names:
        X[:, FEATURE_INDEX[name]] = np.nan
    return X


@dataclass
class Fitted:
    """Both directions fitted and evaluated on the holdout window (what :func:`train` writes)."""

    config: TrainConfig
    windows: dict[str, tuple[float, float]]
    data: dict[str, dict[str, RankingData]]
    rankers: dict[str, LambdaRanker]
    scorer: TwoSidedScorer
    sets: dict[str, EvalSet]
    results: dict[str, Any]
    fit_seconds: dict[str, float]
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # holdout scores by direction, scorer
    calibration: dict[str, Any] = field(default_factory=dict)  # how calibrators and the weight were fitted

    def metrics(self, version: str, *, active_version: str | None = None, why: str = "") -> dict[str, Any]:
        """The ``metrics.json`` content: the model, every baseline and the active version per direction."""
        r = self.results
        baselines = {k: v for k, v in r["primary"].items() if k in BASELINES}
        best = max(baselines, key=lambda k: baselines[k]) if baselines else None
        return {
            "version": version,
            "primary_metric": "mean NDCG@10 on new pairs over both directions on the holdout window, served scorer",
            "primary": r["primary"]["served"],
            "served": {d: {**self.scorer.choices[d].to_dict()} for d in tuple(Side)},
            "directions": {d: r[d] for d in tuple(Side)},
            "baselines_primary": baselines,
            "best_baseline": {"name": best, "primary": baselines.get(best) if best else None,
                              "directions": versus_best_baseline(r, self.sets, self.scores, seed=self.config.seed)},
            "calibration": self.calibration,
            "compare": {"active_version": active_version, "active_primary": r["primary"].get("active"),
                        "comparable": "active" in r["primary"], "reason": why},
            "fit_seconds": self.fit_seconds,
        }


def fit_scorer(inputs: Inputs, config: TrainConfig, wins: dict[str, tuple[float, float]], *,
               eval_builder: EvalBuilder | None = None, progress: Progress | None = None,
               batch: Batch = IN_PROCESS
               ) -> tuple[dict[str, dict[str, RankingData]], dict[str, LambdaRanker], TwoSidedScorer, dict[str, Any],
                          dict[str, float]]:
    """Build the point-in-time training data, fit both rankers, calibrate them on the validation
    window's full candidate lists, tune the two-sided weight and choose each direction's served
    scorer there (:func:`matching.ranking.selection.select`). ``capconnect train`` and the real-data
    benchmark both call this.

    Returns:
        ``(data, rankers, scorer, calibration, fit_seconds)``.

    Raises:
        TrainingError: no rows in the training or validation window.
    """
    build = eval_builder or eval_sets
    say(progress, "building point-in-time training data (both directions)")
    data = build_training_data(inputs, config, wins, batch=batch)
    rankers: dict[str, LambdaRanker] = {}
    fit_seconds: dict[str, float] = {}
    for direction in tuple(Side):
        d = data[direction]
        if len(d["train"]) == 0 or len(d["valid"]) == 0:
            raise TrainingError(f"no {direction} training or validation rows: the market needs more funnel history")
        say(progress, f"fitting the {direction} ranker on {len(d['train']):,} rows ({d['train'].n_queries:,} queries)"
                      + ("" if batch is IN_PROCESS else f", {batch.where}"))
        t0 = time.perf_counter()
        rankers[direction] = batch.fit_ranker(d["train"], d["valid"], seed=config.seed,
                                              num_boost_round=config.num_boost_round)
        fit_seconds[direction] = round(time.perf_counter() - t0, 2)
    scorer = TwoSidedScorer.fit_calibrators(rankers["investor"], rankers["enterprise"], data["investor"]["valid"],
                                            data["enterprise"]["valid"])
    say(progress, "calibrating and choosing the served scorer on the validation window's full candidate lists")
    valid = {d: ev for d, ev in build(inputs, wins["valid"], config.seed).items() if len(ev)}
    calibration: dict[str, Any] = {"on": "validation window, sampled negatives", "weights_tried": {}}
    try:
        if set(valid) == set(tuple(Side)):
            calibration = {"on": "validation window, full candidate lists",
                           "weights_tried": scorer.calibrate_on(valid, seed=config.seed)}
    except ValueError as exc:  # one outcome only: keep the sampled calibration, say why
        calibration["why_not_full_lists"] = str(exc)
    calibration["weight"] = scorer.weight
    for direction, ev in valid.items():
        choice = select(ev, scorer.model_scores, fit=rules_fit(inputs.snap, ev.data), seed=config.seed)
        if choice.kind == "two_sided":  # say how much each side counts
            choice = replace(choice, why=f"{choice.why}; two-sided weight of the investor side {scorer.weight:g}")
        scorer.choices[direction] = choice
        say(progress, f"{direction}: serving {scorer.choices[direction].name} ({scorer.choices[direction].why})")
    return data, rankers, scorer, calibration, fit_seconds


def _masked(build: EvalBuilder, drop: tuple[str, ...]) -> EvalBuilder:
    if not drop:
        return build
    def masked(inputs: Inputs, window: tuple[float, float], seed: int) -> dict[str, EvalSet]:
        sets = build(inputs, window, seed)
        for ev in sets.values():
            mask_features(ev.data.X, drop)
        return sets
    return masked


def fit_and_evaluate(inputs: Inputs, config: TrainConfig | None = None, *, active: TwoSidedScorer | None = None,
                     progress: Progress | None = None, wins: dict[str, tuple[float, float]] | None = None,
                     eval_builder: EvalBuilder | None = None, batch: Batch = IN_PROCESS) -> Fitted:
    """Split in time, fit and choose the served scorer (:func:`fit_scorer`), evaluate on the holdout.

    Args:
        inputs: the market and its embeddings.
        config: windows, sampling, seed.
        active: the active version's scorer, evaluated on the same rows (``active`` in the results).
        progress: called with a line per stage.
        wins: the windows (default :func:`windows`, cut at the end of the history).
        eval_builder: the evaluation sets of a window (default :func:`eval_sets`).
        batch: where the training rows and fits run (default here; :func:`training.cluster.batch_for`).

    Raises:
        TrainingError: too little history or no rows in a window.
    """
    config = config or TrainConfig()
    wins = wins or windows(inputs.snap, config)
    build = _masked(eval_builder or eval_sets, config.drop_features)
    say(progress, "windows: " + ", ".join(f"{k} {day(a)} … {day(b)}" for k, (a, b) in wins.items()))
    data, rankers, scorer, calibration, fit_seconds = fit_scorer(inputs, config, wins, eval_builder=build,
                                                                 progress=progress, batch=batch)
    say(progress, "building the holdout evaluation sets (every eligible candidate of each query)")
    sets = build(inputs, wins["holdout"], config.seed)
    say(progress, "evaluating on the holdout window over the full candidate set, beside the baselines")
    scorers = {"model": scorer} | ({"active": active} if active is not None else {})
    scores: dict[str, dict[str, np.ndarray]] = {}
    results = evaluate(scorers, inputs, sets, seed=config.seed, keep_scores=scores)
    return Fitted(config, wins, data, rankers, scorer, sets, results, fit_seconds, scores, calibration)


def train(settings: Settings, conn: psycopg.Connection, *, seed: int = 0, version: str | None = None,
          encoder: TextEncoder | None = None, show_progress: bool = True, register: bool = True,
          config: TrainConfig | None = None, progress: Progress | None = None,
          inputs: Inputs | None = None, batch: Batch | None = None) -> ModelBundle:
    """Train, evaluate, write ``models/<version>/`` and register it as a candidate.

    Args:
        settings: paths (``models_dir``, ``data_dir``) and the encoder.
        conn: the database (market, impression log, registry).
        seed: sampling and LightGBM seed.
        version: the version name (default ``m<UTC timestamp>``).
        encoder: an already loaded encoder (default: the configured one).
        show_progress: progress bars for embedding.
        register: insert the version into ``model_versions``.
        config: windows and sampling (``seed`` overrides its seed).
        progress: called with a line per stage.
        inputs: already loaded inputs (notebooks, tests).
        batch: where the batch work runs (default: ``settings.dask_scheduler``'s cluster when set, else here).

    Raises:
        TrainingError: too little history; ValueError: a taken version name.
    """
    config = TrainConfig(**{**asdict(config or TrainConfig()), "seed": seed})
    t_start = time.perf_counter()
    if version is not None and ((settings.models_dir / version).exists()
                                or registry.get_version(conn, version) is not None):
        raise ValueError(f"version {version!r} exists already: choose another name")
    own_batch = batch is None
    batch = batch_for(settings) if batch is None else batch
    try:
        inputs = inputs or load_inputs(settings, conn, encoder=encoder, show_progress=show_progress, progress=progress,
                                       batch=batch)
        active_name, active, why = active_scorer(conn, inputs.encoder.encoder_id)
        fitted = fit_and_evaluate(inputs, config, active=active, progress=progress, batch=batch)
    finally:
        if own_batch:
            batch.close()
    models_dir = settings.models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    name = version or new_version_name(models_dir, conn)
    if (models_dir / name).exists() or registry.get_version(conn, name) is not None:
        raise ValueError(f"version {name!r} exists already: choose another name")
    metrics = fitted.metrics(name, active_version=active_name, why=why)
    final = models_dir / name
    manifest = write_version(final, fitted, inputs, metrics, started=t_start, progress=progress)
    if register:
        try:
            with conn.transaction():
                registry.register(conn, name, str(final), manifest, metrics)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
    say(progress, f"version {name}: primary {metrics['primary']:.4f} "
                   f"(affinity {fitted.results['primary'].get('affinity', float('nan')):.4f}, "
                   f"active {fitted.results['primary'].get('active', float('nan')):.4f})")
    return ModelBundle(name, final, manifest, metrics, fitted.scorer)  # as written: no need to load it back
