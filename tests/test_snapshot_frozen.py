"""The snapshot never changes once built: variants are new snapshots, derived tables live beside it and go with it."""

from __future__ import annotations

import dataclasses
import gc
import weakref
from datetime import timedelta

import numpy as np
import pytest

from matching.rules.eligibility import Eligibility
from matching.snapshot.asof import snapshot_at
from matching.snapshot.core import EPOCH, MarketSnapshot, build_snapshot, slim_for_serving
from matching.snapshot.derived import derived
from matching.synth.generator import Market, generate_market


@pytest.fixture(scope="module")
def market() -> Market:
    return generate_market(200, 30, 6, seed=4)


def _snap(m: Market, mandates: list | None = None, **kw: object) -> MarketSnapshot:  # type: ignore[type-arg]
    return build_snapshot(m.enterprises, m.investors, mandates if mandates is not None else m.mandates, m.needs,
                          m.secondaries, m.events, **kw)  # type: ignore[arg-type]


def test_a_snapshot_refuses_assignment(market: Market) -> None:
    snap = _snap(market)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.need_open = np.zeros(len(snap.need_id), dtype=bool)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap._asof_rows = np.zeros(0)  # type: ignore[attr-defined]


def test_a_past_view_is_a_new_snapshot_naming_its_source_and_revised_rows(market: Market) -> None:
    start = float(_snap(market).ev_time[0]) + 30
    later = EPOCH + timedelta(days=start + 400)
    revised = [dataclasses.replace(m, version=m.version + 10, valid_from=later, sectors=["biomedicine"])
               for m in market.mandates[:5]]
    snap = _snap(market, [*market.mandates, *revised], as_of=later + timedelta(days=1))
    view = snapshot_at(snap, start)
    assert view is not snap and view.view_of is not None and view.view_of.source is snap
    rows = view.view_of.rows.tolist()
    assert {snap.inv_key_row[m.investor_key] for m in revised} <= set(rows)
    assert all((view.man_record[r] is snap.man_record[r]) == (r not in rows) for r in range(snap.n_investors))
    assert all(m is None or m.version < 10 for m in view.man_record)
    assert view.ent_id is snap.ent_id and view.enterprise_row == snap.enterprise_row  # other columns shared
    assert snapshot_at(snap, start) is view  # kept beside the source
    assert snap.view_of is None and snapshot_at(snap, snap.as_of) is snap


def test_serving_keeps_a_slim_copy_and_the_read_snapshot_is_unchanged(market: Market) -> None:
    snap = _snap(market)
    slim = slim_for_serving(snap)
    assert not slim.records_kept and len(slim.ent_record) == len(slim.ent_text) == len(slim.man_text) == 0
    assert snap.records_kept and len(snap.ent_record) == snap.n_enterprises == slim.n_enterprises
    assert slim.enterprise_row == snap.enterprise_row and slim.inv_name == snap.inv_name


def test_derived_tables_go_with_their_snapshot(market: Market) -> None:
    """Tables that refer back to their snapshot (the eligibility index) do not keep it alive: a market
    reload frees the old market."""
    refs = []
    for _ in range(3):
        snap = _snap(market)
        Eligibility.of(snap)
        assert derived(snap, "eligibility", lambda: None) is Eligibility.of(snap)
        refs.append(weakref.ref(snap))
        del snap
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
