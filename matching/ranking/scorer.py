"""The one scoring interface: every way of ordering a candidate list implements :class:`Scorer`.

As ``implicit`` has one recommender interface, the matching core has one scorer interface:

* :class:`matching.ranking.baselines.ContentRulesScorer`: what serves without a trained model
  (similarity rank plus structured fit);
* :class:`matching.ranking.baselines.BaselineScorer`: each servable baseline (popularity, rules,
  affinity, ...);
* :class:`matching.ranking.ranker.LambdaRanker`: one side's learned LambdaRank model;
* :class:`matching.ranking.twosided.TwoSidedScorer`: both rankers calibrated and combined, serving the
  scorer chosen on validation (:class:`matching.ranking.selection.Choice`) for each side.

A scorer takes the feature rows of one candidate list (:func:`matching.features.table.compute_features`,
columns in :data:`~matching.features.table.FEATURE_NAMES` order), the asking :class:`Side` and,
optionally, the structured fit of each pair (:func:`matching.rules.fit.structured_fit`), and
returns one ``float64`` score per row, higher first. Every scorer saves itself into a folder with a
JSON manifest and loads back only what the running code can score, or says how to fix it;
:func:`load_scorer` opens any saved scorer. ``tests/test_scorer_contract.py`` runs one contract over
them all.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from matching.domain.sides import Side
from matching.errors import ArtifactError

#: The manifest of the scorers without a model file of their own (content rules, baselines).
MANIFEST = "scorer.json"
#: Version of :data:`MANIFEST`'s layout.
FORMAT_VERSION = 1
#: What to do when a saved scorer does not load.
RESAVE = "save the scorer again with this code (`capconnect train` for a model)"


@runtime_checkable
class Scorer(Protocol):
    """Orders the candidates of one list.

    Implementations are deterministic (the same rows give the same scores) and never return NaN or
    infinity. Scores are comparable within one candidate list;
    :class:`~matching.ranking.baselines.ContentRulesScorer` ranks similarity within the list it is
    given, so pass one list at a time.
    """

    def score(self, X: np.ndarray, side: Side, *, fit: np.ndarray | None = None) -> np.ndarray:
        """One ``float64`` score per feature row, higher first.

        Args:
            X: feature rows ``(n, len(FEATURE_NAMES))`` of one candidate list.
            side: who asks: :attr:`Side.INVESTOR` ranks enterprises, :attr:`Side.ENTERPRISE` investors.
            fit: the structured mandate fit of each row, when known (scorers that need it and lack it
                use the mean of the fit features).
        """
        ...

    def save(self, folder: Path) -> Path:
        """Write the scorer and its manifest into ``folder``; return the manifest's path."""
        ...

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        """Read a scorer saved by :meth:`save`.

        Raises:
            ArtifactError: missing or corrupt files, or a manifest the running code cannot score with;
                the message says how to fix it.
        """
        ...


def write_manifest(folder: Path, kind: str, **fields: Any) -> Path:
    """Write :data:`MANIFEST` (``format``, ``kind``, numpy's version and ``fields``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST
    body = {"format": FORMAT_VERSION, "kind": kind, **fields, "versions": {"numpy": version("numpy")}}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def read_manifest(folder: Path, kind: str) -> dict[str, Any]:
    """The :data:`MANIFEST` in ``folder``, checked for format and ``kind``.

    Raises:
        ArtifactError: missing, corrupt, another format or another kind of scorer.
    """
    path = folder / MANIFEST
    if not path.exists():
        raise ArtifactError(f"no scorer at {folder} ({MANIFEST} missing): {RESAVE}")
    try:
        manifest = dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}): {RESAVE}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"{path} has format {manifest.get('format')!r}, this code reads {FORMAT_VERSION}: "
                            f"{RESAVE}")
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{path} holds a {manifest.get('kind')!r} scorer, not {kind!r}: open it with "
                            f"matching.ranking.scorer.load_scorer")
    return manifest


def load_scorer(folder: Path) -> Scorer:
    """Open whatever scorer ``folder`` holds: a model version's two-sided scorer (``served_scorer.json``),
    one ranker (a single ``ranker_<side>.json``), or a scorer with :data:`MANIFEST`.

    Raises:
        ArtifactError: nothing recognisable in ``folder``, or what the scorer's own ``load`` refuses.
    """
    # the implementations import this module, so they are looked up here, when a folder is opened
    from matching.ranking.baselines import BaselineScorer, ContentRulesScorer
    from matching.ranking.ranker import LambdaRanker
    from matching.ranking.twosided import SERVED_FILE, TwoSidedScorer

    if (folder / SERVED_FILE).exists():
        return TwoSidedScorer.load(folder)
    if list(folder.glob("ranker_*.json")):
        return LambdaRanker.load(folder)
    kinds: dict[str, type[Any]] = {ContentRulesScorer.kind: ContentRulesScorer, BaselineScorer.kind: BaselineScorer}
    path = folder / MANIFEST
    if not path.exists():
        raise ArtifactError(f"no scorer at {folder} (neither {SERVED_FILE}, ranker_<side>.json nor {MANIFEST}): "
                            f"{RESAVE}")
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("kind")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}): {RESAVE}") from exc
    if kind not in kinds:
        raise ArtifactError(f"{path} names scorer kind {kind!r}: allowed: {', '.join(kinds)}; {RESAVE}")
    loaded: Scorer = kinds[kind].load(folder)
    return loaded
