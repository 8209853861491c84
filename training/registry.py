"""Promotion and rollback of model versions: ``capconnect models promote|rollback``.

A version is promoted only when it loads cleanly (checksums, features, encoder), its served scorer
is no worse than the best baseline beyond the paired interval (:func:`baseline_gate`) and it beats
the active version on the primary metric measured on the *same* holdout rows; ``force`` skips the
comparisons, never the artifact check. Rollback re-activates an earlier version (by default the one
active before the current), after the same artifact check. The service polls the active version
and swaps models without a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg

from matching.config import Settings
from matching.errors import ArtifactError, MatchingError
from matching.learning.bundle import ModelBundle
from store import registry
from store.registry import ModelVersion

logger = logging.getLogger(__name__)


class PromotionRefused(MatchingError):
    """A promotion or rollback that was refused; the message says why and what to do."""


def _verify(mv: ModelVersion, encoder_id: str | None) -> ModelBundle:
    try:
        return ModelBundle.load(Path(mv.path), encoder_id=encoder_id)
    except ArtifactError as exc:
        raise PromotionRefused(f"version {mv.version} cannot serve: {exc}") from exc


def _lookup(conn: psycopg.Connection, version: str) -> ModelVersion:
    mv = registry.get_version(conn, version)
    if mv is None:
        known = ", ".join(v.version for v in registry.list_versions(conn)[:10]) or "none yet"
        raise PromotionRefused(f"no model version {version!r} (known: {known}); `capconnect models list` shows them")
    return mv


def comparison(candidate: ModelVersion, active: ModelVersion | None) -> dict[str, Any]:
    """The candidate's and the active version's primary metric on the candidate's holdout rows.

    Training evaluates the version that was active then on the same rows; when another version has
    become active since, the comparison is stale and ``comparable`` is false.
    """
    cmp = candidate.metrics.get("compare") or {}
    new = candidate.metrics.get("primary")
    if active is None:
        return {"comparable": True, "candidate": new, "active": None, "reason": "no active version"}
    ok = cmp.get("active_version") == active.version and cmp.get("comparable") and cmp.get("active_primary") is not None
    reason = "" if ok else (
        f"{candidate.version} was evaluated against {cmp.get('active_version') or 'no active version'}, "
        f"but {active.version} is active now" if cmp.get("active_version") != active.version
        else str(cmp.get("reason") or "the active version could not be scored"))
    return {"comparable": bool(ok), "candidate": new, "active": cmp.get("active_primary") if ok else None,
            "reason": reason}


def baseline_gate(candidate: ModelVersion) -> dict[str, Any]:
    """Whether the candidate's served scorer is no worse than the best baseline on its holdout, beyond
    the paired bootstrap interval, in each direction (a version serving a baseline passes by itself).

    A point comparison would refuse a version for noise on a small holdout; a served scorer whose
    paired interval against the best baseline lies wholly below zero is worse, and never serves.
    """
    best = candidate.metrics.get("best_baseline") or {}
    worse = {d: v for d, v in (best.get("directions") or {}).items() if v.get("hi") is not None and v["hi"] < 0}
    if not worse:
        return {"ok": True, "reason": "", "best_baseline": best.get("name")}
    parts = "; ".join(f"{d}: {v['best_baseline']} by {-v['diff']:.4f} NDCG@10 on {v['subset']} (paired 95% interval "
                      f"of served minus baseline [{v['lo']:+.4f}, {v['hi']:+.4f}])" for d, v in sorted(worse.items()))
    return {"ok": False, "reason": f"version {candidate.version} serves a scorer worse than a baseline on the holdout "
                                   f"window: {parts}", "best_baseline": best.get("name")}


def promote(conn: psycopg.Connection, settings: Settings, version: str, *, force: bool = False,
            encoder_id: str | None = None) -> ModelVersion:
    """Make ``version`` the active model.

    Args:
        conn: the database holding ``model_versions``.
        settings: the settings (kept for symmetry with training; paths come from the registry).
        version: the candidate.
        force: promote even when it does not beat the active version (the artifact is still checked).
        encoder_id: the encoder serving; a model trained with another encoder is refused.

    Raises:
        PromotionRefused: unknown version, an artifact that does not load, or a model that does not
            beat the active one on the same holdout rows (without ``force``).
    """
    mv = _lookup(conn, version)
    active = registry.active_version(conn)
    if active is not None and active.version == mv.version:
        raise PromotionRefused(f"version {version} is already active")
    _verify(mv, encoder_id)
    if not force:
        cmp = comparison(mv, active)
        if not cmp["comparable"]:
            raise PromotionRefused(f"cannot compare {version} with the active version: {cmp['reason']}; "
                                   f"retrain (`capconnect train`) to evaluate against it, or promote with --force")
        gate = baseline_gate(mv)
        if not gate["ok"]:
            raise PromotionRefused(gate["reason"] + "; promote with --force to override")
        if active is not None and not (cmp["candidate"] is not None and cmp["candidate"] > cmp["active"]):
            raise PromotionRefused(
                f"version {version} does not beat the active version {active.version} on the holdout window "
                f"(mean NDCG@10 {cmp['candidate']:.4f} vs {cmp['active']:.4f}); promote with --force to override")
    new = registry.activate(conn, version)
    logger.info("promoted %s (was %s)", version, active.version if active else "none")
    return new


def rollback(conn: psycopg.Connection, settings: Settings, to: str | None = None, *,
             encoder_id: str | None = None) -> ModelVersion:
    """Re-activate ``to``, or the version active before the current one.

    Raises:
        PromotionRefused: nothing to roll back to, an unknown version, or an artifact that does not load.
    """
    active = registry.active_version(conn)
    if to is None:
        earlier = [v for v in registry.activation_history(conn) if active is None or v.version != active.version]
        if not earlier:
            raise PromotionRefused("no earlier active version to roll back to; `capconnect models list` shows versions")
        target = earlier[0]
    else:
        target = _lookup(conn, to)
        if active is not None and target.version == active.version:
            raise PromotionRefused(f"version {to} is already active")
    _verify(target, encoder_id)
    new = registry.activate(conn, target.version)
    logger.info("rolled back to %s (was %s)", target.version, active.version if active else "none")
    return new
