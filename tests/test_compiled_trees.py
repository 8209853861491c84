"""Compiled rankers (matching/ranking/compiled.py): the same scores as LightGBM, cached, checked, refused."""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from matching.ranking import compiled as compiled_mod
from matching.ranking.compiled import TOLERANCE, compile_trees, probe


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) > 0.3).astype(int) + (np.nan_to_num(X[:, 2]) > 1)
    group = [30] * 100
    params = {"objective": "lambdarank", "num_leaves": 15, "verbosity": -1, "seed": 0, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(X, label=y, group=group), num_boost_round=40)


def test_compiled_scores_equal_lightgbm_and_are_cached(booster: lgb.Booster, tmp_path: Path) -> None:
    model = compile_trees(booster, tmp_path)
    assert model is not None
    X = np.random.default_rng(9).normal(size=(257, 6)).astype(np.float32)
    X[5, 2] = np.nan
    np.testing.assert_allclose(model.predict(X), booster.predict(X, num_threads=1), rtol=0, atol=TOLERANCE)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".sha256", ".so", ".txt"]  # object, its digest, model
    again = compile_trees(booster, tmp_path)  # from the cache: the same file
    assert again is not None and again.path == model.path


def test_first_iterations_only(booster: lgb.Booster, tmp_path: Path) -> None:
    model = compile_trees(booster, tmp_path, num_iteration=10)
    X = probe(6, seed=4)
    assert model is not None
    np.testing.assert_allclose(model.predict(X), booster.predict(X, num_iteration=10, num_threads=1), atol=TOLERANCE)
    assert not np.allclose(model.predict(X), booster.predict(X, num_threads=1))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_object_is_rebuilt_not_loaded(booster: lgb.Booster, tmp_path: Path, damage: str) -> None:
    """LLVM aborts the process on a damaged object file: one whose bytes are not the checked ones is rebuilt."""
    first = compile_trees(booster, tmp_path)
    assert first is not None
    data = first.path.read_bytes()
    damaged = {"truncated": data[:len(data) // 2], "empty": b"", "garbage": bytes(range(256)) * 64}
    first.path.write_bytes(damaged[damage])
    again = compile_trees(booster, tmp_path)  # would abort this test process if the file reached LLVM
    assert again is not None
    assert again.path.read_bytes() != b"" and len(again.path.read_bytes()) > len(data) // 2
    X = probe(6, seed=8)
    np.testing.assert_allclose(again.predict(X), booster.predict(X, num_threads=1), atol=TOLERANCE)


def test_an_object_of_another_model_is_refused_by_the_probe(booster: lgb.Booster, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    other = lgb.train({"objective": "regression", "verbosity": -1, "num_threads": 1},
                      lgb.Dataset(np.random.default_rng(1).normal(size=(200, 6)),
                                  label=np.random.default_rng(2).normal(size=200)), num_boost_round=5)
    planted = compile_trees(other, tmp_path)
    assert planted is not None
    key = compiled_mod.cache_key(booster.model_to_string())
    for suffix in (".so", ".sha256"):  # another model's intact object filed under this model's key
        planted.path.with_suffix(suffix).rename(tmp_path / f"{key}{suffix}")
    with caplog.at_level(logging.ERROR):
        assert compile_trees(booster, tmp_path) is None
    assert "compiled trees refused" in caplog.text and "Delete" in caplog.text


def test_an_unusable_cache_folder_leaves_lightgbm_serving(booster: lgb.Booster, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert compile_trees(booster, blocker / "cache") is None
    assert "compiled trees off for this model" in caplog.text
