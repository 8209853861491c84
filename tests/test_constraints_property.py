"""Property: no served list ever breaks a hard constraint, over many generated markets and filters.

For each of 24 small generated markets (different seeds), for every investor, with and without
random :class:`Filters`: every served pair has no :func:`violations`, S funds get no primary deal,
banks, guarantee companies and lenders get debt-type needs only, old shares go to nobody as a
primary deal, and the filters hold. Enterprise-side lists and S-fund secondary lists likewise.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers_encoder import HashingEncoder
from helpers_market import plant_edge_cases

from matching.domain import regions, vocab
from matching.rules.constraints import DEBT_ONLY, S_FUND, violations
from matching.rules.filters import Filters
from matching.serving.matcher import Matcher
from matching.serving.secondaries import eligible_secondaries
from matching.snapshot.core import DEBT_MASK, INSTR, MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market

SEEDS = range(24)
ENCODER = HashingEncoder(32)


def random_filters(rng: np.random.Generator) -> Filters:
    """Filters with each field set at random (often empty)."""
    def some(codes: tuple[str, ...]) -> tuple[str, ...]:
        if rng.random() < 0.5:
            return ()
        return tuple(rng.choice(codes, size=int(rng.integers(1, min(4, len(codes)) + 1)), replace=False))

    lo = float(rng.choice([0, 1e6, 5e6, 2e7])) if rng.random() < 0.4 else None
    hi = float(rng.choice([1e7, 5e7, 3e8])) if rng.random() < 0.4 else None
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return Filters(boards=some(vocab.BOARDS.codes), tiers=some(vocab.TIERS.codes),
                   districts=some(tuple(regions.DISTRICT_CODES)), instruments=some(vocab.INSTRUMENTS.codes),
                   amount_min=lo, amount_max=hi)


def _check_exclusions(snap: MarketSnapshot, inv: int, ent: int) -> None:
    """Exclusions both ways, read from the records (independent of :func:`violations`)."""
    e_rec, i_rec, man = snap.ent_record[ent], snap.inv_record[inv], snap.man_record[inv]
    assert man is None or e_rec.key not in man.excluded_enterprises, "the mandate excludes this enterprise"
    assert i_rec.key not in e_rec.excluded_investors, "the enterprise excludes this investor"
    assert i_rec.investor_type not in e_rec.excluded_investor_types, "the enterprise excludes this type"


def _check_filters(snap: MarketSnapshot, f: Filters, ent: int, need: int) -> None:
    rec = snap.ent_record[ent]
    assert not f.boards or set(f.boards) & set(rec.boards)
    assert not f.tiers or rec.tier in f.tiers
    assert not f.districts or rec.district_code in f.districts
    assert not f.instruments or snap.need_record[need].instrument in f.instruments
    assert f.amount_min is None or snap.need_amount[need] >= f.amount_min
    assert f.amount_max is None or snap.need_amount[need] <= f.amount_max


@pytest.mark.parametrize("seed", SEEDS)
def test_no_served_item_breaks_a_hard_constraint(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    m = generate_market(140, 30, 6, seed=seed)
    if seed % 2:  # half the markets carry exclusions both ways, open ticket ends, needs without a round
        plant_edge_cases(m, seed)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    matcher = Matcher.build(snap, ENCODER, exploration_share=0.2, seed=seed)
    rng = np.random.default_rng(seed)
    tol = matcher.policy.tolerance
    served = 0
    for inv in range(snap.n_investors):
        iid = int(snap.inv_id[inv])
        for f in (None, random_filters(rng), random_filters(rng)):
            for it in matcher.recommend_enterprises(iid, k=30, filters=f).items:
                need = snap.need_row[it.need_id]
                ent = snap.enterprise_row[it.enterprise_id]
                assert int(snap.need_ent[need]) == ent and it.investor_id == iid
                assert violations(snap, inv, need, tolerance=tol) == [], (seed, inv, need)
                _check_exclusions(snap, inv, ent)
                assert snap.inv_type[inv] != S_FUND, "S funds get secondary listings, not primary deals"
                instr = int(snap.need_instr[need])
                assert instr != INSTR["old_shares"]
                if snap.inv_type[inv] in DEBT_ONLY:
                    assert (DEBT_MASK >> instr) & 1, "banks and guarantee companies get debt-type needs only"
                if f is not None:
                    _check_filters(snap, f, ent, need)
                served += 1
        if snap.inv_type[inv] == S_FUND:
            allowed = eligible_secondaries(snap, inv, tolerance=tol)
            for it in matcher.recommend_secondaries(iid, k=30).items:
                row = int(np.flatnonzero(snap.sec_id == it.secondary_id)[0])
                assert allowed[row] and snap.sec_open[row]
                assert snap.sec_record[row].seller_investor_key != snap.inv_key[inv]
    for ent in range(0, snap.n_enterprises, 4):
        f = random_filters(rng) if ent % 8 else None
        if f is not None:
            f = Filters(instruments=f.instruments, amount_min=f.amount_min, amount_max=f.amount_max,
                        investor_types=tuple(rng.choice(vocab.INVESTOR_TYPES.codes, size=4, replace=False)))
        for it in matcher.recommend_investors(int(snap.ent_id[ent]), k=30, filters=f).items:
            inv, need = snap.investor_row[it.investor_id], snap.need_row[it.need_id]
            assert int(snap.need_ent[need]) == ent
            assert violations(snap, inv, need, tolerance=tol) == [], (seed, inv, need)
            _check_exclusions(snap, inv, ent)
            assert snap.inv_type[inv] != S_FUND
            if f is not None:
                assert vocab.INVESTOR_TYPES.codes[int(snap.inv_type[inv])] in f.investor_types
                assert not f.instruments or snap.need_record[need].instrument in f.instruments
            served += 1
    assert served > 100
    # the last-line guard in the matcher never had to drop anything: constraints held inside the search
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("matching")]


def test_filters_never_loosen() -> None:
    """A filtered list is always a subset of what the constraints allow, for tight tolerances too."""
    m = generate_market(200, 30, 6, seed=99)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    from matching.config import Settings
    matcher = Matcher.build(snap, ENCODER, settings=Settings(ticket_tolerance=0.0))
    wide = Filters(amount_min=0.0, amount_max=1e13)  # a filter wider than any mandate must not widen it
    for inv in range(snap.n_investors):
        for it in matcher.recommend_enterprises(int(snap.inv_id[inv]), k=50, filters=wide).items:
            assert violations(snap, inv, snap.need_row[it.need_id], tolerance=0.0) == []
