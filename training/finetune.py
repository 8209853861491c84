"""``capconnect train --encoder``: fine-tune the text encoder on past positive pairs, keep it only if
retrieval improves on the validation window.

Stages:

1. **Load** the market and the active encoder; embed every profile and mandate with it (cached, the
   same vectors the ranker pipeline uses).
2. **Pairs** (:func:`training_pairs`): distinct (investor, enterprise) pairs with a funnel event of
   grade ≥ 3 in the *train* window only (the windows of :func:`training.pipeline.windows`), at most
   ``max_pairs`` of them, sampled with the seed. The cap bounds the time on 2 CPU cores: one step of
   16 pairs took 11–19 s on a shared 2-core machine (load 6–8), so 1,024 pairs and one epoch took
   10–21 minutes there; ``FitConfig.max_seconds`` stops the loop (and says so) if it runs longer.
3. **Fit** with sentence-transformers' ``MultipleNegativesRankingLoss``: the mandate text with the
   folder's ``"query"`` prompt against the profile text with its ``"passage"`` prompt (the prompts
   :class:`~matching.retrieval.encoder.encoder.SentenceTransformerEncoder` applies), the other profiles of the
   batch as negatives. A batch never holds one investor or one enterprise twice (that would turn a
   true pair into a negative). Only the top ``train_layers`` transformer layers learn: the
   250k-row word embedding table is 80 % of the weights, and freezing it and the lower layers
   made a step ≈ 2× cheaper (no backward pass below layer 9, no optimiser state for 110M weights)
   and overfits less on a thousand pairs.
   The batches and the loop are :mod:`matching.retrieval.encoder.tuning`.
4. **Evaluate** (:func:`validation_queries`, :func:`retrieval_recall`): for each investor with a
   *new* positive in the validation window (a pair not already positive before it, so memorising
   training pairs earns nothing), rank every enterprise by the cosine of mandate and profile and
   measure recall@10 and recall@50: the base and the fine-tuned encoder on the same queries and
   candidates. The fine-tuned one is evaluated in memory; the folder saved when it is kept holds
   exactly those weights (float16 storage only where float16 is exact).
5. **Decide**: keep only when recall@50 improves by more than ``min_gain``. A kept encoder is the
   folder ``data_dir/encoders/<base>-ft-<UTC time>`` (manifest ``capconnect_encoder.json`` with its
   own ``encoder_id``, the base id, pairs, windows, seed and metrics), and the ``ACTIVE`` pointer
   beside it makes it the encoder of later commands (``ensure_default_encoder``).
   Model versions trained with the previous encoder then refuse it, by design. Not kept: nothing on
   disk changes. Deleting ``data_dir/encoders/ACTIVE`` returns to the default encoder.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from matching.config import Settings
from matching.domain.sides import POSITIVE_GRADE
from matching.retrieval.embeddings import EmbeddingCache, Kind, embed, text_key
from matching.retrieval.encoder.convert import MANIFEST_NAME, make_world_readable, pin_tokenizer_class
from matching.retrieval.encoder.encoder import (
    SentenceTransformerEncoder,
    ensure_default_encoder,
    load_encoder,
    set_active_encoder,
)
from matching.retrieval.encoder.pairs import RetrievalQueries, retrieval_recall, training_pairs, validation_queries
from matching.retrieval.encoder.tuning import FitConfig, fit_pairs, plan_batches
from matching.snapshot.core import EPOCH, MarketSnapshot
from training.inputs import Progress, TrainingError, say
from training.pipeline import TrainConfig, load_inputs, windows
from training.provenance import library_versions

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_PAIRS", "FinetuneOutcome", "finetune_encoder"]

DEFAULT_MAX_PAIRS = 1024  # 10–21 min for one epoch on a busy 2-core machine (see the module docstring)
DECIDING = "recall@50"


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------


def _lossless_fp16(folder: Path) -> None:
    """Store as float16 every tensor that float16 holds exactly (the frozen ones, loaded from
    float16 storage); trained tensors stay float32 so no fine-tuning is rounded away."""
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    out = {}
    for name, t in tensors.items():
        if t.dtype == torch.float32 and torch.equal(t.to(torch.float16).to(torch.float32), t):
            t = t.to(torch.float16)
        out[name] = t.contiguous()
    save_file(out, str(path), metadata={"format": "pt"})


def _new_name(root: Path, base_id: str) -> str:
    stem = base_id.split("-ft-")[0]  # a fine-tune of a fine-tune is named after the original model
    base = f"{stem}-ft-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    name, n = base, 1
    while (root / name).exists() or (root / f".{name}.incoming").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


@dataclass
class FinetuneOutcome:
    """What one fine-tuning run did and measured.

    Attributes:
        base_id: the encoder it started from.
        new_id: the fine-tuned encoder's id (also its folder name).
        kept: the fine-tuned encoder replaced the base one (recall@50 improved by more than ``min_gain``).
        base_recall, new_recall: ``{"recall@10", "recall@50"}`` on the validation window, same queries.
        queries: investors evaluated (with a new positive in the validation window).
        pairs: training pairs used; available_pairs: before the cap.
        steps, planned_steps: optimiser steps done and planned (fewer when the time budget ran out).
        seconds: wall time of the whole run.
        path: the kept folder, else ``None``.
        windows: ``{"train", "valid"}`` as ISO dates.
        note: anything the caller must know (e.g. ``CAPCONNECT_ENCODER_PATH`` overrides the pointer).
    """

    base_id: str
    new_id: str
    kept: bool
    base_recall: dict[str, float]
    new_recall: dict[str, float]
    queries: int
    pairs: int
    available_pairs: int
    steps: int
    planned_steps: int
    seconds: float
    path: Path | None
    windows: dict[str, list[str]]
    min_gain: float = 0.0
    note: str = ""

    def summary(self) -> str:
        """One paragraph for the console."""
        b, n = self.base_recall, self.new_recall
        figures = (f"recall@50 {b['recall@50']:.4f} → {n['recall@50']:.4f}, recall@10 {b['recall@10']:.4f} → "
                   f"{n['recall@10']:.4f} on {self.queries:,} validation investors; {self.pairs:,} train-window "
                   f"pairs (of {self.available_pairs:,}), {self.steps}/{self.planned_steps} steps, "
                   f"{self.seconds:.0f} s")
        if self.kept:
            text = (f"encoder fine-tuning: kept {self.new_id} ({figures}). Later commands use {self.path}; "
                    f"model versions trained with {self.base_id} will refuse it, so retrain them.")
        else:
            text = (f"encoder fine-tuning: not kept, recall@50 did not improve by more than {self.min_gain:g} "
                    f"({figures}); the encoder stays {self.base_id}.")
        return text + (f" {self.note}" if self.note else "")


def _day(t: float) -> str:
    return (EPOCH + timedelta(days=float(t))).date().isoformat()


def finetune_encoder(settings: Settings, conn: psycopg.Connection, *, seed: int = 0, progress: Progress | None = None,
                     epochs: int = 1, batch_size: int = 16, max_pairs: int = DEFAULT_MAX_PAIRS,
                     encoder_path: Path | None = None, encoder: SentenceTransformerEncoder | None = None,
                     config: TrainConfig | None = None, fit: FitConfig | None = None, min_gain: float = 0.0,
                     show_progress: bool = True) -> FinetuneOutcome:
    """Fine-tune the active encoder on train-window positive pairs; keep it only if it retrieves better.

    Args:
        settings: ``data_dir`` (encoders, embedding cache) and the encoder settings.
        conn: the database holding the market.
        seed: pair sampling, batching and torch seed.
        progress: called with a line per stage.
        epochs, batch_size: passes over the pairs and pairs per step (override ``fit``).
        max_pairs: cap on the training pairs (bounds the time; see :data:`DEFAULT_MAX_PAIRS`).
        encoder_path: the encoder folder to start from (default: the active one,
            :func:`~matching.retrieval.encoder.encoder.ensure_default_encoder`).
        encoder: that encoder already loaded (tests, notebooks); it is left unchanged (training
            works on a copy), whereas one loaded here is trained in place to save memory.
        config: the windows (the same as ``capconnect train`` uses; default :class:`TrainConfig`).
        fit: the remaining fine-tuning knobs.
        min_gain: keep only when recall@50 improves by more than this.
        show_progress: tqdm bars for embedding and training.

    Raises:
        TrainingError: too little history, no training pair or no validation query.
        ValueError: ``epochs < 1``, ``batch_size < 2`` or ``max_pairs < 1``.
    """
    started = time.perf_counter()
    fit = dataclasses.replace(fit or FitConfig(), epochs=epochs, batch_size=batch_size)
    if fit.epochs < 1 or fit.batch_size < 2:
        raise ValueError(f"epochs must be ≥ 1 and batch_size ≥ 2, got {fit.epochs} and {fit.batch_size}")
    config = config or TrainConfig(seed=seed)
    base_path = Path(encoder.path if encoder is not None else encoder_path or ensure_default_encoder(settings))
    if encoder is None:
        say(progress, f"loading the base encoder from {base_path}")
    base = encoder or load_encoder(base_path)
    inputs = load_inputs(settings, conn, encoder=base, show_progress=show_progress, progress=progress)
    snap, wins = inputs.snap, windows(inputs.snap, config)
    pairs = training_pairs(snap, wins["train"], max_pairs, seed)
    queries = validation_queries(snap, wins["valid"])
    if len(pairs) < 2:
        raise TrainingError(f"{len(pairs)} positive pair(s) (grade ≥ {POSITIVE_GRADE}) in the training window "
                            f"{_day(wins['train'][0])} … {_day(wins['train'][1])}: fine-tuning needs more history")
    if len(queries) == 0:
        raise TrainingError("no investor has a new positive in the validation window: the encoder cannot be judged")
    base_recall = retrieval_recall(inputs.man_vecs[queries.inv], inputs.ent_vecs, queries.positives)
    say(progress, f"base encoder {base.encoder_id}: recall@50 {base_recall['recall@50']:.4f}, recall@10 "
                   f"{base_recall['recall@10']:.4f} on {len(queries):,} validation investors "
                   f"({queries.known_pairs_left_out} already-known pairs left out)")
    say(progress, f"fine-tuning on {len(pairs):,} of {pairs.available:,} train-window positive pairs "
                   f"({fit.epochs} epoch(s), batch {fit.batch_size}, top {fit.train_layers} layers)")
    # the base vectors are computed: train the loaded model in place, a caller's model on a copy
    model = copy.deepcopy(base._model) if encoder is not None else base._model
    del inputs
    root = settings.data_dir / "encoders"
    name = _new_name(root, base.encoder_id)
    fit_started = time.perf_counter()
    epochs_batches = plan_batches(pairs, fit, seed)
    if not any(epochs_batches):
        raise TrainingError("the training pairs make no batch of two distinct investors and enterprises")
    steps, planned, loss_curve = fit_pairs(model, [snap.man_text[i] for i in pairs.inv.tolist()],
                                           [snap.ent_text[e] for e in pairs.ent.tolist()], epochs_batches, fit, seed,
                                           say=lambda m: say(progress, m), show_progress=show_progress)
    fit_seconds = time.perf_counter() - fit_started
    # evaluated in memory: the saved folder holds exactly these weights (see _lossless_fp16)
    tuned = SentenceTransformerEncoder(model, base_path, name)
    new_recall, ent_vecs, q_vecs = _evaluate(tuned, snap, queries, settings, show_progress, progress)
    kept = new_recall[DECIDING] - base_recall[DECIDING] > min_gain
    say(progress, f"fine-tuned: recall@50 {new_recall['recall@50']:.4f}, recall@10 {new_recall['recall@10']:.4f} "
                   f"→ {'kept' if kept else 'not kept'}")
    data_window = {k: [_day(a), _day(b)] for k, (a, b) in wins.items()}
    final: Path | None = None
    note = ""
    if kept:
        base_manifest = _read_manifest(base_path)
        manifest: dict[str, Any] = {
            **{k: v for k, v in base_manifest.items() if k in ("dimension", "max_seq_length", "prompts", "pooling")},
            "encoder_id": name, "base_encoder_id": base.encoder_id, "base_path": str(base_path),
            "source": base_manifest.get("source"),
            "storage_dtype": "float16 where exact (the frozen weights), float32 for the fine-tuned layers",
            "fine_tune": {
                "loss": f"MultipleNegativesRankingLoss(scale={fit.loss_scale})", "config": dataclasses.asdict(fit),
                "pairs": len(pairs), "available_pairs": pairs.available, "steps": steps, "planned_steps": planned,
                "loss_by_tenth": loss_curve, "seed": seed, "data_window": data_window,
                "windows_days": {k: [float(a), float(b)] for k, (a, b) in wins.items()},
                "fit_seconds": round(fit_seconds, 1),
            },
            "metrics": {"window": "valid", "queries": len(queries), "base": base_recall, "fine_tuned": new_recall,
                        "deciding": DECIDING, "min_gain": min_gain},
            "libraries": library_versions(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        say(progress, f"saving {root / name} and making it the active encoder")
        final = _save(model, root, name, manifest)
        set_active_encoder(settings, final)
        _cache_vectors(settings, name, "passage", snap.ent_text, ent_vecs)
        _cache_vectors(settings, name, "query", [snap.man_text[i] for i in queries.inv.tolist()], q_vecs)
        if settings.encoder_path is not None:
            note = (f"CAPCONNECT_ENCODER_PATH={settings.encoder_path} overrides the active encoder: unset it, "
                    f"or set it to {final}, to use the fine-tuned one.")
    return FinetuneOutcome(base_id=base.encoder_id, new_id=name, kept=kept, base_recall=base_recall,
                           new_recall=new_recall, queries=len(queries), pairs=len(pairs),
                           available_pairs=pairs.available, steps=steps, planned_steps=planned,
                           seconds=round(time.perf_counter() - started, 1), path=final,
                           windows={k: data_window[k] for k in ("train", "valid")}, min_gain=min_gain, note=note)


def _save(model: Any, root: Path, name: str, manifest: dict[str, Any]) -> Path:
    """Write the folder beside its final place, then rename it in (never half-written)."""
    staging, final = root / f".{name}.incoming", root / name
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save(str(staging))
        _lossless_fp16(staging)
        pin_tokenizer_class(staging)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        make_world_readable(staging)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _evaluate(tuned: SentenceTransformerEncoder, snap: MarketSnapshot, queries: RetrievalQueries,
              settings: Settings, show_progress: bool, progress: Progress | None
              ) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Recall of the fine-tuned encoder, with the profile and query vectors it computed."""
    say(progress, f"embedding {snap.n_enterprises:,} profiles and {len(queries):,} mandates with the "
                   "fine-tuned encoder")
    bs = settings.encoder_batch_size
    ent_vecs = embed(tuned, snap.ent_text, kind="passage", batch_size=bs, show_progress=show_progress)
    q_vecs = embed(tuned, [snap.man_text[i] for i in queries.inv.tolist()], kind="query", batch_size=bs)
    return retrieval_recall(q_vecs, ent_vecs, queries.positives), ent_vecs, q_vecs


def _cache_vectors(settings: Settings, encoder_id: str, kind: Kind, texts: Sequence[str], vecs: np.ndarray) -> None:
    """Store vectors already computed, so the ranker training that follows does not embed them again."""
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        first.setdefault(text_key(t), i)
    EmbeddingCache(settings.embedding_cache_dir).store(encoder_id, kind, list(first), vecs[list(first.values())])
