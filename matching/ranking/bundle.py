"""A trained model version on disk (``models/<version>/``): written once, verified on every load.

The folder holds both directions' rankers and calibrators, ``manifest.json`` (ordered features, encoder
id, data windows and row counts, code and library versions, seed and the SHA-256 of every file),
``metrics.json`` and ``report.md`` with its plots; versions written by earlier code also hold an
``index/`` folder nobody loads (checked like every listed file, then ignored). :meth:`ModelBundle.load`
refuses a folder whose files do not match their checksums, whose features differ from the code's or
whose encoder differs from the one serving, so a corrupt or mismatched artifact never serves.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matching.errors import ArtifactError
from matching.features.table import FEATURE_NAMES, features_hash
from matching.ranking.twosided import TwoSidedScorer

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
METRICS = "metrics.json"
RETRAIN = "retrain with `capconnect train` or promote another version"


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON has neither), NumPy numbers as Python ones
    and other objects as strings."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksum_files(folder: Path, *, exclude: tuple[str, ...] = (MANIFEST,)) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` except ``exclude`` (sorted)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in exclude:
            out[rel] = sha256_file(path)
    return out


def write_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the format, feature list and file checksums to ``manifest`` and write it last."""
    full = {"format": BUNDLE_FORMAT, **manifest, "features": list(FEATURE_NAMES), "features_hash": features_hash(),
            "files": checksum_files(folder)}
    (folder / MANIFEST).write_text(json.dumps(json_safe(full), indent=2, ensure_ascii=False), encoding="utf-8")
    return full


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a model folder, checked for format, features and file checksums.

    Raises:
        ArtifactError: the folder or manifest is missing or unreadable, a file is missing or altered,
            or the features differ from the running code's.
    """
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{folder} is not a model version ({MANIFEST} missing): {RETRAIN}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}): {RETRAIN}") from exc
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ArtifactError(f"{path} has format {manifest.get('format')!r}, this code reads {BUNDLE_FORMAT}: {RETRAIN}")
    for rel, digest in files.items():
        f = folder / rel
        if not f.is_file():
            raise ArtifactError(f"{folder} is incomplete: {rel} is missing: {RETRAIN}")
        if sha256_file(f) != digest:
            raise ArtifactError(f"{f} does not match its checksum in {MANIFEST} (altered or corrupt): {RETRAIN}")
    if manifest.get("features") != list(FEATURE_NAMES) or manifest.get("features_hash") != features_hash():
        raise ArtifactError(f"{folder} was trained on other features than this code computes "
                            f"(hash {manifest.get('features_hash')} vs {features_hash()}): {RETRAIN}")
    return manifest


@dataclass
class ModelBundle:
    """A verified model version: its scorer and what describes it."""

    version: str
    folder: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    scorer: TwoSidedScorer

    @classmethod
    def load(cls, folder: Path, *, encoder_id: str | None = None, compiled: Path | None = None) -> ModelBundle:
        """Load and verify ``folder``.

        Args:
            folder: ``models/<version>``.
            encoder_id: the encoder serving; a model trained with another one is refused.
            compiled: serve the rankers' trees compiled, cached in this folder (``Settings.compiled_cache``;
                :meth:`TwoSidedScorer.compile`); ``None``: LightGBM predicts.

        Raises:
            ArtifactError: anything :func:`read_manifest` refuses, another encoder, unreadable models.
        """
        folder = Path(folder)
        manifest = read_manifest(folder)
        if encoder_id is not None and manifest.get("encoder_id") != encoder_id:
            raise ArtifactError(f"{folder} was trained with encoder {manifest.get('encoder_id')!r} but "
                                f"{encoder_id!r} is serving: {RETRAIN}")
        try:
            metrics = json.loads((folder / METRICS).read_text(encoding="utf-8")) if (folder / METRICS).exists() else {}
        except ValueError as exc:
            raise ArtifactError(f"{folder / METRICS} is corrupt ({exc}): {RETRAIN}") from exc
        scorer = TwoSidedScorer.load(folder, encoder_id=encoder_id, weight=float(manifest.get("weight", 0.5)))
        scorer.version = str(manifest.get("version", folder.name))  # type: ignore[attr-defined]
        if compiled is not None:
            scorer.compile(compiled)
        return cls(str(manifest.get("version", folder.name)), folder, manifest, metrics, scorer)
