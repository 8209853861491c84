"""Training pipeline, registry, promotion and rollback on a small generated market in PostgreSQL.

The encoder is the hashing test double (the pipeline's own encoder loading is covered by the CLI
test); everything else is the real thing: LightGBM, FAISS, the registry table, files on disk.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from conftest import TEMPLATE, _with_db
from helpers_encoder import HashingEncoder

from matching.config import Settings
from matching.errors import ArtifactError
from matching.ranking.bundle import ModelBundle, write_manifest
from matching.ranking.promotion import PromotionRefused
from matching.ranking.selection import Choice
from matching.synth.generator import generate_market
from store import registry
from store.batch import MarketBatch, save_batch
from store.database import Database
from store.registry import promote, rollback
from training import pipeline

SEED = 0


@pytest.fixture(scope="module")
def market_db(pg_admin_url: str, template_url: str) -> Iterator[Database]:
    """One database with a generated market, shared by the tests of this module (in order)."""
    name = f"tr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    db = Database(url=_with_db(pg_admin_url, name))
    m = generate_market(500, 70, 10, seed=3)
    save_batch(db, MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))
    yield db
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def env(market_db: Database, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("training")
    settings = Settings(database_url=market_db.url, data_dir=root / "data", models_dir=root / "models")
    with market_db.connect(autocommit=True) as conn:
        inputs = pipeline.load_inputs(settings, conn, encoder=HashingEncoder())
    return {"settings": settings, "inputs": inputs, "versions": {}}


def _train(env: dict, conn: psycopg.Connection, name: str, **kw: object) -> ModelBundle:
    return pipeline.train(env["settings"], conn, seed=SEED, version=name, inputs=env["inputs"], show_progress=False,
                          **kw)


def test_train_writes_a_self_describing_registered_version(market_db: Database, env: dict) -> None:
    with market_db.connect(autocommit=True) as conn:
        res = _train(env, conn, "v1")
        mv = registry.get_version(conn, "v1")
    folder = env["settings"].models_dir / "v1"
    assert res.folder == folder and folder.is_dir()
    assert mv is not None and mv.status == "candidate" and mv.path == str(folder)
    for f in ("ranker_investor.txt", "ranker_enterprise.txt", "calibrator_investor.json", "calibrator_enterprise.json",
              "metrics.json", "report.md", "manifest.json", "plots/recall_by_k.png",
              "plots/feature_importance.png", "plots/ndcg_by_group.png", "plots/lorenz_exposure.png"):
        assert (folder / f).is_file(), f
    assert not (folder / "index").exists()  # the service builds its own index; the bundle carries none
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["version"] == "v1" and man["seed"] == SEED and man["encoder_id"] == "test-char-ngram-64"
    assert man["features"][0] == "semantic_sim" and len(man["features_hash"]) > 8
    assert set(man["data_window"]) == {"train", "valid", "holdout"}
    assert man["rows"]["investor"]["train"]["rows"] > 0 and "lightgbm" in man["libraries"]
    assert "report.md" in man["files"] and "manifest.json" not in man["files"]
    # every metric for the model and every baseline, both directions, on all rows and cold start
    for direction in ("investor", "enterprise"):
        dm = res.metrics["directions"][direction]
        assert {"model", "two_sided", "random", "popularity", "rules", "affinity", "similarity"} <= set(dm)
        for k in ("recall@10", "recall@20", "recall@50", "recall@100", "ndcg@10", "mrr", "auc", "mutual@10",
                  "coverage@10", "gini@10"):
            assert k in dm["model"]["all"], k
        assert 0.0 <= dm["model"]["all"]["ndcg@10"] <= 1.0
    # the learned model must beat random on the generator's hidden preferences
    assert res.metrics["primary"] > res.metrics["baselines_primary"]["random"] + 0.05
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "plots/lorenz_exposure.png" in report and "| model |" in report
    env["versions"]["v1"] = res


def test_a_version_written_with_an_index_folder_still_loads(env: dict, tmp_path: Path) -> None:
    """Versions written by earlier code carry ``index/``, listed in their manifest: they still verify and load."""
    old = tmp_path / "v_old"
    shutil.copytree(env["settings"].models_dir / "v1", old)
    (old / "index").mkdir()
    (old / "index" / "index.faiss").write_bytes(b"an index nobody loads")
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files")
    (old / "manifest.json").unlink()
    assert "index/index.faiss" in write_manifest(old, manifest)["files"]
    assert ModelBundle.load(old, encoder_id="test-char-ngram-64").version == "v1"


def test_promotion_then_same_data_and_seed_give_same_metrics_and_no_promotion(market_db: Database, env: dict
                                                                              ) -> None:
    with market_db.connect(autocommit=True) as conn:
        first = promote(conn, "v1")
        assert first.status == "active"
        res2 = _train(env, conn, "v2")
        # same data, same seed: the same metrics
        v1 = env["versions"]["v1"].metrics["directions"]
        for d in ("investor", "enterprise"):
            assert res2.metrics["directions"][d]["model"] == v1[d]["model"]
            # v2 was evaluated against the active v1 on the same rows: identical scores (a version is
            # judged by the scorer it serves)
            assert res2.metrics["directions"][d]["active"]["all"] == v1[d]["served"]["all"]
        assert res2.metrics["compare"]["active_version"] == "v1"
        with pytest.raises(PromotionRefused, match=r"version v2 does not beat the active version v1 on the holdout "
                                                   r"window \(mean NDCG@10 [0-9.]+ vs [0-9.]+\); promote with --force"):
            promote(conn, "v2")
        assert registry.active_version(conn).version == "v1"
        forced = promote(conn, "v2", force=True)
        assert forced.version == "v2" and registry.get_version(conn, "v1").status == "retired"
        back = rollback(conn)
        assert back.version == "v1" and registry.active_version(conn).version == "v1"
        assert registry.get_version(conn, "v2").status == "retired"
        with pytest.raises(PromotionRefused, match="version v1 is already active"):
            promote(conn, "v1")
        with pytest.raises(PromotionRefused, match=r"no model version 'nope' \(known: .*v1"):
            promote(conn, "nope")


def test_a_better_model_is_promoted(market_db: Database, env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-tree model serving its own ranker is active; a full model evaluated against it on the same
    rows beats it and is promoted without --force."""
    s = env["settings"]
    with market_db.connect(autocommit=True) as conn:
        with monkeypatch.context() as m:  # the weak version serves its one-tree ranker, whatever validation says
            m.setattr(pipeline, "select", lambda *a, **k: Choice("model"))
            _train(env, conn, "v_weak", config=pipeline.TrainConfig(num_boost_round=1))
        assert ModelBundle.load(s.models_dir / "v_weak").scorer.choices["investor"].kind == "model"
        promote(conn, "v_weak", force=True)
        res = _train(env, conn, "v3")
        cmp = res.metrics["compare"]
        assert cmp["active_version"] == "v_weak" and cmp["comparable"]
        assert res.metrics["primary"] > cmp["active_primary"]
        assert promote(conn, "v3").version == "v3"
        assert rollback(conn, "v1").version == "v1"


