"""Where a model version comes from: code and library versions, its name, the version it is compared with."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg

from matching.errors import ArtifactError
from matching.ranking.bundle import ModelBundle
from matching.ranking.twosided import TwoSidedScorer
from store import registry

LIBRARIES = ("lightgbm", "numpy", "faiss-cpu", "sentence-transformers", "torch", "scikit-learn", "psycopg")


def code_version() -> str:
    """The git commit of the running code (``+dirty`` with local changes), else the package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return "capconnect " + version("capconnect")
        except PackageNotFoundError:
            return "unknown"


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_version_name(models_dir: Path, conn: psycopg.Connection | None = None) -> str:
    """``m<UTC timestamp>``, suffixed when taken on disk or in the registry."""
    base = "m" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while (models_dir / name).exists() or (conn is not None and registry.get_version(conn, name) is not None):
        n += 1
        name = f"{base}-{n}"
    return name


def active_scorer(conn: psycopg.Connection, encoder_id: str) -> tuple[str | None, TwoSidedScorer | None, str]:
    """The active version's scorer, or why it cannot be compared (another encoder or feature set)."""
    active = registry.active_version(conn)
    if active is None:
        return None, None, "no active version"
    try:
        return active.version, ModelBundle.load(Path(active.path), encoder_id=encoder_id).scorer, ""
    except ArtifactError as exc:
        return active.version, None, str(exc)
