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
    assert [p.suffix for p in sorted(tmp_path.iterdir())] == [".so", ".txt"]  # one object, one model text
    again = compile_trees(booster, tmp_path)  # from the cache: the same file
    assert again is not None and again.path == model.path


def test_first_iterations_only(booster: lgb.Booster, tmp_path: Path) -> None:
    model = compile_trees(booster, tmp_path, num_iteration=10)
    X = probe(6, seed=4)
    assert model is not None
    np.testing.assert_allclose(model.predict(X), booster.predict(X, num_iteration=10, num_threads=1), atol=TOLERANCE)
    assert not np.allclose(model.predict(X), booster.predict(X, num_threads=1))


def test_a_wrong_object_in_the_cache_is_refused(booster: lgb.Booster, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    other = lgb.train({"objective": "regression", "verbosity": -1, "num_threads": 1},
                      lgb.Dataset(np.random.default_rng(1).normal(size=(200, 6)),
                                  label=np.random.default_rng(2).normal(size=200)), num_boost_round=5)
    planted = compile_trees(other, tmp_path)
    assert planted is not None
    key = compiled_mod.cache_key(booster.model_to_string())
    planted.path.rename(tmp_path / f"{key}.so")  # a stale or swapped object under this model's name
    with caplog.at_level(logging.ERROR):
        assert compile_trees(booster, tmp_path) is None
    assert "compiled trees refused" in caplog.text and "Delete" in caplog.text
