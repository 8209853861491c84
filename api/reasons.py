"""Disclosure of what is derived: the reasons of a served list as the caller may see them.

Ranking may use data the parties cannot see: that is the platform's role. What a party is *shown* is
another matter: a model reason is derived from the pair's features, and its feature, its weight and
even which signals make the top two depend on every feature of the pair (the trees interact). So for a
pair where an enterprise withholds fields from the calling investor (:mod:`api.disclosure`), the
model reasons are rebuilt from the ranker's contributions on the pair's feature row **with the
withheld features blanked** (what the ranker sees for an enterprise that did not disclose them), and
a signal on a blanked feature is shown as one "模型依据：经营数据（未公开）" without field or weight.
Everything shown is then a function of what the investor may see: changing the withheld figures
changes the score and the position, nothing else (``tests/test_api_disclosure_reasons.py``).

Feature values (the shares quoted in some model reasons) are shown to staff only. Staff (admin,
operator) see every reason as the matcher wrote it; rule reasons state public facts and are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from psycopg_pool import ConnectionPool

from api import disclosure
from api.deps import Principal
from matching.explain.reasons import Reason, model_reasons, with_model_reasons
from matching.features.table import FEATURE_NAMES
from matching.serving.matcher import Matcher
from matching.serving.results import MatchItem
from store.disclosure import PairFacts, pair_facts

logger = logging.getLogger(__name__)

#: Model reasons per pair, as the matcher writes them (``explain_pair``'s ``max_model``).
MAX_MODEL = 2


def needs_facts(who: Principal, items: Sequence[MatchItem], view: str | None) -> bool:
    """Whether :func:`shown_reasons` reads disclosure facts for these items (an investor shown model reasons)."""
    return who.role == "investor" and who.investor_id is not None and view is not None and _has_model_reasons(items)


def _has_model_reasons(items: Sequence[MatchItem]) -> bool:
    return any(r.code.startswith("model:") for it in items for r in it.reasons)


def read_facts(pool: ConnectionPool, who: Principal, items: Sequence[MatchItem], view: str | None, *,
               listing_investor: int | None = None) -> PairFacts | None:
    """The disclosure facts a served list needs, in one round trip (:func:`store.disclosure.pair_facts`), or
    ``None`` when it needs none: the caller's (for :func:`shown_reasons`), with the readiness figures when
    ``listing_investor`` is given (the investor whose list may get the listing reason,
    :func:`api.services.readiness.listing_reasons`). Read per request, never cached."""
    ids = [it.enterprise_id for it in items if it.enterprise_id is not None]
    if not ids:
        return None
    investor = who.investor_id if needs_facts(who, items, view) else listing_investor
    if investor is None:
        return None
    with pool.connection() as conn:
        return pair_facts(conn, investor_id=investor, enterprise_ids=ids, figures=listing_investor == investor)


def shown_reasons(pool: ConnectionPool, m: Matcher, who: Principal, items: Sequence[MatchItem],
                  view: str | None, facts: PairFacts | None = None) -> list[list[Reason]]:
    """Each item's reasons as ``who`` may see them.

    Args:
        pool: the database (the enterprises' disclosure settings, the calling investor's reveals).
        m: the matcher that served the items (its ranker explains the blanked rows).
        who: the caller.
        items: the served items.
        view: the ranker's view of the list (``investor`` for deal lists, ``enterprise`` for an
            enterprise's investors), ``None`` for lists without model reasons (search, secondaries).
        facts: the disclosure facts already read for this request (:func:`read_facts`); used only when
            they are the caller's and cover every item, else they are read here.
    """
    if who.is_staff or view is None or not _has_model_reasons(items):
        return [list(it.reasons) for it in items]
    hidden = _hidden_features(pool, who, items, facts)
    scorer = m.scorer  # without a model there are no model reasons to rebuild (and none were written)
    blanked = [j for j, h in enumerate(hidden) if h] if scorer is not None else []
    rebuilt = set(blanked)  # no feature values for parties; the blanked items' reasons are rebuilt below
    out = [[] if j in rebuilt else with_model_reasons(list(it.reasons), None) for j, it in enumerate(items)]
    if scorer is None or not blanked:
        return out
    rows = np.array([[np.nan if (v := items[j].features.get(n)) is None or n in hidden[j] else v
                      for n in FEATURE_NAMES] for j in blanked], dtype=np.float64)
    contrib = scorer.contributions(view, rows)
    for pos, j in enumerate(blanked):
        model = model_reasons(contrib[pos], None, MAX_MODEL, withheld=hidden[j])
        out[j] = with_model_reasons(list(items[j].reasons), model)
    return out


def _hidden_features(pool: ConnectionPool, who: Principal, items: Sequence[MatchItem],
                     facts: PairFacts | None = None) -> list[frozenset[str]]:
    """Per item, the features computed from enterprise fields withheld from ``who`` (empty: none)."""
    none: frozenset[str] = frozenset()
    if who.role != "investor" or who.investor_id is None:  # an enterprise sees its own fields
        return [none for _ in items]
    ids = sorted({it.enterprise_id for it in items if it.enterprise_id is not None})
    if facts is None or facts.investor_id != who.investor_id or not facts.ids.issuperset(ids):
        with pool.connection() as conn:
            facts = pair_facts(conn, investor_id=who.investor_id, enterprise_ids=ids)
    settings, accepted = facts.settings, facts.accepted
    everything = frozenset(f for fs in disclosure.WITHHELD_FEATURES.values() for f in fs)
    out = []
    for it in items:
        if it.enterprise_id is None:
            out.append(none)
            continue
        if it.enterprise_id not in settings:  # gone since the snapshot: withhold all it could have
            out.append(everything)
            continue
        tier, choice = settings[it.enterprise_id]
        decision = disclosure.decide(role=who.role, tier=tier, disclosure=choice, enterprise_id=it.enterprise_id,
                                     contact_accepted=it.enterprise_id in accepted)
        out.append(frozenset(f for g in decision.withheld for f in disclosure.WITHHELD_FEATURES.get(g, ())))
    return out