def test_corrupt_artifact_is_refused_and_the_active_model_stays(market_db: Database, env: dict) -> None:
    s = env["settings"]
    folder = s.models_dir / "v2"
    path = folder / "ranker_investor.txt"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"tree", b"tref", 1))
    try:
        with pytest.raises(ArtifactError, match="ranker_investor.txt does not match its checksum"):
            ModelBundle.load(folder)
        with market_db.connect(autocommit=True) as conn:
            with pytest.raises(PromotionRefused, match="version v2 cannot serve: .*does not match its checksum"):
                promote(conn, "v2", force=True)
            assert registry.active_version(conn).version == "v1"
    finally:
        path.write_bytes(original)
    assert ModelBundle.load(folder, encoder_id="test-char-ngram-64").version == "v2"
    with pytest.raises(ArtifactError, match="trained with encoder 'test-char-ngram-64' but 'other' is serving"):
        ModelBundle.load(folder, encoder_id="other")


def test_a_training_killed_midway_leaves_no_version(market_db: Database, env: dict,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import training.report

    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(training.report, "write_report", boom)
    with market_db.connect(autocommit=True) as conn:
        with pytest.raises(KeyboardInterrupt):
            _train(env, conn, "v_killed")
        assert registry.get_version(conn, "v_killed") is None
    models = env["settings"].models_dir
    assert not (models / "v_killed").exists()
    assert not list(models.glob(".incoming-*"))


def test_taken_version_name_is_refused(market_db: Database, env: dict) -> None:
    with market_db.connect(autocommit=True) as conn:
        with pytest.raises(ValueError, match="version 'v1' exists already: choose another name"):
            _train(env, conn, "v1")


def test_too_short_history_says_what_is_needed(env: dict) -> None:
    snap = env["inputs"].snap
    with pytest.raises(pipeline.TrainingError, match=r"days of funnel history is too short: training needs at least "
                                                     r"1020 \(one 30-day period, 495 validation and 495 holdout"):
        pipeline.windows(snap, pipeline.TrainConfig(valid_days=495, holdout_days=495))


def test_rollback_without_history_is_refused(template_url: str, pg_admin_url: str, tmp_path: Path) -> None:
    name = f"rb_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        url = _with_db(pg_admin_url, name)
        with psycopg.connect(url, autocommit=True) as conn:
            with pytest.raises(PromotionRefused, match="no earlier active version to roll back to"):
                rollback(conn)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_eval_set_has_every_eligible_candidate(env: dict) -> None:
    from matching.learning.evaluation import build_eval_set
    from matching.rules.eligibility import Eligibility

    inputs = env["inputs"]
    snap = inputs.snap
    wins = pipeline.windows(snap, pipeline.TrainConfig())
    ev = build_eval_set(snap, "investor", *wins["holdout"], ent_vecs=inputs.ent_vecs, man_vecs=inputs.man_vecs)
    data = ev.data
    q = int(data.query[0])
    rows = data.query == q
    # the candidates of the first query: all enterprises with a need eligible at the window's start
    # (plus positives), none twice
    ents = data.ent[rows]
    assert len(np.unique(ents)) == len(ents)
    assert rows.sum() >= (data.y[rows] > 0).sum()
    assert len(ents) > 20
    assert ev.cold.dtype == bool and ev.mutual.dtype == bool
    assert np.asarray(Eligibility.of(snap).needs_for(q, as_of=wins["holdout"][0])).any()
