"""Encoder fine-tuning: train-window pairs only, recall on the validation window, keep-or-not, the
ACTIVE pointer. The fine-tuning itself runs for real (the session's converted e5 encoder, a tiny
generated market in PostgreSQL), with a handful of pairs and short sequences to stay fast."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from matching.config import Settings
from matching.domain.records import Event
from matching.errors import ArtifactError
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import (
    ACTIVE_POINTER,
    SentenceTransformerEncoder,
    active_encoder_dir,
    ensure_default_encoder,
    load_encoder,
)
from matching.retrieval.encoder.pairs import TrainingPairs, retrieval_recall, training_pairs, validation_queries
from matching.retrieval.encoder.tuning import FitConfig, contrastive_batches
from matching.snapshot.core import EPOCH, MarketSnapshot, build_snapshot
from matching.synth.generator import Market, generate_market
from store.batch import MarketBatch, save_batch
from store.database import Database
from store.market_read import read_market
from training.finetune import finetune_encoder
from training.pipeline import TrainConfig, windows

TINY = FitConfig(train_layers=1, max_seq_length=32)  # seconds, not minutes


def _market() -> Market:
    return generate_market(120, 30, 8, seed=3)


def _snap(m: Market) -> MarketSnapshot:
    return build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)


def _never_positive_pair(snap: MarketSnapshot) -> tuple[int, int]:
    positive = {(int(i), int(e)) for i, e, g in zip(snap.ev_inv, snap.ev_ent, snap.ev_grade, strict=True) if g >= 3}
    return next((i, e) for i in range(snap.n_investors) for e in range(snap.n_enterprises) if (i, e) not in positive)


def test_training_pairs_come_from_the_train_window_only() -> None:
    m = _market()
    snap = _snap(m)
    wins = windows(snap, TrainConfig())
    inv, ent = _never_positive_pair(snap)
    middle = (wins["valid"][0] + wins["valid"][1]) / 2
    planted = Event("planted-1", snap.inv_key[inv], snap.ent_key[ent], "meeting", EPOCH + timedelta(days=middle))
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, [*m.events, planted])
    assert windows(snap, TrainConfig()) == wins  # the plant does not move the windows

    train = training_pairs(snap, wins["train"], 10**6, seed=0)
    assert (inv, ent) in training_pairs(snap, wins["valid"], 10**6, seed=0).as_set()  # the plant is visible...
    assert (inv, ent) not in train.as_set()  # ...but not to training
    in_train = (snap.ev_time >= wins["train"][0]) & (snap.ev_time < wins["train"][1]) & (snap.ev_grade >= 3)
    expected = set(zip(snap.ev_inv[in_train].tolist(), snap.ev_ent[in_train].tolist(), strict=True))
    assert train.as_set() == expected and train.available == len(expected) == len(train)


def test_training_pairs_cap_is_a_seeded_sample() -> None:
    snap = _snap(_market())
    window = windows(snap, TrainConfig())["train"]
    full = training_pairs(snap, window, 10**6, seed=0).as_set()
    a, b = training_pairs(snap, window, 5, seed=1), training_pairs(snap, window, 5, seed=1)
    assert len(a) == 5 and a.available == len(full)
    assert a.as_set() == b.as_set() and a.as_set() <= full
    assert training_pairs(snap, window, 5, seed=2).as_set() != a.as_set()
    with pytest.raises(ValueError, match="max_pairs must be at least 1, got 0"):
        training_pairs(snap, window, 0, seed=0)


def test_validation_queries_leave_out_pairs_known_before_the_window() -> None:
    m = _market()
    snap = _snap(m)
    wins = windows(snap, TrainConfig())
    known = training_pairs(snap, wins["train"], 10**6, seed=0)
    inv, ent = int(known.inv[0]), int(known.ent[0])
    when = EPOCH + timedelta(days=(wins["valid"][0] + wins["valid"][1]) / 2)
    again = Event("planted-2", snap.inv_key[inv], snap.ent_key[ent], "term_sheet", when)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, [*m.events, again])
    queries = validation_queries(snap, wins["valid"])
    pairs = {(int(i), int(e)) for i, pos in zip(queries.inv, queries.positives, strict=True) for e in pos}
    assert (inv, ent) not in pairs and queries.known_pairs_left_out >= 1
    assert all(len(p) for p in queries.positives) and list(queries.inv) == sorted(set(queries.inv.tolist()))


def test_retrieval_recall_matches_hand_computed_values() -> None:
    ents = np.eye(4, dtype=np.float32)
    queries = np.array([[0.9, 0.5, 0.1, 0.0], [0.0, 0.0, 0.2, 0.8]], dtype=np.float32)
    # query 0 ranks 0, 1, 2, 3: positives 1 (rank 2) and 3 (rank 4); query 1 ranks 3, 2: positive 2 (rank 2)
    got = retrieval_recall(queries, ents, [np.array([1, 3]), np.array([2])], ks=(1, 2, 4))
    assert got == {"recall@1": 0.0, "recall@2": pytest.approx((0.5 + 1.0) / 2), "recall@4": 1.0}
    with pytest.raises(ValueError, match="2 query vectors but 1 positive lists"):
        retrieval_recall(queries, ents, [np.array([1])])


def test_batches_never_hold_an_investor_or_an_enterprise_twice() -> None:
    pairs = TrainingPairs(np.array([0, 0, 0, 1, 1, 2, 3, 4]), np.array([5, 6, 7, 5, 8, 9, 9, 10]), 8)
    batches = contrastive_batches(pairs, 4, np.random.default_rng(0))
    for b in batches:
        assert len(set(pairs.inv[b].tolist())) == len(b) == len(set(pairs.ent[b].tolist())) >= 2
    used = np.concatenate(batches)
    assert len(used) == len(set(used.tolist()))  # no pair twice in one epoch


def test_the_active_pointer_is_honoured_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert active_encoder_dir(settings) is None
    (tmp_path / "encoders").mkdir()
    (tmp_path / "encoders" / ACTIVE_POINTER).write_text("gone\n", encoding="utf-8")
    with pytest.raises(ArtifactError, match="delete .*ACTIVE to return to the default encoder"):
        ensure_default_encoder(settings)


def test_finetune_keeps_only_an_improvement_and_the_kept_encoder_becomes_active(
        db: Database, encoder: SentenceTransformerEncoder, tmp_path: Path) -> None:
    m = _market()
    save_batch(db, MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))
    settings = Settings(database_url=db.url, data_dir=tmp_path / "data", models_dir=tmp_path / "models")
    encoders = settings.data_dir / "encoders"
    probe = encoder.encode_passages(["坤弘天使投资基金"])
    lines: list[str] = []
    with db.connect(autocommit=True) as conn:
        snap = read_market(conn).snapshot()
        run = dict(seed=0, encoder=encoder, max_pairs=8, batch_size=4, fit=TINY, show_progress=False,
                   progress=lines.append)

        refused = finetune_encoder(settings, conn, min_gain=1.0, **run)  # recall cannot rise by 1: never kept
        assert not refused.kept and refused.path is None
        assert refused.new_recall["recall@50"] - refused.base_recall["recall@50"] <= 1.0
        assert not encoders.exists() or not any(encoders.iterdir())  # nothing written, no pointer
        assert "not kept" in refused.summary() and encoder.encoder_id in refused.summary()

        kept = finetune_encoder(settings, conn, min_gain=-1.0, **run)  # any result is kept
    assert kept.kept and kept.path == encoders / kept.new_id and "kept" in kept.summary()
    assert kept.new_recall["recall@50"] - kept.base_recall["recall@50"] > -1.0
    assert (refused.new_recall, refused.steps) == (kept.new_recall, kept.steps)  # seeded: same fit twice
    np.testing.assert_array_equal(encoder.encode_passages(["坤弘天使投资基金"]), probe)  # the caller's is untouched

    # both recalls on the same validation queries; the base one reproducible from the cached vectors
    queries = validation_queries(snap, windows(snap, TrainConfig())["valid"])
    assert refused.queries == kept.queries == len(queries) > 0
    cache = EmbeddingCache(settings.data_dir / "embeddings")
    q_text = [snap.man_text[i] for i in queries.inv]
    base_recall = retrieval_recall(embed(encoder, q_text, kind="query", cache=cache),
                                   embed(encoder, snap.ent_text, kind="passage", cache=cache), queries.positives)
    assert base_recall == refused.base_recall == kept.base_recall
    assert kept.pairs == 8 and kept.steps == kept.planned_steps >= 1

    # the pointer makes it the encoder of later commands; the saved folder gives the evaluated recall
    assert (encoders / ACTIVE_POINTER).read_text(encoding="utf-8").strip() == kept.new_id
    assert ensure_default_encoder(settings) == kept.path
    tuned = load_encoder(kept.path)
    assert tuned.encoder_id == kept.new_id != encoder.encoder_id == kept.base_id
    assert tuned.dimension == encoder.dimension and tuned.max_seq_length == encoder.max_seq_length
    tuned_recall = retrieval_recall(tuned.encode_queries(q_text), tuned.encode_passages(snap.ent_text),
                                    queries.positives)
    assert tuned_recall == pytest.approx(kept.new_recall, abs=1e-9)
    assert not np.allclose(tuned.encode_passages(["坤弘天使投资基金"]), probe)
    manifest = json.loads((kept.path / "capconnect_encoder.json").read_text(encoding="utf-8"))
    assert manifest["base_encoder_id"] == encoder.encoder_id and manifest["fine_tune"]["seed"] == 0
    assert manifest["fine_tune"]["pairs"] == 8 and manifest["metrics"]["fine_tuned"] == kept.new_recall
    assert manifest["fine_tune"]["data_window"]["train"] == kept.windows["train"]
    assert any("fine-tuning on 8 of" in line for line in lines)

    # CAPCONNECT_ENCODER_PATH still wins over the pointer
    pinned = settings.model_copy(update={"encoder_path": encoder.path})
    assert ensure_default_encoder(pinned) == encoder.path
