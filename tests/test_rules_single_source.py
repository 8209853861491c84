"""One source of truth for the hard rules: eligible ⇔ no violation, on every path, and nowhere else.

(a) On generated markets (half with exclusions both ways, open ticket ends and needs without a
round), the one vectorised implementation (:mod:`matching.rules.eligibility`) agrees with the
reference :func:`~matching.rules.constraints.violations` pair by pair on the three paths that use it:
serving (live needs, investors for a need, need-less enterprises), training rows (a period's
eligibility, statuses as they stood then) and evaluation (every candidate of an evaluation set).

(b) The source tree is scanned: no module outside ``matching/rules`` defines a rule function or
reads a need's closing date, and the names of the old copies are gone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers_encoder import HashingEncoder
from helpers_market import plant_edge_cases

from matching.domain.sides import Side
from matching.learning.evaluation import build_eval_sets
from matching.retrieval.embeddings import embed
from matching.rules.constraints import OLD_SHARES, needs_open_in, violations
from matching.rules.eligibility import Eligibility, Statuses
from matching.rules.liveneeds import LiveNeeds
from matching.rules.static import PeriodEligibility
from matching.snapshot.asof import snapshot_at
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market

ROOT = Path(__file__).resolve().parents[1]


def _market(seed: int) -> MarketSnapshot:
    m = generate_market(150, 40, 6, seed=seed)
    if seed % 2:
        plant_edge_cases(m, seed)
    return build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)


def _reference(snap: MarketSnapshot, *, tolerance: float = 0.2, as_of: float | None = None) -> np.ndarray:
    """Bool ``(n_investors, n_needs)``: no violation, pair by pair (the reference, in plain Python)."""
    return np.array([[not violations(snap, i, n, tolerance=tolerance, as_of=as_of) for n in range(len(snap.need_id))]
                     for i in range(snap.n_investors)], dtype=bool).reshape(snap.n_investors, len(snap.need_id))


def _period_snapshot(snap: MarketSnapshot, t0: float, t1: float) -> tuple[MarketSnapshot, Statuses]:
    """The market as of ``t0`` with its statuses as they stood in ``[t0, t1)``: for the reference, a snapshot
    whose status columns are the period's; for the index, the same statuses as :class:`Statuses`."""
    then = snapshot_at(snap, t0)
    lo, hi = np.searchsorted(then.ev_time, [t0, t1], side="left")
    inv, ent, need = then.ev_inv[lo:hi], then.ev_ent[lo:hi], then.ev_need[lo:hi]
    ok = (inv >= 0) & (ent >= 0) & (need >= 0)
    ok[ok] &= then.need_instr[need[ok]] != OLD_SHARES
    statuses = Statuses.period(then, t0, t1, inv[ok], ent[ok])
    inv_active, ent_active = then.inv_active.copy(), then.ent_active.copy()
    inv_active[inv[ok]] = True
    ent_active[ent[ok]] = True
    return replace(then, need_open=needs_open_in(then, t0, t1), inv_active=inv_active, ent_active=ent_active), statuses


@pytest.mark.parametrize("seed", range(4))
def test_serving_paths_are_eligible_exactly_when_nothing_is_violated(seed: int) -> None:
    snap = _market(seed)
    index, live = Eligibility.of(snap), LiveNeeds(snap)
    for tol in (0.0, 0.2):
        ref = _reference(snap, tolerance=tol)
        assert ref.any() and not ref.all()
        for inv in range(snap.n_investors):
            np.testing.assert_array_equal(index.needs_for(inv, tolerance=tol), ref[inv], err_msg=f"investor {inv}")
            got = np.zeros(len(snap.need_id), dtype=bool)
            got[live.need[live.eligible(inv, tolerance=tol)]] = True
            np.testing.assert_array_equal(got, ref[inv], err_msg=f"live needs, investor {inv}")
        for need in range(len(snap.need_id)):
            np.testing.assert_array_equal(index.investors_for(need, tolerance=tol), ref[:, need],
                                          err_msg=f"need {need}")
    earlier = float(np.nanmedian(snap.need_closes))  # as of another moment: the needs open then
    ref = _reference(snap, as_of=earlier)
    for inv in range(snap.n_investors):
        np.testing.assert_array_equal(index.needs_for(inv, as_of=earlier), ref[inv])


@pytest.mark.parametrize("seed", range(2))
def test_need_less_pairs_follow_the_enterprise_level_rules(seed: int) -> None:
    snap = _market(seed)
    index = Eligibility.of(snap)
    need_only = {"need_closed", "debt_only", "old_shares_secondary", "instrument", "stage", "ticket"}
    checked = 0
    for inv in range(snap.n_investors):
        got = index.enterprises_for(inv)
        for ent in range(snap.n_enterprises):
            needs = snap.needs_of(ent)
            if len(needs):  # the reference judges a need: keep its enterprise-level verdicts
                assert got[ent] == (not set(violations(snap, inv, int(needs[0]))) - need_only), (inv, ent)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("seed", range(2))
