"""Training's batch work on a Dask cluster (:class:`DaskBatch`, chosen by :func:`training.cluster.batch_for`).

- **Periods**: one Dask task per period, each running :func:`matching.learning.dataset.period_rows` on the
  snapshot and vectors scattered once to every worker; results come back in period order, so the
  assembled rows equal the in-process ones.
- **Embedding**: :class:`training.dask_embed.ClusterEncoder` (partitions of texts, the encoder loaded once
  per worker process); the driver's embedding cache is read and written exactly as in process.
- **Fits**: :func:`training.dask_train.fit_ranker` (``lightgbm.DaskLGBMRanker``).

Imported only when a scheduler is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from distributed import Client

from matching.learning.dataset import PeriodMap, RankingData
from matching.ranking.ranker import LambdaRanker
from matching.retrieval.encoder.encoder import TextEncoder
from matching.snapshot.asof import set_version_vectors
from matching.snapshot.core import MarketSnapshot
from training.cluster import Batch
from training.dask_embed import ClusterEncoder, default_loader
from training.dask_train import fit_ranker

logger = logging.getLogger(__name__)

#: Seconds to wait for the scheduler before saying it does not answer.
CONNECT_TIMEOUT_S = 20


def _run_period(item: Any, fn: Callable[..., Any], versions: Mapping[tuple[int, int], np.ndarray],
                **shared: Any) -> Any:
    """On a worker: attach the earlier mandate versions' vectors to the scattered snapshot (they live
    beside it, not in it, so they do not travel with it), then run the core's function on one item."""
    snap = shared.get("snap")
    if versions and isinstance(snap, MarketSnapshot):
        set_version_vectors(snap, dict(versions))
    return fn(item, **shared)


class DaskBatch(Batch):
    """:class:`training.cluster.Batch` on the Dask cluster a :class:`distributed.Client` is connected to.

    Args:
        client: a connected client (a ``LocalCluster``'s in tests).
        encoder_loader: how a worker loads the encoder (default: the driver encoder's folder).
        texts_per_task: texts per embedding task.
    """

    def __init__(self, client: Client, *, encoder_loader: Callable[[], TextEncoder] | None = None,
                 texts_per_task: int = 512, owns_client: bool = False) -> None:
        self.client = client
        self.encoder_loader = encoder_loader
        self.texts_per_task = texts_per_task
        self._owns = owns_client
        self._scattered: dict[int, tuple[Any, Any]] = {}  # id(value) -> (value, future): scattered once
        self.where = f"Dask ({self.n_workers} workers at {client.scheduler.address})"

    @classmethod
    def connect(cls, address: str, *, encoder_loader: Callable[[], TextEncoder] | None = None,
                timeout: float = CONNECT_TIMEOUT_S) -> DaskBatch:
        """A client of the scheduler at ``address`` (``tcp://host:8786``).

        Raises:
            ConnectionError: it does not answer within ``timeout`` seconds.
        """
        try:
            client = Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"CAPCONNECT_DASK_SCHEDULER={address!r}: no Dask scheduler answered ({exc}); start one with "
                f"`dask scheduler` and workers with `dask worker {address}`, or unset it to train in process"
            ) from exc
        return cls(client, encoder_loader=encoder_loader, owns_client=True)

    @property
    def n_workers(self) -> int:
        """Workers the scheduler knows now."""
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def _scatter(self, value: Any) -> Any:
        if isinstance(value, int | float | str | bool | tuple) or value is None:
            return value  # small: travels inside each task
        held = self._scattered.get(id(value))
        if held is None or held[0] is not value:
            # in a list: scatter() would send a dict's items as separate keys
            held = (value, self.client.scatter([value], broadcast=True, hash=False)[0])
            self._scattered[id(value)] = held
        return held[1]

    def period_map(self, versions: Mapping[tuple[int, int], np.ndarray]) -> PeriodMap:
        """A Dask task per period; the shared arguments and ``versions`` scattered once to every worker."""

        def run(fn: Callable[..., Any], items: Sequence[Any], shared: Mapping[str, Any]) -> list[Any]:
            remote = {k: self._scatter(v) for k, v in shared.items()}
            futures = self.client.map(_run_period, list(items), fn=fn, versions=self._scatter(dict(versions)),
                                      pure=False, **remote)
            return self.client.gather(futures)  # in the order of items

        return run

    def encoder(self, encoder: TextEncoder) -> TextEncoder:
        """:class:`ClusterEncoder` standing for ``encoder`` (same id and dimension, so the same cache keys)."""
        loader = self.encoder_loader or default_loader(encoder)
        return ClusterEncoder(self.client, loader, encoder.encoder_id, int(encoder.dimension),
                              texts_per_task=self.texts_per_task)

    def fit_ranker(self, train: RankingData, valid: RankingData, *, seed: int, num_boost_round: int
                   ) -> LambdaRanker:
        """``lightgbm.DaskLGBMRanker`` over partitions of whole queries (:func:`training.dask_train.fit_ranker`)."""
        return fit_ranker(self.client, train, valid, seed=seed, num_boost_round=num_boost_round)

    def close(self) -> None:
        """Release the scattered data; close the client when this object opened it."""
        futures = [f for _, f in self._scattered.values()]
        self._scattered.clear()
        if futures:
            self.client.cancel(futures)
        if self._owns:
            self.client.close()
