"""Where training's batch work runs: in this process (the default), or on a Dask cluster.

Three pieces of ``capconnect train`` outgrow one machine: embedding the market's texts, building the
training rows period by period, and fitting the two LambdaRank models. :class:`Batch` is how the
pipeline asks for each; :data:`IN_PROCESS` does them here exactly as before, and
:class:`training.dask_batch.DaskBatch` runs them on the cluster that ``CAPCONNECT_DASK_SCHEDULER`` names
(``Settings.dask_scheduler``). Both run the same core functions on each piece (one implementation):
the encoder's own ``encode_*`` on each partition of texts, :func:`matching.learning.dataset.period_rows`
on each period, LightGBM with :data:`matching.ranking.ranker.DEFAULT_PARAMS`.

This module never imports Dask: without a scheduler configured nothing of Dask is loaded or started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from matching.config import Settings
from matching.learning.dataset import PeriodMap, RankingData, map_in_process
from matching.ranking.ranker import LambdaRanker
from matching.retrieval.encoder.encoder import TextEncoder

__all__ = ["IN_PROCESS", "Batch", "batch_for"]


class Batch:
    """Training's batch work in this process (the embedded default; :class:`DaskBatch` overrides each)."""

    #: where the work runs, for progress lines and benchmark tables
    where = "in process"

    def period_map(self, versions: Mapping[tuple[int, int], np.ndarray]) -> PeriodMap:
        """How :func:`matching.learning.dataset.build_ranking_sets` runs its periods.

        Args:
            versions: the embeddings of earlier mandate versions, attached to the snapshot here already
                (:func:`matching.snapshot.asof.set_version_vectors`); a cluster ships them with it.
        """
        return map_in_process

    def encoder(self, encoder: TextEncoder) -> TextEncoder:
        """The encoder that embeds the market (here: ``encoder`` itself)."""
        return encoder

    def fit_ranker(self, train: RankingData, valid: RankingData, *, seed: int, num_boost_round: int
                   ) -> LambdaRanker:
        """One direction's LambdaRank model, early-stopped on ``valid`` (:meth:`LambdaRanker.fit`)."""
        return LambdaRanker(seed=seed).fit(train, valid, num_boost_round=num_boost_round)

    def close(self) -> None:
        """Let go of the cluster (nothing to do here)."""


#: The default: everything in this process, as before Dask.
IN_PROCESS = Batch()


def batch_for(settings: Settings, *, scheduler: str | None = None,
              encoder_loader: Callable[[], TextEncoder] | None = None) -> Batch:
    """The batch runner the settings ask for: :data:`IN_PROCESS` without a scheduler, else a client
    of the Dask cluster at ``scheduler`` (default ``settings.dask_scheduler``).

    Args:
        settings: the project settings.
        scheduler: a scheduler address overriding the settings (``capconnect train --dask-scheduler``).
        encoder_loader: how a Dask worker loads the encoder (default: the driver's encoder folder,
            which every worker must be able to read at the same path).

    Raises:
        ConnectionError: the scheduler does not answer (the message names it).
    """
    address = scheduler or settings.dask_scheduler
    if not address:
        return IN_PROCESS
    from training.dask_batch import DaskBatch  # Dask is imported only when a cluster is asked for

    return DaskBatch.connect(address, encoder_loader=encoder_loader)


def partition_bounds(group: np.ndarray, parts: int) -> list[int]:
    """Query indices cutting ``group`` (rows per query) into at most ``parts`` runs of whole queries with
    about equal rows: ``[0, …, len(group)]``. A query is never split between two runs."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    if len(group) == 0:
        return [0, 0]
    ends = np.cumsum(group)
    total = int(ends[-1])
    cuts = [0]
    for k in range(1, parts):
        target = total * k / parts
        i = min(int(np.searchsorted(ends, target, side="left")), len(ends) - 1)
        if i > 0 and target - ends[i - 1] < ends[i] - target:  # the nearest query boundary to the target
            i -= 1
        q = i + 1  # the cut falls after query i
        if cuts[-1] < q < len(group):
            cuts.append(q)
    cuts.append(len(group))
    return cuts


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in consecutive pieces of at most ``size``."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    return [items[i:i + size] for i in range(0, len(items), size)]
