"""The incremental matcher of alerts (:mod:`matching.serving.alerts`) on a market whose answers are known.

Investor A (生物医药, A轮, 2000万–1亿, 重庆) already has three eligible needs (software, NEV, chips); the
Chongqing biomedicine firm's need (``n-target``) is the change: it fits A best, so it enters A's top N first.
The bank never hears of an equity need (a hard rule), and nothing alerts twice.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers_encoder import HashingEncoder
from test_matcher import known_market

from matching.rules.constraints import violations
from matching.rules.filters import Filters
from matching.serving.alerts import MANDATE, ListState, StandingQuery, changed_needs, new_alerts
from matching.serving.alertstate import alert_scores
from matching.serving.matcher import Matcher
from matching.snapshot.core import MarketSnapshot


@pytest.fixture(scope="module")
def known() -> tuple[MarketSnapshot, Matcher]:
    snap = known_market()
    return snap, Matcher.build(snap, HashingEncoder())


def _ids(snap: MarketSnapshot) -> dict[str, int]:
    out = {k.split(":")[1]: int(snap.inv_id[r]) for k, r in snap.inv_key_row.items()}
    out |= {k.split(":")[1]: int(snap.ent_id[r]) for k, r in snap.ent_key_row.items()}
    out |= {snap.need_record[r].ref: int(snap.need_id[r]) for r in range(len(snap.need_id))}
    return out


def test_a_new_fitting_need_enters_the_top_n_once(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    queries = [StandingQuery(ids["A"], top_n=3), StandingQuery(ids["bank"], top_n=3)]
    state = ListState()
    rows = changed_needs(m, need_ids=[ids["n-target"]])
    alerts = new_alerts(m, queries, rows, state=state)
    assert [(a.item.investor_id, a.item.enterprise_id, a.item.need_id, a.query, a.rank) for a in alerts] == [
        (ids["A"], ids["target"], ids["n-target"], MANDATE, 1)]
    a = alerts[0]
    # the state was A's list before the change: software, NEV and chips (three eligible needs), so the cutoff is
    # the weakest of those three, and the target beat it
    assert a.cutoff < a.item.score
    assert len(state.get(queries[0]).top) == 4  # N + 1 kept: the three before and the target
    assert "融资需求5,000万元在贵机构单笔投资区间2,000万–1亿元内" in " ".join(r.zh for r in a.item.reasons)
    assert violations(snap, snap.investor_row[ids["A"]], snap.need_row[ids["n-target"]]) == []
    # never twice: neither from the outbox (sent) nor from the state (the pair is in the top N now)
    assert new_alerts(m, queries, rows, state=state, sent={a.key}) == []
    assert new_alerts(m, queries, rows, state=ListState(), sent={a.key}) == []


def test_a_dismissed_enterprise_and_a_forbidden_pair_never_alert(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    rows = changed_needs(m, enterprise_ids=[ids["target"]])  # a profile change stands for its needs
    assert list(rows) == [snap.need_row[ids["n-target"]]]
    assert new_alerts(m, [StandingQuery(ids["A"], top_n=3)], rows, state=ListState(),
                      dismissed={(ids["A"], ids["target"])}) == []
    # the bank takes debt needs only: an equity need never reaches it, however low its bar
    assert new_alerts(m, [StandingQuery(ids["bank"], top_n=100, min_score=-1e9)], rows, state=ListState()) == []


def test_threshold_filters_and_text_narrow(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    rows = changed_needs(m, need_ids=[ids["n-target"]])
    one = new_alerts(m, [StandingQuery(ids["A"], top_n=3)], rows, state=ListState())
    score = one[0].item.score
    assert new_alerts(m, [StandingQuery(ids["A"], top_n=3, min_score=score + 1e-9)], rows, state=ListState()) == []
    assert len(new_alerts(m, [StandingQuery(ids["A"], top_n=3, min_score=score)], rows, state=ListState())) == 1
    basic = StandingQuery(ids["A"], "search:1", Filters(tiers=("basic",)), top_n=3)  # the target is growth tier
    assert new_alerts(m, [basic], rows, state=ListState()) == []
    yubei = StandingQuery(ids["A"], "search:2", Filters(districts=("渝北区",)), top_n=3)  # 500112
    got = new_alerts(m, [yubei], rows, state=ListState())
    assert [(a.query, a.item.enterprise_id) for a in got] == [("search:2", ids["target"])]
    food = StandingQuery(ids["A"], "search:3", text="火锅底料 预制菜", top_n=3)
    assert new_alerts(m, [food], rows, state=ListState(), text_hits={"search:3": frozenset({ids["food"]})}) == []
    bio = StandingQuery(ids["A"], "search:4", text="创新药", top_n=3)
    got = new_alerts(m, [bio], rows, state=ListState(), text_hits={"search:4": frozenset({ids["target"]})})
    assert [a.query for a in got] == ["search:4"]
    # the mandate and a saved search both find it: one alert, the first query's
    both = new_alerts(m, [StandingQuery(ids["A"], top_n=3), yubei], rows, state=ListState())
    assert [a.query for a in both] == [MANDATE]


def test_a_burst_alerts_only_what_enters_the_top_n(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    q = StandingQuery(ids["A"], top_n=1)
    rows = changed_needs(m, need_ids=[ids["n-target"], ids["n-chip"], ids["n-sw"]])
    state = ListState()
    got = new_alerts(m, [q], rows, state=state)
    # before the change A's list held NEV only; the target enters first and raises the cutoff above the others
    assert [a.item.enterprise_id for a in got] == [ids["target"]]
    assert state.get(q).cutoff(-1) == pytest.approx(got[0].item.score)


def test_a_changed_need_is_compared_with_the_others_never_with_itself(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    q = StandingQuery(ids["A"], top_n=1)
    state = ListState()
    state.ensure(m, [q])  # the list as it is, the target's need at the top
    target = snap.need_row[ids["n-target"]]
    assert state.get(q).needs[0] == target
    got = new_alerts(m, [q], changed_needs(m, need_ids=[ids["n-target"]]), state=state)
    assert [(a.item.need_id, a.rank) for a in got] == [(ids["n-target"], 1)]
    assert got[0].cutoff == pytest.approx(float(state.get(q).others(target)[0]))


def test_cold_start_scores_are_on_one_scale(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, m = known
    ids = _ids(snap)
    q = StandingQuery(ids["A"], top_n=3)
    state = ListState()
    state.ensure(m, [q])
    inv = snap.investor_row[ids["A"]]
    ref = state.get(q).ref_sims
    assert len(ref) == 4  # the four needs A may be shown: target, software, NEV, chips
    rows = np.array([snap.need_row[ids[n]] for n in ("n-target", "n-sw")])
    score, _ = alert_scores(m, np.full(2, inv), snap.need_ent[rows].astype(np.int64), rows, [ref], np.zeros(2, int))
    assert score[0] > score[1] and np.all((score >= 0) & (score <= 1))
    state.forget([ids["A"]])
    assert state.get(q) is None


def _closed(snap: MarketSnapshot, ids: dict[str, int], refs: list[str]) -> Matcher:
    """A matcher over the known market with these needs closed (the same rows: only their status moves)."""
    live = snap.need_open.copy()
    for ref in refs:
        live[snap.need_row[ids[ref]]] = False
    return Matcher.build(dataclasses.replace(snap, need_open=live), HashingEncoder())


def test_a_kept_need_that_closes_no_longer_holds_the_cutoff_up(known: tuple[MarketSnapshot, Matcher]) -> None:
    snap, _ = known
    ids = _ids(snap)
    q = StandingQuery(ids["A"], top_n=1)
    state = ListState()
    before = _closed(snap, ids, ["n-sw"])  # the software need is not open yet
    state.ensure(before, [q])
    assert [snap.need_id[n] for n in state.get(q).needs] == [ids["n-target"], ids["n-ev"]]  # the target is A's top 1
    closed = _closed(snap, ids, ["n-sw", "n-target"])  # the target's need closes
    assert new_alerts(closed, [q], changed_needs(closed, need_ids=[ids["n-target"]]), state=state) == []
    assert state.get(q) is None  # it held the closed need: dropped, rebuilt exactly when next needed
    after = _closed(snap, ids, ["n-target"])  # the software need opens: it now ranks first (N-th) in A's list
    got = new_alerts(after, [q], changed_needs(after, need_ids=[ids["n-sw"]]), state=state)
    assert [(a.item.need_id, a.rank) for a in got] == [(ids["n-sw"], 1)]
    assert got[0].cutoff == pytest.approx(float(state.get(q).others(snap.need_row[ids["n-sw"]])[0]))
    fresh = new_alerts(after, [q], changed_needs(after, need_ids=[ids["n-sw"]]), state=ListState())
    assert [(a.item.need_id, a.rank, a.cutoff) for a in fresh] == [(a.item.need_id, a.rank, a.cutoff) for a in got]
