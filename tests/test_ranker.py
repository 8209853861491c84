"""The LambdaRank ranker on a generated market: time split, point in time, quality, artifact, determinism."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from matching.domain.records import Event, Investor
from matching.errors import ArtifactError
from matching.features.collaborative import CollaborativeModel
from matching.features.table import FEATURE_NAMES, History, compute_features
from matching.learning.dataset import build_ranking_data, last_days_split, time_split
from matching.ranking.ranker import LambdaRanker, ndcg_at_k
from matching.rules.eligibility import Eligibility
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market

ENCODER = "tfidf-svd-test"


def embed(snap: MarketSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """A tiny deterministic stand-in for the encoder: character TF-IDF reduced by SVD, L2-normalised."""
    texts = snap.ent_text + snap.man_text
    tfidf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 2), min_df=2, sublinear_tf=True
    ).fit_transform(texts)
    z = normalize(TruncatedSVD(48, random_state=0).fit_transform(tfidf)).astype(np.float32)
    return z[: snap.n_enterprises], z[snap.n_enterprises :]


@pytest.fixture(scope="module")
def market() -> SimpleNamespace:
    m = generate_market(800, 80, 12, seed=7)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    ent_vecs, man_vecs = embed(snap)
    windows = last_days_split(snap, valid_days=60, test_days=90)
    data = {
        k: build_ranking_data(snap, "investor", *w, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=0)
        for k, w in windows.items()
    }
    return SimpleNamespace(m=m, snap=snap, ent_vecs=ent_vecs, man_vecs=man_vecs, windows=windows, data=data)


@pytest.fixture(scope="module")
def ranker(market: SimpleNamespace) -> LambdaRanker:
    return LambdaRanker(seed=0).fit(market.data["train"], market.data["valid"])


def test_windows_follow_time_and_features_precede_labels(market: SimpleNamespace) -> None:
    w, d = market.windows, market.data
    assert w["train"][1] == w["valid"][0] and w["valid"][1] == w["test"][0]
    for name, data in d.items():
        assert data.n_queries > 20 and data.group.sum() == len(data) and (data.y > 0).any(), name
        pos = data.y > 0
        assert (data.as_of[pos] <= data.event_time[pos]).all()  # features are computed before the label
        assert (data.as_of >= data.window[0]).all() and (data.event_time[pos] < data.window[1]).all()
        assert (data.y[np.isnan(data.event_time)] == 0).all()  # sampled negatives carry no event
    with pytest.raises(ValueError, match="out of order"):
        time_split(market.snap, w["valid"][1], w["valid"][0])


def _with_event(market: SimpleNamespace, event: Event) -> MarketSnapshot:
    m = market.m
    return build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, [*m.events, event])


def test_a_future_event_does_not_change_earlier_features(market: SimpleNamespace) -> None:
    start, _ = market.windows["train"]
    window = (start + 60.0, start + 120.0)
    kw = {"ent_vecs": market.ent_vecs, "man_vecs": market.man_vecs, "seed": 3}
    before = build_ranking_data(market.snap, "investor", *window, **kw)
    m = market.m
    row = int(np.flatnonzero(before.y > 0)[0])
    inv, ent = m.investors[before.inv[row]], m.enterprises[before.ent[row]]
    last = max(e.occurred_at for e in m.events)
    planted = Event("planted", inv.key, ent.key, "invested", last - timedelta(days=1), need_ref=None)
    after = build_ranking_data(_with_event(market, planted), "investor", *window, **kw)
    for field in ("X", "y", "inv", "ent", "need", "group"):
        np.testing.assert_array_equal(getattr(before, field), getattr(after, field), err_msg=field)
    # the same event planted *before* the window does change its features (the check can fail)
    first = min(e.occurred_at for e in m.events)
    early = build_ranking_data(
        _with_event(market, replace(planted, occurred_at=first)), "investor", *window, **kw
    )
    assert not np.array_equal(np.nan_to_num(before.X, nan=-9), np.nan_to_num(early.X, nan=-9))


def test_ndcg_known_answers() -> None:
    y, group = np.array([3, 0, 1, 0]), np.array([4])
    assert ndcg_at_k(y, np.array([4.0, 1, 3, 2]), group) == pytest.approx(1.0)
    dcg = 1 / np.log2(3) + 7 / np.log2(5)  # order: 0, 1, 0, 3 (gains 2^y - 1)
    ideal = 7 + 1 / np.log2(3)
    assert ndcg_at_k(y, np.array([1.0, 4, 3, 2]), group) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(y, np.array([1.0, 4, 3, 2]), group, k=1) == 0.0
    assert np.isnan(ndcg_at_k(np.zeros(3, dtype=int), np.arange(3.0), np.array([3])))


def test_ranker_beats_random_and_similarity_on_later_months(
    market: SimpleNamespace, ranker: LambdaRanker
) -> None:
    test = market.data["test"]
    model = ndcg_at_k(test.y, ranker.predict(test.X), test.group)
    rng = np.random.default_rng(0)
    random = np.mean([ndcg_at_k(test.y, rng.random(len(test)), test.group) for _ in range(10)])
    similarity = ndcg_at_k(test.y, test.column("semantic_sim"), test.group)
    assert model > random + 0.1
    assert model > similarity + 0.05


def test_save_load_gives_identical_scores(
    market: SimpleNamespace, ranker: LambdaRanker, tmp_path: Path
) -> None:
    X = market.data["test"].X
    path = ranker.save(
        tmp_path,
        direction="investor",
        encoder_id=ENCODER,
        data_window={"train": market.windows["train"]},
        metrics={"ndcg@10": 0.5},
    )
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["features"] == list(FEATURE_NAMES) and manifest["best_iteration"] == ranker.best_iteration
    assert set(manifest["versions"]) == {"lightgbm", "numpy", "scikit-learn"}
    loaded = LambdaRanker.load(tmp_path, "investor", encoder_id=ENCODER)
    np.testing.assert_array_equal(loaded.predict(X), ranker.predict(X))
    np.testing.assert_allclose(loaded.contributions(X[:5]), ranker.contributions(X[:5]))


def test_load_refuses_mismatches_and_says_retrain(
    market: SimpleNamespace, ranker: LambdaRanker, tmp_path: Path
) -> None:
    ranker.save(tmp_path, direction="investor", encoder_id=ENCODER, data_window={}, metrics={})
    with pytest.raises(ArtifactError, match="encoder.*retrain"):
        LambdaRanker.load(tmp_path, "investor", encoder_id="another-encoder")
    with pytest.raises(ArtifactError, match="missing.*retrain"):
        LambdaRanker.load(tmp_path, "enterprise")
    man = tmp_path / "ranker_investor.json"
    good = json.loads(man.read_text(encoding="utf-8"))
    man.write_text(json.dumps({**good, "features": good["features"][:-1]}), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"other features.*affinity.*retrain"):
        LambdaRanker.load(tmp_path, "investor")
    man.write_text(json.dumps({**good, "features_hash": "0" * 16}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="retrain"):
        LambdaRanker.load(tmp_path, "investor")
    man.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="corrupt.*retrain"):
        LambdaRanker.load(tmp_path, "investor")
    man.write_text(json.dumps(good), encoding="utf-8")
    (tmp_path / "ranker_investor.txt").write_text("garbage", encoding="utf-8")
    with pytest.raises(ArtifactError, match="retrain"):
        LambdaRanker.load(tmp_path, "investor")


def test_same_seed_same_model(market: SimpleNamespace, ranker: LambdaRanker) -> None:
    X = market.data["test"].X
    again = LambdaRanker(seed=0).fit(market.data["train"], market.data["valid"])
    np.testing.assert_array_equal(again.predict(X), ranker.predict(X))
    other = LambdaRanker(seed=1).fit(market.data["train"], market.data["valid"])
    assert not np.array_equal(other.predict(X), ranker.predict(X))
    data = build_ranking_data(
        market.snap,
        "investor",
        *market.windows["test"],
        ent_vecs=market.ent_vecs,
        man_vecs=market.man_vecs,
        seed=0,
    )
    np.testing.assert_array_equal(data.X, market.data["test"].X)


def test_contributions_add_up_to_the_score(market: SimpleNamespace, ranker: LambdaRanker) -> None:
    X = market.data["test"].X[:50]
    contrib = ranker.contributions(X)
    assert contrib.shape == (50, len(FEATURE_NAMES) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), ranker.predict(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        ranker.predict(X[:, :5])


def test_cold_start_investor_and_enterprise_get_sensible_lists(
    market: SimpleNamespace, ranker: LambdaRanker
) -> None:
    m = market.m
    model = next(x for x in m.mandates if x.sectors and len(x.sectors) <= 2 and x.ticket_max)
    owner = next(i for i in m.investors if i.key == model.investor_key)
    cold_inv = Investor(
        name="新设基金", investor_type=owner.investor_type, external_id="cold-fund", aum=owner.aum
    )
    mandate = replace(model, investor_key=cold_inv.key, version=1, valid_from=None)
    cold_ent = replace(
        m.enterprises[0], credit_code=None, source="platform", external_id="cold-ent", name="新入驻企业"
    )
    snap = build_snapshot(
        [*m.enterprises, cold_ent],
        [*m.investors, cold_inv],
        [*m.mandates, mandate],
        m.needs,
        m.secondaries,
        m.events,
    )
    ent_vecs, man_vecs = embed(snap)
    hist = History.build(snap, snap.as_of, ent_vecs=ent_vecs)
    collab = CollaborativeModel().fit(snap, hist)
    inv_row = snap.inv_key_row[cold_inv.key]
    needs = np.flatnonzero(Eligibility.of(snap).needs_for(inv_row))
    assert len(needs) >= 20
    ents = snap.need_ent[needs]
    inv = np.full(len(needs), inv_row)
    X = compute_features(
        snap, hist, inv, ents, needs, sim=ent_vecs[ents] @ man_vecs[inv_row], collab=collab.score(inv, ents)
    )
    scores = ranker.predict(X)
    assert np.isfinite(scores).all()
    top = np.argsort(-scores, kind="stable")[:10]
    in_mandate = X[:, FEATURE_NAMES.index("sector_exact")]
    assert in_mandate[top].mean() >= in_mandate.mean()  # content and mandate alone steer the cold list
    # the cold enterprise: no history, still a finite score against every investor
    e_row = snap.ent_key_row[cold_ent.key]
    invs = np.arange(snap.n_investors)
    Xe = compute_features(
        snap,
        hist,
        invs,
        np.full(len(invs), e_row),
        np.full(len(invs), -1),
        sim=man_vecs @ ent_vecs[e_row],
        collab=collab.score(invs, np.full(len(invs), e_row)),
    )
    assert np.isfinite(ranker.predict(Xe)).all()
    assert (Xe[:, FEATURE_NAMES.index("ent_popularity")] == 0).all()


def test_fit_refuses_empty_data(market: SimpleNamespace) -> None:
    empty = build_ranking_data(
        market.snap, "investor", 0.0, 30.0, ent_vecs=market.ent_vecs, man_vecs=market.man_vecs
    )
    assert len(empty) == 0
    with pytest.raises(ValueError, match="empty"):
        LambdaRanker().fit(empty)
    with pytest.raises(ValueError, match="direction"):
        build_ranking_data(
            market.snap,
            "fund",
            0.0,
            30.0,
            ent_vecs=market.ent_vecs,  # type: ignore[arg-type]
            man_vecs=market.man_vecs,
        )


def test_data_without_financing_needs_trains_and_ranks(market: SimpleNamespace) -> None:
    m = market.m  # CrunchBase-like: no needs, no tickets or stages in mandates, events name no need
    events = [replace(e, need_ref=None) for e in m.events]
    mandates = [replace(x, ticket_min=None, ticket_max=None, stages=[]) for x in m.mandates]
    snap = build_snapshot(m.enterprises, m.investors, mandates, [], [], events)
    windows = last_days_split(snap, valid_days=60, test_days=90)
    kw = {"ent_vecs": market.ent_vecs, "man_vecs": market.man_vecs}
    train, test = (build_ranking_data(snap, "enterprise", *windows[k], **kw) for k in ("train", "test"))
    assert (train.need == -1).all() and test.n_queries > 20
    for name in ("ticket_fit", "stage_fit", "instrument_fit", "need_age_days"):
        assert np.isnan(test.column(name)).all()
    ranker = LambdaRanker(seed=0).fit(train, num_boost_round=60)
    rng = np.random.default_rng(0)
    random = np.mean([ndcg_at_k(test.y, rng.random(len(test)), test.group) for _ in range(10)])
    assert ndcg_at_k(test.y, ranker.predict(test.X), test.group) > random + 0.05


def test_early_stopping_keeps_the_best_round_on_the_later_window(market: SimpleNamespace,
                                                                 ranker: LambdaRanker) -> None:
    valid = market.data["valid"]
    booster = ranker.booster
    assert booster is not None and ranker.best_iteration <= booster.current_iteration()
    # early stopping keeps the round where the metric it watched (LightGBM's NDCG@10) peaked
    watched = ranker.valid_curve  # every round run (the booster keeps those up to the best)
    assert len(watched) >= booster.current_iteration() >= ranker.best_iteration
    assert ranker.best_iteration == watched.index(max(watched)) + 1
    # and that round is within a hair of the best by the evaluation's own NDCG@10, which breaks ties and
    # counts queries without a positive differently from LightGBM's
    curve = [ndcg_at_k(valid.y, booster.predict(valid.X, num_iteration=it), valid.group)
             for it in range(1, booster.current_iteration() + 1)]
    assert curve[ranker.best_iteration - 1] >= max(curve) - 0.005
