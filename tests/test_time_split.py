"""Time-split data never reads the future; the impression log's served features are used as served."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest
from helpers_encoder import HashingEncoder

from matching.domain.sides import Side
from matching.features.table import FEATURE_NAMES
from matching.learning.dataset import build_ranking_data
from matching.learning.evaluation import build_eval_set
from matching.learning.impressions import Impression, impression_data
from matching.snapshot.core import EPOCH, build_snapshot
from matching.synth.generator import generate_market


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return generate_market(400, 50, 8, seed=11)


def _snap(m, events):  # type: ignore[no-untyped-def]
    return build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, events)


def _vecs(snap):  # type: ignore[no-untyped-def]
    enc = HashingEncoder()
    return enc.encode_passages(snap.ent_text), enc.encode_queries(snap.man_text)


def _planted(m, snap, when_days: float):  # type: ignore[no-untyped-def]
    """An 'invested' event for an existing pair at ``when_days`` (days since the epoch)."""
    base = m.events[len(m.events) // 2]
    return dataclasses.replace(base, event_key="planted-future", event_type="invested",
                               occurred_at=EPOCH + timedelta(days=when_days))


def test_a_future_event_changes_no_training_row(market) -> None:  # type: ignore[no-untyped-def]
    snap = _snap(market, market.events)
    ent_vecs, man_vecs = _vecs(snap)
    start, end = float(snap.ev_time[0]) + 30, float(snap.ev_time[0]) + 150
    planted = _planted(market, snap, end + 5)  # after the window
    snap2 = _snap(market, [*market.events, planted])
    for direction in tuple(Side):
        a = build_ranking_data(snap, direction, start, end, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=1)
        b = build_ranking_data(snap2, direction, start, end, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=1)
        assert len(a) > 100
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.ent, b.ent)


def test_an_event_inside_the_period_labels_but_never_feeds_features(market) -> None:  # type: ignore[no-untyped-def]
    """Features come from the History at the period's start: an event later in the same period may
    become a label, never a feature (pair_prior_engagement, popularity, … stay as they were)."""
    snap = _snap(market, market.events)
    ent_vecs, man_vecs = _vecs(snap)
    t0 = float(snap.ev_time[0]) + 60
    planted = _planted(market, snap, t0 + 10)
    snap2 = _snap(market, [*market.events, planted])
    inv_row, ent_row = snap2.inv_key_row[planted.investor_key], snap2.ent_key_row[planted.enterprise_key]
    a = build_eval_set(snap, "investor", t0, t0 + 30, ent_vecs=ent_vecs, man_vecs=man_vecs)
    b = build_eval_set(snap2, "investor", t0, t0 + 30, ent_vecs=ent_vecs, man_vecs=man_vecs)
    hit = np.flatnonzero((b.data.inv == inv_row) & (b.data.ent == ent_row))
    assert len(hit) == 1 and b.data.y[hit[0]] == 5  # the planted event is this window's label
    for name in ("pair_prior_engagement", "ent_popularity", "inv_positives", "inv_activity_90d"):
        j = FEATURE_NAMES.index(name)
        same = np.flatnonzero((a.data.inv == inv_row) & (a.data.ent == ent_row))
        if len(same):  # the pair was already a candidate: identical features either way
            np.testing.assert_array_equal(a.data.X[same[0], j], b.data.X[hit[0], j])
    # and no feature of any row of another query changed
    other_a = a.data.query != inv_row
    other_b = b.data.query != inv_row
    np.testing.assert_array_equal(a.data.X[other_a], b.data.X[other_b])


def test_impressions_use_served_features_and_later_grades(market) -> None:  # type: ignore[no-untyped-def]
    snap = _snap(market, market.events)
    i = len(snap.ev_time) // 3
    inv, ent, t = int(snap.ev_inv[i]), int(snap.ev_ent[i]), float(snap.ev_time[i])
    served = EPOCH + timedelta(days=t - 1)
    others = [e for e in range(snap.n_enterprises) if e != ent][:2]
    feats = {"semantic_sim": 0.5, "sector_exact": 1.0}
    imps = [Impression("L1", "investor", served, p + 1, int(snap.inv_id[inv]), int(snap.ent_id[e]), None,
                       feats if p == 0 else {"semantic_sim": 0.1})
            for p, e in enumerate([ent, *others])]
    imps.append(Impression("L2", "enterprise", served, 1, int(snap.inv_id[inv]), int(snap.ent_id[ent]), None, {}))
    data = impression_data(snap, "investor", imps, horizon_days=30)
    assert data.n_queries == 1 and list(data.ent) == [ent, *others]
    # the label: the highest grade the pair reached in [served, served + 30 days)
    key = (snap.ev_inv == inv) & (snap.ev_ent == ent) & (snap.ev_time >= t - 1) & (snap.ev_time < t + 29)
    assert data.y[0] == snap.ev_grade[key].max() > 0
    assert data.X[0, FEATURE_NAMES.index("semantic_sim")] == pytest.approx(0.5)
    assert data.X[0, FEATURE_NAMES.index("sector_exact")] == 1.0
    assert np.isnan(data.X[1, FEATURE_NAMES.index("sector_exact")])  # not logged: missing, not invented
    # a list whose horizon reaches past the window's end is not used (its label is not known yet)
    assert impression_data(snap, "investor", imps, horizon_days=30, end=t + 10).n_queries == 0


def test_a_mandate_revised_later_changes_no_earlier_training_row(market) -> None:  # type: ignore[no-untyped-def]
    """Training reads the mandate version valid at each period's start: a revision dated after the
    window changes nothing in it, and before its date the earlier version's text and rules are read."""
    from matching.domain.records import Mandate
    from matching.snapshot.asof import set_version_vectors, snapshot_at, valid_at, version_texts

    snap = _snap(market, market.events)
    start, end = float(snap.ev_time[0]) + 30, float(snap.ev_time[0]) + 150
    # a new version of every mandate, valid from after the window: sectors and stages swapped for others
    later = EPOCH + timedelta(days=end + 10)
    revised = [dataclasses.replace(m, version=m.version + 10, valid_from=later, sectors=["biomedicine"],
                                   stages=["pre_ipo"], thesis="全新的投资方向") for m in market.mandates]
    snap2 = build_snapshot(market.enterprises, market.investors, [*market.mandates, *revised], market.needs,
                           market.secondaries, market.events, as_of=later + timedelta(days=1))
    assert all(isinstance(m, Mandate) and m.version > 10 for m in snap2.man_record if m is not None)
    past = snapshot_at(snap2, start)
    assert all(m is None or m.version < 10 for m in past.man_record)
    assert past.man_text == snapshot_at(snap, start).man_text
    assert valid_at(snap2.man_versions[0], start) is past.man_record[0]
    enc = HashingEncoder()
    ent_vecs, man_vecs = enc.encode_passages(snap.ent_text), enc.encode_queries(snap.man_text)
    for s in (snap, snap2):  # what training's embedding step does (training.inputs.embed_inputs)
        earlier = version_texts(s)
        set_version_vectors(s, dict(zip(earlier, enc.encode_queries(list(earlier.values())), strict=True)))
    man_vecs2 = enc.encode_queries(snap2.man_text)  # today's (revised) texts: never read for the window
    assert not np.array_equal(man_vecs, man_vecs2)
    for direction in tuple(Side):
        a = build_ranking_data(snap, direction, start, end, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=1)
        b = build_ranking_data(snap2, direction, start, end, ent_vecs=ent_vecs, man_vecs=man_vecs2, seed=1)
        assert len(a) > 100
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.inv, b.inv)
