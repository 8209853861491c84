"""Decision-path contributions: the path of every tree equals LightGBM's own, and they sum to the score."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from matching.ranking.treepaths import PathExplainer


def _walk(node: dict, x: np.ndarray) -> float:
    """Reference: one row down one tree of ``dump_model`` by LightGBM's numerical decision rule."""
    while "leaf_value" not in node:
        v = float(x[node["split_feature"]])
        missing = node.get("missing_type", "None")
        if np.isnan(v) and missing != "NaN":
            v = 0.0
        if (missing == "Zero" and abs(v) <= 1e-35) or (missing == "NaN" and np.isnan(v)):
            left = node["default_left"]
        else:
            left = v <= node["threshold"]
        node = node["left_child"] if left else node["right_child"]
    return float(node["leaf_value"])


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 6))
    X[rng.random(X.shape) < 0.15] = np.nan  # missing values: NaN-aware splits
    X[:, 5] = np.where(rng.random(3000) < 0.4, 0.0, X[:, 5])  # many zeros
    y = np.nan_to_num(X[:, 0]) * 2 + (np.nan_to_num(X[:, 1]) > 0) - np.isnan(X[:, 2]) + rng.standard_normal(3000) * 0.1
    return lgb.train({"objective": "regression", "num_leaves": 15, "verbosity": -1, "seed": 0},
                     lgb.Dataset(X, y), num_boost_round=40)


def test_contributions_sum_to_the_raw_score_and_paths_match_lightgbm(booster: lgb.Booster) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    c = PathExplainer(booster).contributions(X)
    assert c.shape == (500, 7)
    raw = booster.predict(X, raw_score=True)
    np.testing.assert_allclose(c.sum(axis=1), raw, rtol=0, atol=1e-9)
    trees = booster.dump_model()["tree_info"]
    ref = np.array([sum(_walk(t["tree_structure"], x) for t in trees) for x in X[:50].astype(np.float64)])
    np.testing.assert_allclose(c[:50].sum(axis=1), ref, rtol=0, atol=1e-9)


def test_a_feature_never_split_on_gets_nothing_and_the_truncated_model_is_respected(booster: lgb.Booster) -> None:
    X = np.random.default_rng(2).standard_normal((50, 6))
    used = {t for t in np.flatnonzero(booster.feature_importance("split") > 0)}
    c = PathExplainer(booster, num_iteration=10).contributions(X)
    for f in set(range(6)) - used:
        assert np.all(c[:, f] == 0)
    np.testing.assert_allclose(c.sum(axis=1), booster.predict(X, raw_score=True, num_iteration=10), atol=1e-9)
    assert PathExplainer(booster).contributions(np.zeros((0, 6))).shape == (0, 7)
