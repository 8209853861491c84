"""Retraining time on a bench market of about a million funnel events, phase by phase.

:func:`training_time` prepares the market (:func:`bench.scale.market.prepare`, reused when its
database exists) with synthetic vectors in the embedding cache (:func:`~bench.scale.market.fill_cache`,
under the real encoder's id, so training encodes nothing), then runs :func:`training.pipeline.train`
on the bench database and registers the version there. Phases are timed between the stage lines
``train`` reports through ``progress``; wall and process CPU seconds are both recorded (the
bench machine has two cores shared with other jobs).

    python -m bench.scale.training            # Shape(20000, 2400, 48, seed=11): ~1M events
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.scale.market import Shape, bench_url, fill_cache, prepare
from matching.config import Settings
from matching.retrieval.encoder.encoder import TextEncoder
from training.pipeline import TrainConfig, train

#: The training bench market: 20,000 enterprises, 2,400 investors, 48 months (~1M funnel events).
TRAINING_SHAPE = Shape(20_000, 2_400, 48, seed=11)

#: Stage lines of :func:`training.pipeline.train` (their first words) and the phase each one opens.
PHASES: tuple[tuple[str, str], ...] = (
    ("reading the market", "read"),
    ("loading the encoder", "encoder"),
    ("embedding", "embed"),
    ("windows", "split"),
    ("building point-in-time", "data"),
    ("fitting the investor", "fit_investor"),
    ("fitting the enterprise", "fit_enterprise"),
    ("building the holdout", "eval_set"),
    ("evaluating", "evaluate"),
    ("writing", "write"),
    ("writing the report", "report"),
    ("version", "register"),
)


class _PhaseClock:
    """Times the phases between ``train``'s stage lines (wall and process CPU seconds)."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._phase: str | None = None
        self._t = self._c = 0.0

    def __call__(self, message: str) -> None:
        phase = next((p for prefix, p in sorted(PHASES, key=lambda x: -len(x[0])) if message.startswith(prefix)),
                     None)
        if phase is not None:
            self.switch(phase)
        if self.progress is not None:
            self.progress(f"[{time.strftime('%H:%M:%S')}] {message}")

    def switch(self, phase: str | None) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if self._phase is not None:
            self.wall[self._phase] = round(self.wall.get(self._phase, 0.0) + now - self._t, 2)
            self.cpu[self._phase] = round(self.cpu.get(self._phase, 0.0) + cpu - self._c, 2)
        self._phase, self._t, self._c = phase, now, cpu


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def training_time(base_url: str, settings: Settings, encoder: TextEncoder, *, shape: Shape | None = None,
                  progress: Callable[[str], None] | None = print, config: TrainConfig | None = None,
                  seed: int = 0) -> dict[str, Any]:
    """Prepare the bench market, retrain on it and time every phase.

    Args:
        base_url: a URL of the PostgreSQL server (any database on it); the bench database
            ``capconnect_bench_<label>`` is created next to it.
        settings: paths: ``embeddings_dir`` (the bench's own cache, filled with synthetic vectors)
            and ``models_dir`` (where the version is written); ``database_url`` is set to the bench database's.
        encoder: the real encoder (its id and dimension key the cache; nothing is encoded).
        shape: the market (default :data:`TRAINING_SHAPE`).
        progress: called with each stage line, timestamped (``None``: silent).
        config: the training configuration (default :class:`TrainConfig`).
        seed: the training seed.

    Returns:
        ``events`` (funnel events), ``seconds`` (train() wall time), ``cpu_seconds``, ``phases`` and
        ``phases_cpu`` (seconds per phase), ``version``, ``bundle`` (the version's folder),
        ``primary`` (holdout mean NDCG@10), ``baselines_primary``, ``rows`` (training rows),
        ``peak_rss_mb``, ``url`` (the bench database) and ``prepare_seconds``.
    """
    shape = shape or TRAINING_SHAPE
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    prepared, _ = prepare(base_url, shape)
    written = fill_cache(settings.embedding_cache_dir, encoder.encoder_id, prepared.snapshot, encoder.dimension)
    prepare_s = time.perf_counter() - t0
    events = len(prepared.snapshot.ev_time)
    say(f"bench market {shape.label}: {prepared.rows}, {events:,} funnel events, {written:,} vectors written "
        f"({prepare_s:.0f} s)")
    del prepared
    clock = _PhaseClock(progress)
    url = bench_url(base_url, shape)
    run_settings = settings.model_copy(update={"database_url": url})
    with psycopg.connect(url, autocommit=True) as conn:
        w0, c0 = time.perf_counter(), time.process_time()
        result = train(run_settings, conn, seed=seed, encoder=encoder, show_progress=False, register=True,
                       config=config, progress=clock)
        clock.switch(None)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {
        "events": events, "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "phases": clock.wall, "phases_cpu": clock.cpu, "version": result.version, "bundle": str(result.folder),
        "primary": result.metrics["primary"], "baselines_primary": result.metrics["baselines_primary"],
        "rows": result.manifest.get("rows"), "peak_rss_mb": peak_rss_mb(), "url": url,
        "prepare_seconds": round(prepare_s, 1),
    }


def main() -> None:
    """Run :func:`training_time` on the embedded server with the bench's own cache and models folders."""
    import json
    import logging

    from matching.retrieval.encoder.encoder import ensure_default_encoder, load_encoder
    from store.database import open_database

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(embeddings_dir=Path(".capconnect/bench/embeddings-train"),
                        models_dir=Path(".capconnect/bench/models"))
    encoder = load_encoder(ensure_default_encoder(settings))
    with open_database(Settings()) as db:
        out = training_time(db.url, settings, encoder)
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
