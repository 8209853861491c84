"""The promotion gate: when a trained version may serve, decided from its manifest and metrics alone.

A version is promoted only when it loads cleanly (checksums, features, encoder: :func:`verify`), its
served scorer is no worse than the best baseline beyond the paired interval (:func:`baseline_gate`) and
it beats the active version on the primary metric measured on the *same* holdout rows
(:func:`comparison`); ``force`` skips the comparisons, never the artifact check (:func:`check_promotion`).
Rollback re-activates an earlier version, by default the one active before the current
(:func:`rollback_target`), after the same artifact check.

Everything here is pure: the registry rows come in as arguments. The SQL that reads and activates them
is :func:`store.registry.promote` / :func:`store.registry.rollback`, the one path the API, the console,
``capconnect models promote|rollback`` and the retraining worker take.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from matching.errors import ArtifactError, MatchingError
from matching.ranking.bundle import ModelBundle


class PromotionRefused(MatchingError):
    """A promotion or rollback that was refused; the message says why and what to do."""


class VersionRecord(Protocol):
    """What the gate reads of a registered version (``store.registry.ModelVersion`` is one)."""

    version: str
    path: str
    metrics: dict[str, Any]


def verify(record: VersionRecord, encoder_id: str | None) -> ModelBundle:
    """The version's bundle, loaded and verified against the serving encoder.

    Raises:
        PromotionRefused: its files fail the check (missing, altered, other features or encoder).
    """
    try:
        return ModelBundle.load(Path(record.path), encoder_id=encoder_id)
    except ArtifactError as exc:
        raise PromotionRefused(f"version {record.version} cannot serve: {exc}") from exc


def comparison(candidate: VersionRecord, active: VersionRecord | None) -> dict[str, Any]:
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


def baseline_gate(candidate: VersionRecord) -> dict[str, Any]:
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


def check_promotion(candidate: VersionRecord, active: VersionRecord | None, *, force: bool = False,
                    encoder_id: str | None = None) -> None:
    """Refuse a promotion that must not happen; return when ``candidate`` may become active.

    Args:
        candidate: the version to promote.
        active: the version active now (``None`` before the first promotion).
        force: promote even when it does not beat the active version (the artifact is still checked).
        encoder_id: the encoder serving; a model trained with another encoder is refused.

    Raises:
        PromotionRefused: it is active already, its artifact does not load, or (without ``force``) it
            cannot be compared with the active version, serves worse than a baseline, or does not beat
            the active version on the same holdout rows.
    """
    version = candidate.version
    if active is not None and active.version == version:
        raise PromotionRefused(f"version {version} is already active")
    verify(candidate, encoder_id)
    if force:
        return
    cmp = comparison(candidate, active)
    if not cmp["comparable"]:
        raise PromotionRefused(f"cannot compare {version} with the active version: {cmp['reason']}; "
                               f"retrain (`capconnect train`) to evaluate against it, or promote with --force")
    gate = baseline_gate(candidate)
    if not gate["ok"]:
        raise PromotionRefused(gate["reason"] + "; promote with --force to override")
    if active is not None and not (cmp["candidate"] is not None and cmp["candidate"] > cmp["active"]):
        raise PromotionRefused(
            f"version {version} does not beat the active version {active.version} on the holdout window "
            f"(mean NDCG@10 {cmp['candidate']:.4f} vs {cmp['active']:.4f}); promote with --force to override")


def rollback_target(active: VersionRecord | None, history: Sequence[VersionRecord],
                    target: VersionRecord | None = None) -> VersionRecord:
    """The version a rollback re-activates: ``target``, or the most recently active one but the current.

    Args:
        active: the version active now.
        history: versions that were ever active, most recently activated first.
        target: the version asked for (``None``: the one active before the current).

    Raises:
        PromotionRefused: ``target`` is active already, or no other version was ever active.
    """
    if target is not None:
        if active is not None and target.version == active.version:
            raise PromotionRefused(f"version {target.version} is already active")
        return target
    earlier = [v for v in history if active is None or v.version != active.version]
    if not earlier:
        raise PromotionRefused("no earlier active version to roll back to; `capconnect models list` shows versions")
    return earlier[0]