def test_training_periods_are_eligible_exactly_when_nothing_is_violated(seed: int) -> None:
    snap = _market(seed)
    t_end = float(snap.ev_time[-1])
    no_vecs = np.zeros((snap.n_enterprises, 4)), np.zeros((snap.n_investors, 4))
    for t0 in (t_end - 200.0, t_end - 60.0):
        then, statuses = _period_snapshot(snap, t0, t0 + 30.0)
        ref = _reference(then, as_of=t0)
        assert ref.any()
        elig = PeriodEligibility(snapshot_at(snap, t0), statuses)
        inv, need = (a.ravel() for a in np.meshgrid(np.arange(snap.n_investors), np.arange(len(snap.need_id)),
                                                   indexing="ij"))
        got = elig.pairs(inv, snap.need_ent[need], need).reshape(ref.shape)
        np.testing.assert_array_equal(got, ref, err_msg=f"period at {t0}")
        for q in range(snap.n_investors):
            ents, needs, _ = elig.for_investor(q, *no_vecs)
            assert np.array_equal(np.sort(ents), np.unique(snap.need_ent[ref[q]])), f"investor {q} at {t0}"
            assert ref[q, needs].all()
        for n in range(len(snap.need_id)):
            np.testing.assert_array_equal(elig.for_enterprise(int(snap.need_ent[n]), n), np.flatnonzero(ref[:, n]))


@pytest.mark.parametrize("seed", range(2))
def test_evaluation_candidates_are_every_eligible_counterpart(seed: int) -> None:
    snap = _market(seed)
    enc = HashingEncoder(32)
    ent_vecs, man_vecs = embed(enc, snap.ent_text, kind="passage"), embed(enc, snap.man_text, kind="query")
    t1 = float(snap.ev_time[-1]) + 1e-6
    t0 = t1 - 60.0
    sets = build_eval_sets(snap, tuple(Side), t0, t1, ent_vecs=ent_vecs, man_vecs=man_vecs)
    then, _ = _period_snapshot(snap, t0, t1)
    ref = _reference(then, as_of=t0)
    data = sets[Side.INVESTOR].data
    assert data.n_queries > 0
    lo, hi = np.searchsorted(snap.ev_time, [t0, t1], side="left")
    for q in np.unique(data.query):
        rows = data.query == q
        eligible_ents = set(snap.need_ent[ref[q]].tolist())
        met = set(snap.ev_ent[lo:hi][snap.ev_inv[lo:hi] == q].tolist())  # a pair met in the window is never a negative
        assert set(data.ent[rows].tolist()) <= eligible_ents, f"investor query {q}: an ineligible candidate"
        assert eligible_ents - set(data.ent[rows].tolist()) <= met, f"investor query {q}: an eligible one missing"
        assert ref[q, data.need[rows]].all(), f"investor query {q}: an ineligible need"
    data = sets[Side.ENTERPRISE].data
    assert data.n_queries > 0
    assert ref[data.inv, data.need].all()


# -- (b) one place in the source tree ------------------------------------------------------------
#: Rule functions: defined in matching/rules only.
RULE_FUNCTIONS = {"violations", "hard_rules", "eligible", "needs_open", "needs_open_in", "ticket_ok", "structured_fit",
                  "pair_fit", "ticket_score"}
#: The names of the old copies (and of the dataset's local side words): gone everywhere.
OLD_NAMES = {"eligible_needs", "eligible_enterprises", "investors_for_need", "PairRules", "_StaticRules",
             "_Eligibility", "enterprises_excluding", "ticket_fit", "DIRECTIONS"}
SCANNED = ("matching", "api", "training", "store", "cli", "bench", "tests")


def _modules() -> list[Path]:
    out = [p for d in SCANNED for p in (ROOT / d).rglob("*.py") if ".venv" not in p.parts]
    return [p for p in out if p.name != Path(__file__).name]


def _names(node: ast.AST) -> set[str]:
    return {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(node)
            if isinstance(n, ast.Attribute | ast.Name)}


def test_rules_are_defined_and_the_open_check_read_only_in_matching_rules() -> None:
    rules_dir = ROOT / "matching" / "rules"
    found: list[str] = []
    for path in _modules():
        if rules_dir in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(ROOT)
        builds_snapshot = (ROOT / "matching" / "snapshot") in path.parents
        in_tests = (ROOT / "tests") in path.parents
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in RULE_FUNCTIONS:
                found.append(f"{where}:{node.lineno} defines {node.name}")
            if not builds_snapshot and isinstance(node, ast.Attribute) and node.attr == "need_closes":
                found.append(f"{where}:{node.lineno} reads need_closes (use matching.rules.constraints.needs_open)")
            if in_tests:  # known answers may state a closing date; only code must not decide openness itself
                continue
            if isinstance(node, ast.Compare) and not any(isinstance(o, ast.Constant) and o.value is None
                                                         for o in node.comparators):
                names = _names(node)  # a closing date against a moment (against the opening date: a date rule)
                if "closes_on" in names and "opened_on" not in names:
                    found.append(f"{where}:{node.lineno} compares closes_on (use matching.rules.constraints"
                                 ".needs_open)")
    assert not found, "\n".join(found)


def test_the_old_copies_are_gone() -> None:
    found = []
    for path in [*_modules(), *(ROOT / "notebooks").glob("*.ipynb")]:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # code cells as JSON text: a name as a word ("ticket_fit" is a feature there)
            found += [f"{path.relative_to(ROOT)}: {n}" for n in OLD_NAMES - {"ticket_fit"}
                      if re.search(rf"\\b{n}\\b", text)]
            continue
        tree = ast.parse(text)
        for node in ast.walk(tree):
            name = (node.name if isinstance(node, ast.FunctionDef | ast.ClassDef) else
                    node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else
                    node.name.rsplit(".", 1)[-1] if isinstance(node, ast.alias) else None)
            if name in OLD_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} {name}")
    assert not found, "old names still in use:\n" + "\n".join(found)
