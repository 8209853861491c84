"""One contract every :class:`~matching.ranking.scorer.Scorer` passes: the content-rules score, each
servable baseline, a LambdaRank ranker and the two-sided scorer serving each kind of choice.

The data is synthetic with a known answer: grades rise with the affinity feature, so a trained
ranker must order by it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from matching.domain.sides import Side
from matching.errors import ArtifactError
from matching.features.table import FEATURE_INDEX, FEATURE_NAMES
from matching.learning.dataset import RankingData
from matching.learning.evaluation import SERVABLE_BASELINES
from matching.ranking.baselines import BaselineScorer, ContentRulesScorer
from matching.ranking.ranker import LambdaRanker
from matching.ranking.scorer import Scorer, load_scorer
from matching.ranking.selection import Choice
from matching.ranking.twosided import SERVED_FILE, Calibrator, TwoSidedScorer

N_QUERIES, PER_QUERY = 60, 20
#: What a refusal must say to do.
FIX = r"retrain|save the scorer again|load_scorer"


def synthetic(side: Side, seed: int) -> RankingData:
    """Random features; the grade of a row rises with its ``affinity`` (a known right answer)."""
    rng = np.random.default_rng(seed)
    n = N_QUERIES * PER_QUERY
    X = rng.random((n, len(FEATURE_NAMES))).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values occur in real rows
    aff = np.nan_to_num(X[:, FEATURE_INDEX["affinity"]], nan=0.0)
    y = np.clip(np.floor(aff * 6 + rng.normal(0, 0.5, n)), 0, 5).astype(np.int64)
    group = np.full(N_QUERIES, PER_QUERY, dtype=np.int64)
    qid = np.repeat(np.arange(N_QUERIES), PER_QUERY)
    rows = np.arange(n, dtype=np.int64)
    return RankingData(str(side), X, y, group, qid, qid, rows, rows, np.full(n, -1), np.zeros(n),
                       np.full(n, np.nan), (0.0, 30.0) if seed < 10 else (30.0, 60.0))


@pytest.fixture(scope="module")
def rankers() -> dict[Side, LambdaRanker]:
    return {s: LambdaRanker(seed=0).fit(synthetic(s, i), num_boost_round=30) for i, s in enumerate(Side)}


def two_sided(rankers: dict[Side, LambdaRanker], choice: Choice) -> TwoSidedScorer:
    valid = {s: synthetic(s, 10 + i) for i, s in enumerate(Side)}
    cal = {s: Calibrator().fit(rankers[s].predict(valid[s].X), valid[s].y) for s in Side}
    return TwoSidedScorer(rankers[Side.INVESTOR], rankers[Side.ENTERPRISE], cal[Side.INVESTOR],
                          cal[Side.ENTERPRISE], 0.4, {s: choice for s in Side})


#: name -> (build the scorer from the fitted rankers, the side it scores for)
MAKERS: dict[str, tuple[Callable[[dict[Side, LambdaRanker]], Scorer], Side]] = {
    "content_rules": (lambda r: ContentRulesScorer(), Side.INVESTOR),
    **{f"baseline:{b}": ((lambda r, b=b: BaselineScorer(b)), Side.ENTERPRISE) for b in SERVABLE_BASELINES},
    "ranker": (lambda r: r[Side.INVESTOR], Side.INVESTOR),
    "two_sided": (lambda r: two_sided(r, Choice()), Side.ENTERPRISE),
    "choice:model": (lambda r: two_sided(r, Choice("model")), Side.INVESTOR),
    "choice:baseline": (lambda r: two_sided(r, Choice("baseline", "affinity")), Side.INVESTOR),
    "choice:blend": (lambda r: two_sided(r, Choice("blend", "rules", 0.5, 0.4, 0.2)), Side.ENTERPRISE),
}


@pytest.fixture(params=sorted(MAKERS))
def case(request: pytest.FixtureRequest, rankers: dict[Side, LambdaRanker]) -> tuple[Scorer, Side]:
    make, side = MAKERS[request.param]
    return make(rankers), side


def test_shape_dtype_finite_and_deterministic(case: tuple[Scorer, Side]) -> None:
    scorer, side = case
    assert isinstance(scorer, Scorer)
    X = synthetic(side, 20).X[:PER_QUERY]
    s = scorer.score(X, side)
    assert s.shape == (PER_QUERY,) and s.dtype == np.float64
    assert np.isfinite(s).all()
    np.testing.assert_array_equal(scorer.score(X.copy(), side), s)
    assert scorer.score(X[:0], side).shape == (0,)


def test_save_load_round_trip_gives_identical_scores(case: tuple[Scorer, Side], tmp_path: Path) -> None:
    scorer, side = case
    X = synthetic(side, 21).X[:PER_QUERY]
    fit = np.linspace(0.0, 1.0, PER_QUERY)
    manifest = scorer.save(tmp_path)
    assert manifest.exists() and manifest.parent == tmp_path
    for loaded in (type(scorer).load(tmp_path), load_scorer(tmp_path)):
        assert type(loaded) is type(scorer)
        np.testing.assert_array_equal(loaded.score(X, side, fit=fit), scorer.score(X, side, fit=fit))


def test_load_refuses_a_wrong_manifest_and_names_the_fix(case: tuple[Scorer, Side], tmp_path: Path) -> None:
    scorer, _ = case
    manifest = scorer.save(tmp_path)
    manifest.write_text(json.dumps({"format": 999, "kind": "astrology"}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=FIX):
        type(scorer).load(tmp_path)
    manifest.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match=FIX):
        load_scorer(tmp_path)
    for path in tmp_path.glob("*.json"):  # no manifest at all
        path.unlink()
    with pytest.raises(ArtifactError, match=FIX):
        type(scorer).load(tmp_path)


def test_ranker_orders_by_the_known_answer(rankers: dict[Side, LambdaRanker]) -> None:
    data = synthetic(Side.INVESTOR, 22)
    s = rankers[Side.INVESTOR].score(data.X, Side.INVESTOR)
    assert np.corrcoef(s, np.nan_to_num(data.column("affinity"), nan=0.0))[0, 1] > 0.8
    with pytest.raises(ValueError, match="load ranker_enterprise"):
        rankers[Side.INVESTOR].score(data.X, Side.ENTERPRISE)


def test_a_scorer_of_another_kind_is_refused_by_name(tmp_path: Path) -> None:
    ContentRulesScorer(0.5).save(tmp_path)
    with pytest.raises(ArtifactError, match="'content_rules' scorer, not 'baseline'.*load_scorer"):
        BaselineScorer.load(tmp_path)
    assert isinstance(load_scorer(tmp_path), ContentRulesScorer)
    with pytest.raises(ArtifactError, match="no scorer at .*: save the scorer again"):
        load_scorer(tmp_path / "empty")
    with pytest.raises(ValueError, match="baseline: 'astrology': allowed: popularity"):
        BaselineScorer("astrology")


def test_two_sided_load_refuses_a_choice_file_missing_a_side(rankers: dict[Side, LambdaRanker],
                                                            tmp_path: Path) -> None:
    two_sided(rankers, Choice()).save(tmp_path)
    (tmp_path / SERVED_FILE).write_text(json.dumps({"investor": Choice().to_dict()}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"not of both sides \(investor, enterprise\): retrain"):
        TwoSidedScorer.load(tmp_path)
