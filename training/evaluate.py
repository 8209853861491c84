"""``capconnect evaluate``: score a registered version again on its holdout window, beside the
baselines and another version (the active one by default), and store the comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from matching.config import Settings
from matching.ranking.bundle import ModelBundle
from matching.ranking.promotion import PromotionRefused
from matching.retrieval.encoder.encoder import TextEncoder
from store import registry
from training.pipeline import Inputs, Progress, eval_sets, evaluate, load_inputs


def evaluate_version(settings: Settings, conn: psycopg.Connection, version: str, *, against: str | None = None,
                     seed: int = 0, encoder: TextEncoder | None = None, progress: Progress | None = None,
                     inputs: Inputs | None = None, store: bool = True) -> dict[str, Any]:
    """Metrics of ``version`` (and ``against``, default the active version) on the version's holdout rows.

    With ``store``, the candidate's registry metrics get the new ``compare`` entry.

    Raises:
        PromotionRefused: an unknown version; ArtifactError: a version that does not load.
    """
    mv = registry.get_version(conn, version)
    if mv is None:
        raise PromotionRefused(f"no model version {version!r}; `capconnect models list` shows them")
    other = registry.get_version(conn, against) if against else registry.active_version(conn)
    if against and other is None:
        raise PromotionRefused(f"no model version {against!r}; `capconnect models list` shows them")
    inputs = inputs or load_inputs(settings, conn, encoder=encoder, progress=progress)
    enc_id = inputs.encoder.encoder_id
    scorers = {"model": ModelBundle.load(Path(mv.path), encoder_id=enc_id).scorer}
    if other is not None and other.version != mv.version:
        scorers["active"] = ModelBundle.load(Path(other.path), encoder_id=enc_id).scorer
    a, b = mv.manifest["windows_days"]["holdout"]
    results = evaluate(scorers, inputs, eval_sets(inputs, (a, b), seed=seed), seed=seed)
    metrics = dict(mv.metrics)
    metrics.update({
        "primary": results["primary"]["model"],
        "directions": {d: results[d] for d in ("investor", "enterprise")},
        "baselines_primary": {k: v for k, v in results["primary"].items() if k not in ("model", "active")},
        "compare": {"active_version": other.version if "active" in scorers and other else None,
                    "active_primary": results["primary"].get("active"), "comparable": "active" in scorers,
                    "reason": "" if "active" in scorers else "no other version"},
    })
    if store:
        registry.set_status(conn, mv.version, mv.status, metrics)
    return metrics
