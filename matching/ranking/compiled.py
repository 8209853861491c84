"""Compiled tree evaluation for request paths: a LightGBM model turned into native code by ``lleaves``.

LightGBM's ``Booster.predict`` costs about 0.5 ms per call on a served list of ~200 candidates (most of
it per-call set-up, not the trees); the same trees compiled by lleaves (LLVM) answer in about 0.05 ms.
:func:`compile_trees` compiles a saved model text once per machine and keeps the shared object in a
cache folder, under a key over the model text, the lleaves and llvmlite versions and the host CPU (the
code is built for this CPU: a copy from another machine is never loaded). Every load is checked: the
compiled model must give LightGBM's scores on a fixed probe set (missing values included) to
:data:`TOLERANCE`, or it is refused and LightGBM serves (the refusal is logged with the fix).

Offline work (training, evaluation of millions of rows) keeps LightGBM: the scores are the same.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

logger = logging.getLogger(__name__)

#: Largest score difference from LightGBM accepted on the probe set (float64 sums in another order).
TOLERANCE = 1e-9
PROBE_ROWS = 512


def _versions() -> str:
    try:
        return f"lleaves {version('lleaves')}, llvmlite {version('llvmlite')}"
    except PackageNotFoundError:
        return "lleaves missing"


def _host() -> str:
    import llvmlite.binding as llvm

    return f"{llvm.get_host_cpu_name()} {llvm.get_host_cpu_features().flatten()}"


def cache_key(model_text: str) -> str:
    """The compiled object's name: the model text, the compiler versions and this CPU."""
    h = hashlib.sha256()
    for part in (model_text, _versions(), _host()):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def probe(n_features: int, seed: int = 0) -> np.ndarray:
    """The fixed check rows: standard normal and wide values, about a tenth missing and a tenth zero."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(PROBE_ROWS, n_features)) * rng.choice([0.1, 1.0, 10.0, 1e6], size=(PROBE_ROWS, 1))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0  # zeros (missing for a model trained with zero_as_missing)
    X[rng.random(X.shape) < 0.02] = -0.0
    return X.astype(np.float32)


class CompiledTrees:
    """A compiled model that answers :meth:`predict` like ``Booster.predict`` on one thread."""

    def __init__(self, model: Any, path: Path) -> None:
        self._model = model
        self.path = path

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw scores of the rows of ``X`` (float32 or float64, ``(n, n_features)``)."""
        return np.asarray(self._model.predict(np.ascontiguousarray(X, dtype=np.float64), n_jobs=1))


def compile_trees(booster: lgb.Booster, cache: Path, num_iteration: int | None = None) -> CompiledTrees | None:
    """``booster`` (its first ``num_iteration`` trees, default all) compiled, or loaded from ``cache``, and
    checked against LightGBM; ``None`` (logged) when lleaves is not installed, the cache or the compiler
    failed, or the compiled scores differ from LightGBM's.

    LLVM aborts the whole process on a damaged object file, so an object enters the cache only after a child
    process has compiled it and loaded it back from disk, and is loaded here only while its bytes match the
    SHA-256 recorded then (anything else is rebuilt)."""
    try:
        import lleaves
    except ImportError as exc:
        logger.warning("compiled trees off: %s (pip install the pinned lleaves and llvmlite)", exc)
        return None
    try:
        text = booster.model_to_string(num_iteration=num_iteration)
        key = cache_key(text)
        cache.mkdir(parents=True, exist_ok=True)
        so, digest, model_file = cache / f"{key}.so", cache / f"{key}.sha256", cache / f"{key}.txt"
        if not model_file.exists():
            _atomic_write(model_file, text.encode("utf-8"))
        if not _intact(so, digest) and not _build(model_file, so, digest):
            return None
        model = lleaves.Model(model_file=str(model_file))
        model.compile(cache=str(so))
    except Exception as exc:  # noqa: BLE001 - any cache or compiler failure leaves LightGBM serving
        logger.warning("compiled trees off for this model: %s: %s (check or delete %s)", type(exc).__name__, exc,
                       cache)
        return None
    compiled = CompiledTrees(model, so)
    X = probe(booster.num_feature())
    diff = float(np.max(np.abs(compiled.predict(X) - booster.predict(X, num_iteration=num_iteration, num_threads=1))))
    if not diff <= TOLERANCE:
        logger.error("compiled trees refused: %s gives scores %.3g away from LightGBM's (tolerance %g); LightGBM "
                     "serves. Delete %s to recompile", so, diff, TOLERANCE, so)
        return None
    return compiled


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact(so: Path, digest: Path) -> bool:
    """The cached object exists and is byte for byte the one that was checked when it was built."""
    try:
        return so.stat().st_size > 0 and digest.read_text(encoding="ascii").strip() == _sha256(so)
    except OSError:
        return False


#: Run in a child process: compile the model to the object file, then load that file back (a damaged file
#: aborts the child, not the service).
_CHILD = ("import sys, lleaves; m, o = sys.argv[1], sys.argv[2]; lleaves.Model(model_file=m).compile(cache=o); "
          "lleaves.Model(model_file=m).compile(cache=o)")


def _build(model_file: Path, so: Path, digest: Path) -> bool:
    """Compile ``model_file`` into ``so`` through a child process and record its SHA-256; ``False`` (logged)
    when the child failed (the object is then not cached)."""
    fd, tmp_name = tempfile.mkstemp(dir=so.parent, suffix=".so.part")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # lleaves writes the object only where no file is
    try:
        run = subprocess.run([sys.executable, "-c", _CHILD, str(model_file), str(tmp)], capture_output=True,
                             text=True, timeout=600)
        if run.returncode != 0 or not tmp.exists():
            logger.warning("compiled trees off for this model: compiling %s failed (exit %s): %s", model_file.name,
                           run.returncode, (run.stderr or run.stdout).strip()[-500:])
            return False
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        _atomic_write(digest, _sha256(tmp).encode("ascii"))
        os.replace(tmp, so)  # concurrent builders of one model each publish a checked object
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)  # readable by every service sharing the folder (mkstemp makes it private)
    os.replace(tmp, path)
