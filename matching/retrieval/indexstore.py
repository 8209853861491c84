"""Approximate indexes built once and shared: the first process builds, the others load it.

Building an IVF index over a million profiles takes half a minute to minutes; every service worker
(and every restart) would otherwise repeat it. :func:`build_or_load` names the saved index by a hash
of its ids, vectors, settings, encoder and FAISS version, so a changed market gets a new index.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
from pathlib import Path

import faiss
import numpy as np

from matching.errors import ArtifactError
from matching.retrieval.index import MANIFEST, IndexConfig, VectorIndex

logger = logging.getLogger(__name__)


def build_or_load(folder: Path | None, ids: np.ndarray, vectors: np.ndarray, encoder_id: str,
                  config: IndexConfig) -> VectorIndex:
    """The index of ``ids``/``vectors``: loaded from ``folder`` when built before for the same ids, vectors and
    settings (a content hash names it), else built and saved there.

    Building an approximate index of a million profiles takes minutes; several service workers (and
    restarts) load the one the first built. Concurrent callers take a file lock, so one builds and
    the others wait and load. Exact (small) indexes are simply built. The vectors are the caller's
    (not stored twice).
    """
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.asarray(ids, dtype=np.int64)
    if folder is None or len(vecs) < config.exact_threshold:
        return VectorIndex(vecs.shape[1], encoder_id, config).build(ids, vecs)
    h = hashlib.sha256()
    settings = {k: getattr(config, k) for k in IndexConfig.__dataclass_fields__ if k != "threads"}
    for part in (ids.tobytes(), vecs.tobytes(), json.dumps(settings, sort_keys=True).encode(), encoder_id.encode(),
                 faiss.__version__.encode()):
        h.update(part)
    key = h.hexdigest()[:24]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / key
    with open(folder / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MANIFEST).exists():
            try:
                index = VectorIndex.load(target, encoder_id=encoder_id, threads=config.threads, vectors=vecs)
                index.config = config
                logger.info("loaded %s index of %d vectors from %s", index.kind, len(vecs), target)
                return index
            except ArtifactError as exc:
                logger.warning("rebuilding the index: %s", exc)
                shutil.rmtree(target, ignore_errors=True)
        index = VectorIndex(vecs.shape[1], encoder_id, config).build(ids, vecs)
        tmp = folder / f".{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        index.save(tmp, vectors=False)
        tmp.rename(target)
        return index
