"""Write a trained version's folder, ``models/<version>/``, atomically (the last stage of training).

Everything goes into ``models/.incoming-<version>/`` first: both rankers, the calibrators, ``metrics.json``,
the report with its plots and, last, ``manifest.json`` with every file's checksum
(:func:`matching.ranking.bundle.write_manifest`). The folder is renamed into place only when all of it is
written, so a run killed midway leaves no version behind.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matching.learning.dataset import RankingData
from matching.ranking.bundle import METRICS, json_safe, write_manifest
from matching.snapshot.core import EPOCH
from training.inputs import Inputs, Progress, say
from training.provenance import code_version, library_versions

if TYPE_CHECKING:
    from training.pipeline import Fitted


def day(t: float) -> str:
    """A snapshot time (days since the epoch) as an ISO date."""
    return (EPOCH + timedelta(days=float(t))).date().isoformat()


def _counts(data: RankingData) -> dict[str, int]:
    return {"rows": len(data), "queries": int(data.n_queries), "positives": int((data.y >= 3).sum()),
            "logged_rows": getattr(data, "logged_rows", 0), "recomputed_rows": getattr(data, "recomputed_rows", 0)}


def write_version(final: Path, fitted: Fitted, inputs: Inputs, metrics: dict[str, Any], *, started: float,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Write ``final`` (``models/<version>``) from a fitted scorer and return its manifest.

    Args:
        final: the version's folder (must not exist).
        fitted: both directions fitted and evaluated (:func:`training.pipeline.fit_and_evaluate`).
        inputs: what it was fitted on (market, encoder, impression log).
        metrics: the ``metrics.json`` content.
        started: ``time.perf_counter()`` when training began (the manifest records the duration).
        progress: called with a line per stage.
    """
    snap, enc, config, scorer = inputs.snap, inputs.encoder, fitted.config, fitted.scorer
    tmp = final.parent / f".incoming-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        say(progress, f"writing {final}")
        data_window = {k: [day(a), day(b)] for k, (a, b) in fitted.windows.items()}
        for direction, ranker in fitted.rankers.items():  # both directions
            ranker.save(tmp, direction=direction, encoder_id=enc.encoder_id, data_window=data_window,
                        metrics=fitted.results[direction]["model"]["all"])
        scorer.save_calibrators(tmp)
        (tmp / METRICS).write_text(json.dumps(json_safe(metrics), indent=2, ensure_ascii=False), encoding="utf-8")
        from training.report import write_report  # matplotlib only when a report is written

        say(progress, "writing the report")
        write_report(tmp, metrics, inputs=inputs, sets=fitted.sets, scorer=scorer, rankers=fitted.rankers,
                     seed=config.seed, scores=fitted.scores)
        rows = {d: {k: _counts(v) for k, v in parts.items()} for d, parts in fitted.data.items()}
        manifest = write_manifest(tmp, {
            "version": final.name, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "encoder_id": enc.encoder_id, "dimension": enc.dimension, "data_window": data_window,
            "windows_days": {k: [float(a), float(b)] for k, (a, b) in fitted.windows.items()},
            "rows": rows, "market": {"enterprises": snap.n_enterprises, "investors": snap.n_investors,
                                     "needs": len(snap.need_id), "events": len(snap.ev_time),
                                     "impressions": len(inputs.impressions)},
            "config": asdict(config), "seed": config.seed, "code_version": code_version(),
            "libraries": library_versions(), "weight": scorer.weight,
            "served": {d: scorer.choices[d].to_dict() for d in fitted.rankers},
            "train_seconds": round(time.perf_counter() - started, 1),
        })
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
