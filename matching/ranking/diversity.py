"""Exposure and diversity: re-rank the head of a list so it is not one sector, nor the usual few.

The platform is public-interest: small and micro firms should be seen, not only the popular few.
Two rules shape the *head* (the first ``head`` places) of a ranked list, which is otherwise left
as ranked:

* **sector cap**: at most ``max_per_sector`` items of one sector in the head;
* **exposure cap**: an item already shown ``exposure_cap`` times or more in the current period
  (counts passed in by the caller) is demoted below every item that is not.

The head is filled greedily in score order with items that break neither rule; if that runs out,
it is topped up in score order first with over-cap-sector items that are not over-exposed, then
with over-exposed ones. Everything not placed in the head follows in its original order. The result
depends only on the inputs (stable, deterministic).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiversityConfig:
    """How the head of a list is re-ranked.

    Attributes:
        head: how many leading places the rules shape.
        max_per_sector: most items of one sector in the head (``None``: no sector cap).
        exposure_cap: shows in the current period from which an item is demoted
            (``None``: no exposure cap).
    """

    head: int = 20
    max_per_sector: int | None = 3
    exposure_cap: int | None = 50

    def __post_init__(self) -> None:
        if self.head < 0:
            raise ValueError(f"head must be >= 0, got {self.head}")
        if self.max_per_sector is not None and self.max_per_sector < 1:
            raise ValueError(f"max_per_sector must be >= 1 or None, got {self.max_per_sector}")
        if self.exposure_cap is not None and self.exposure_cap < 0:
            raise ValueError(f"exposure_cap must be >= 0 or None, got {self.exposure_cap}")


def rerank(
    sectors: np.ndarray,
    exposure: np.ndarray | None = None,
    config: DiversityConfig | None = None,
) -> np.ndarray:
    """Re-rank a list already sorted best first.

    Args:
        sectors: sector id of each item, in ranked order (negative ids are never capped).
        exposure: shows of each item in the current period, in ranked order (``None``: all 0).
        config: the rules.

    Returns:
        A permutation of ``range(len(sectors))``: the new order, as positions in the input.
    """
    cfg = config or DiversityConfig()
    sec = np.asarray(sectors)
    n = len(sec)
    exp = np.zeros(n, dtype=np.int64) if exposure is None else np.asarray(exposure)
    if len(exp) != n:
        raise ValueError(f"{n} sectors but {len(exp)} exposure counts")
    head = min(cfg.head, n)
    if head == 0:
        return np.arange(n, dtype=np.int64)
    over = exp >= cfg.exposure_cap if cfg.exposure_cap is not None else np.zeros(n, dtype=bool)
    counts: dict[int, int] = {}
    placed: list[int] = []
    taken = np.zeros(n, dtype=bool)

    def fits(i: int) -> bool:
        s = int(sec[i])
        return cfg.max_per_sector is None or s < 0 or counts.get(s, 0) < cfg.max_per_sector

    def take(i: int) -> None:
        placed.append(i)
        taken[i] = True
        s = int(sec[i])
        counts[s] = counts.get(s, 0) + 1

    for relax_sector, allow_over in ((False, False), (True, False), (False, True), (True, True)):
        for i in range(n):
            if len(placed) >= head:
                break
            if taken[i] or (over[i] and not allow_over):
                continue
            if relax_sector or fits(i):
                take(i)
        if len(placed) >= head:
            break
    rest = np.flatnonzero(~taken)
    order = np.concatenate([np.asarray(placed, dtype=np.int64), rest.astype(np.int64)])
    moved = int((order[:head] != np.arange(head)).sum())
    if moved:
        logger.debug("diversity re-rank moved %d of the first %d items", moved, head)
    return order
