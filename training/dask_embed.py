"""Embedding on a Dask cluster: :class:`ClusterEncoder`, a :class:`TextEncoder` whose ``encode_*`` send
partitions of texts to the workers.

It stands in for the driver's encoder inside :func:`matching.retrieval.vectors.embed_market`, so the
embedding cache is looked up and written by the driver exactly as in process (only texts the cache
lacks reach the cluster, each distinct text once). Each worker process loads the encoder once
(:func:`_worker_encoder`, keyed by the encoder id) and runs the encoder's own ``encode_queries`` /
``encode_passages`` on its partition: the same function as in process, on fewer texts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from distributed import Client

from matching.retrieval.encoder.encoder import SentenceTransformerEncoder, TextEncoder, load_encoder
from training.cluster import chunks

logger = logging.getLogger(__name__)

#: Encoders loaded in this (worker) process, by encoder id: loaded on the first partition, kept after.
_LOADED: dict[str, TextEncoder] = {}
#: How many times this process loaded each encoder (1 after any number of partitions; read by the tests).
LOAD_COUNTS: dict[str, int] = {}


def default_loader(encoder: TextEncoder) -> Callable[[], TextEncoder]:
    """How a worker loads the driver's encoder: the same folder, one torch thread per Dask thread.

    Raises:
        ValueError: the encoder was not loaded from a folder (pass ``encoder_loader`` to the batch).
    """
    path = getattr(encoder, "path", None)
    if not isinstance(encoder, SentenceTransformerEncoder) or path is None:
        raise ValueError(f"encoder {encoder.encoder_id!r} was not loaded from a sentence-transformers folder: "
                         f"a Dask worker cannot load it; pass encoder_loader to training.cluster.batch_for")
    return functools.partial(load_encoder, path, threads=1)


def _worker_encoder(loader: Callable[[], TextEncoder], encoder_id: str) -> TextEncoder:
    encoder = _LOADED.get(encoder_id)
    if encoder is None:
        encoder = loader()
        if encoder.encoder_id != encoder_id:
            raise ValueError(f"a Dask worker loaded encoder {encoder.encoder_id!r}, the driver embeds with "
                             f"{encoder_id!r}: every worker must read the same encoder folder")
        _LOADED[encoder_id] = encoder
        LOAD_COUNTS[encoder_id] = LOAD_COUNTS.get(encoder_id, 0) + 1
        logger.info("worker loaded encoder %s", encoder_id)
    return encoder


def encode_partition(texts: Sequence[str], *, loader: Callable[[], TextEncoder], encoder_id: str, kind: str,
                     texts_per_batch: int) -> np.ndarray:
    """On a worker: one partition of texts through the encoder's own ``encode_queries``/``encode_passages``."""
    encoder = _worker_encoder(loader, encoder_id)
    fn = encoder.encode_queries if kind == "query" else encoder.encode_passages
    return np.asarray(fn(list(texts), batch_size=texts_per_batch, show_progress=False), dtype=np.float32)


class ClusterEncoder:
    """A :class:`TextEncoder` that encodes on the Dask cluster, in partitions of ``texts_per_task``.

    Args:
        client: the cluster's client.
        loader: a picklable callable that loads the encoder on a worker.
        encoder_id, dimension: the driver encoder's (cache keys and artifacts must not change).
        texts_per_task: most texts per task (partitions are the unit a worker takes); fewer texts than
            workers × this are cut into one partition per worker.
    """

    thread_safe = False

    def __init__(self, client: Client, loader: Callable[[], TextEncoder], encoder_id: str, dimension: int, *,
                 texts_per_task: int = 512) -> None:
        self.client, self.loader = client, loader
        self.encoder_id, self.dimension = encoder_id, dimension
        self.texts_per_task = texts_per_task

    def __repr__(self) -> str:
        return f"ClusterEncoder({self.encoder_id!r}, {self.client.scheduler.address})"

    def _encode(self, texts: Sequence[str], kind: str, batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        workers = max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))
        parts = chunks(items, min(self.texts_per_task, -(-len(items) // workers)))  # every worker gets a part
        futures = self.client.map(encode_partition, parts, loader=self.loader, encoder_id=self.encoder_id,
                                  kind=kind, texts_per_batch=batch_size, pure=False)  # (map's own batch_size)
        out: list[Any] = self.client.gather(futures)
        return np.concatenate(out).astype(np.float32, copy=False)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                       ) -> np.ndarray:
        """Embed queries on the cluster (the encoder's ``encode_queries`` per partition)."""
        return self._encode(texts, "query", batch_size)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                        ) -> np.ndarray:
        """Embed passages on the cluster (the encoder's ``encode_passages`` per partition)."""
        return self._encode(texts, "passage", batch_size)
