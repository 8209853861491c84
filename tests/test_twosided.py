"""Two-sided ranking: calibration, the harmonic-mean combination, and the mutual-fit property end to end."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from matching.errors import ArtifactError
from matching.learning.dataset import build_ranking_data, last_days_split
from matching.ranking.ranker import LambdaRanker
from matching.ranking.twosided import Calibrator, TwoSidedScorer, combine
from matching.snapshot.core import build_snapshot
from matching.synth.generator import generate_market


def test_one_sided_pair_ranks_below_a_mutual_fit() -> None:
    combined = combine(np.array([0.95, 0.6, 0.9, 0.5]), np.array([0.05, 0.6, 0.2, 0.5]))
    assert combined[1] == pytest.approx(0.6)
    assert combined[0] == pytest.approx(1 / (0.5 / 0.95 + 0.5 / 0.05))
    assert combined[0] < combined[1]
    assert combined[2] < combined[3]  # the arithmetic mean would say 0.55 > 0.5


def test_weight_moves_toward_one_side() -> None:
    p_inv, p_ent = np.array([0.9]), np.array([0.3])
    assert combine(p_inv, p_ent, weight=1.0)[0] == pytest.approx(0.9)
    assert combine(p_inv, p_ent, weight=0.0)[0] == pytest.approx(0.3)
    assert combine(p_inv, p_ent, weight=0.8)[0] > combine(p_inv, p_ent, weight=0.2)[0]
    assert np.isfinite(combine(np.array([0.0]), np.array([0.5])))[
        0
    ]  # a zero probability does not divide by 0
    with pytest.raises(ValueError, match="weight"):
        combine(p_inv, p_ent, weight=1.5)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrator_is_monotone_and_round_trips(method: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=2000)
    labels = np.where(rng.random(2000) < 1 / (1 + np.exp(-2 * scores)), 3, 0)
    cal = Calibrator(method).fit(scores, labels)
    grid = np.linspace(-3, 3, 61)
    p = cal.predict(grid)
    assert ((p >= 0) & (p <= 1)).all() and (np.diff(p) >= -1e-12).all() and p[-1] > p[0] + 0.5
    cal.save(tmp_path / "cal.json")
    np.testing.assert_allclose(Calibrator.load(tmp_path / "cal.json").predict(grid), p)
    with pytest.raises(ValueError, match="both outcomes"):
        Calibrator(method).fit(scores, np.zeros(2000, dtype=int))
    with pytest.raises(ArtifactError, match="retrain"):
        Calibrator.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="allowed"):
        Calibrator("sigmoid")


@pytest.fixture(scope="module")
def two_sided() -> SimpleNamespace:
    m = generate_market(800, 80, 12, seed=11)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    texts = snap.ent_text + snap.man_text
    tfidf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 2), min_df=2, sublinear_tf=True
    ).fit_transform(texts)
    z = normalize(TruncatedSVD(48, random_state=0).fit_transform(tfidf)).astype(np.float32)
    ent_vecs, man_vecs = z[: snap.n_enterprises], z[snap.n_enterprises :]
    windows = last_days_split(snap, valid_days=60, test_days=90)
    data = {
        (d, k): build_ranking_data(snap, d, *w, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=0)  # type: ignore[arg-type]
        for d in ("investor", "enterprise")
        for k, w in windows.items()
    }
    rankers = {
        d: LambdaRanker(seed=0).fit(data[d, "train"], data[d, "valid"], num_boost_round=150)
        for d in ("investor", "enterprise")
    }
    scorer = TwoSidedScorer.fit_calibrators(
        rankers["investor"], rankers["enterprise"], data["investor", "valid"], data["enterprise", "valid"]
    )
    return SimpleNamespace(data=data, rankers=rankers, scorer=scorer)


def test_end_to_end_mutual_fit_beats_one_sided_pair(two_sided: SimpleNamespace) -> None:
    X = np.vstack([two_sided.data["investor", "test"].X, two_sided.data["enterprise", "test"].X])
    combined, p_inv, p_ent = two_sided.scorer.pair_probabilities(X, X)
    assert ((combined > 0) & (combined <= 1)).all()
    mutual = int(np.argmax(np.minimum(p_inv, p_ent)))  # the best fit for both sides
    weak = p_ent < np.minimum(p_inv, p_ent)[mutual] / 2  # the enterprise side cares little
    one_sided = int(np.flatnonzero(weak)[np.argmax(p_inv[weak])])  # … but the investor side loves it
    assert p_inv[one_sided] > p_inv[mutual]  # ranked by the investor side alone, it would come first
    assert combined[mutual] > combined[one_sided]
    order = np.argsort(-combined, kind="stable")
    assert np.flatnonzero(order == mutual)[0] < np.flatnonzero(order == one_sided)[0]


def test_fitted_calibrators_then_combination_prefer_the_mutual_fit(two_sided: SimpleNamespace) -> None:
    cal = two_sided.scorer.calibrators
    assert all(c.method == "platt" and c.coef > 0 for c in cal.values())

    def raw(direction: str, p: list[float]) -> np.ndarray:  # the ranker scores these probabilities come from
        c = cal[direction]
        return (np.log(np.array(p) / (1 - np.array(p))) - c.intercept) / c.coef

    # (0.95, 0.05) vs (0.6, 0.6), and (0.9, 0.2) vs (0.5, 0.5), where an arithmetic mean picks the wrong one
    combined, p_inv, p_ent = two_sided.scorer.combine_scores(raw("investor", [0.95, 0.6, 0.9, 0.5]),
                                                             raw("enterprise", [0.05, 0.6, 0.2, 0.5]))
    np.testing.assert_allclose(p_inv, [0.95, 0.6, 0.9, 0.5], atol=1e-9)
    np.testing.assert_allclose(p_ent, [0.05, 0.6, 0.2, 0.5], atol=1e-9)
    assert combined[0] < combined[1] and combined[2] < combined[3]
    assert (p_inv[2] + p_ent[2]) / 2 > (p_inv[3] + p_ent[3]) / 2


def test_calibrated_probabilities_rise_with_the_label(two_sided: SimpleNamespace) -> None:
    for direction in ("investor", "enterprise"):
        test = two_sided.data[direction, "test"]
        p = two_sided.scorer.probabilities(direction, test.X)
        assert p[test.y >= 3].mean() > p[test.y == 0].mean()


def test_scorer_round_trips_through_its_folder(two_sided: SimpleNamespace, tmp_path: Path) -> None:
    for direction, ranker in two_sided.rankers.items():
        ranker.save(tmp_path, direction=direction, encoder_id="tfidf-svd-test", data_window={}, metrics={})
    two_sided.scorer.save_calibrators(tmp_path)
    loaded = TwoSidedScorer.load(tmp_path, encoder_id="tfidf-svd-test")
    X = two_sided.data["investor", "test"].X[:200]
    for got, want in zip(loaded.pair_probabilities(X, X), two_sided.scorer.pair_probabilities(X, X), strict=True):
        np.testing.assert_allclose(got, want)
    with pytest.raises(ArtifactError, match="retrain"):
        TwoSidedScorer.load(tmp_path, encoder_id="another-encoder")


def test_compiled_scorer_serves_the_same_scores_in_one_pass(two_sided: SimpleNamespace, tmp_path: Path) -> None:
    """`served` (what the matcher calls) with compiled trees = `score` and `pair_probabilities` with LightGBM."""
    for direction, ranker in two_sided.rankers.items():
        ranker.save(tmp_path, direction=direction, encoder_id="tfidf-svd-test", data_window={}, metrics={})
    two_sided.scorer.save_calibrators(tmp_path)
    plain = TwoSidedScorer.load(tmp_path, encoder_id="tfidf-svd-test")
    fast = TwoSidedScorer.load(tmp_path, encoder_id="tfidf-svd-test")
    assert fast.compile(tmp_path / "compiled") and not plain.rankers["investor"].compiled
    X = two_sided.data["investor", "test"].X[:300]
    for side in ("investor", "enterprise"):
        assert fast.rankers[side].compiled
        assert fast.rankers[side].predict(X[:1]).shape == (1,)
        np.testing.assert_allclose(fast.rankers[side].predict(X), plain.rankers[side].predict(X), rtol=0, atol=1e-9)
        score, p_inv, p_ent = fast.served(X, side)
        np.testing.assert_allclose(score, plain.score(X, side), rtol=0, atol=1e-9)
        _, q_inv, q_ent = plain.pair_probabilities(X, X)
        np.testing.assert_allclose(p_inv, q_inv, rtol=0, atol=1e-12)
        np.testing.assert_allclose(p_ent, q_ent, rtol=0, atol=1e-12)
    compiled = fast.rankers["investor"]._compiled
    assert compiled is not None

    def refuse(_: np.ndarray) -> np.ndarray:
        raise AssertionError("an offline (multi-thread) prediction reached the compiled trees")

    compiled.predict = refuse  # type: ignore[method-assign]
    np.testing.assert_array_equal(fast.rankers["investor"].predict(X, num_threads=2),  # offline paths: LightGBM
                                  plain.rankers["investor"].predict(X, num_threads=2))
    with pytest.raises(AssertionError, match="reached the compiled trees"):
        fast.rankers["investor"].predict(X)  # one thread: the compiled trees
    restored = pickle.loads(pickle.dumps(fast.rankers["investor"]))  # native code is not pickled
    assert not restored.compiled
    np.testing.assert_allclose(restored.predict(X), plain.rankers["investor"].predict(X))
