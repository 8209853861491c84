"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process).

Several worker processes on one machine (``capconnect serve --workers N``) share one ``/metrics``:
``serve`` names a fresh folder in ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, every worker's
values go to files there (prometheus_client's multiprocess mode), and :func:`exposition` sums the files, so a
scrape that reaches any worker sees every worker's requests. Without that variable (one process, tests) a
scrape reads this app's own registry. Several machines are several scrape targets, as Prometheus expects.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

#: Set by ``capconnect serve --workers N`` (N > 1) for its workers: where their metric files are shared.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's metrics.

    Args:
        shared_dir: the folder this machine's workers share (``settings.metrics_multiproc_dir``, i.e.
            ``PROMETHEUS_MULTIPROC_DIR``, which prometheus_client itself reads at import); None: one process.

    Attributes:
        registry: what ``/metrics`` exposes.
        requests: requests by method, route template and status.
        latency: request latency by method and route template (seconds).
        lists_served: served (and logged) lists by side.
        events_ingested: feedback events by type and outcome (``created`` / ``duplicate``).
        model_swaps: model swaps by outcome (``swapped`` / ``refused``).
        model_info: 1 for the version serving.
        impression_backlog: served lists queued for the impression log, not written yet (the writer sets it).
        impression_dead_letters: served lists the database refused, moved to ``impression_dead_letters``.
    """

    def __init__(self, shared_dir: Path | None = None) -> None:
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self._versions: set[str] = set()
        r = self.registry
        self.requests = Counter("capconnect_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("capconnect_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.lists_served = Counter("capconnect_lists_served", "Lists served and logged", ["side"], registry=r)
        self.events_ingested = Counter("capconnect_events_ingested", "Feedback events received",
                                       ["event_type", "outcome"], registry=r)
        self.model_swaps = Counter("capconnect_model_swaps", "Model swaps", ["outcome"], registry=r)
        # over several workers: 1 for a version any live worker serves; the backlog summed over live workers
        self.model_info = Gauge("capconnect_model_info", "The model version serving", ["version"], registry=r,
                                multiprocess_mode="livemax")
        self.impression_backlog = Gauge("capconnect_impression_backlog",
                                        "Served lists queued for the impression log, not written yet", registry=r,
                                        multiprocess_mode="livesum")
        self.impression_dead_letters = Counter("capconnect_impression_dead_letters", "Served lists the database "
                                               "refused, kept in impression_dead_letters with the error", registry=r)

    def serving(self, version: str) -> None:
        """Mark ``version`` as the one serving."""
        # set the others to 0 rather than clearing them: a cleared child's value would stay 1 in this
        # worker's multiprocess file
        for other in self._versions - {version}:
            self.model_info.labels(version=other).set(0)
        self._versions.add(version)
        self.model_info.labels(version=version).set(1)

    def exposition(self) -> bytes:
        """The text ``/metrics`` answers: every worker's values summed when several share a folder, else
        this app's own."""
        if self.shared_dir is not None:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=str(self.shared_dir))
            return generate_latest(merged)
        return generate_latest(self.registry)

    def process_exited(self) -> None:
        """Drop this process's live gauges from the shared folder (a worker's shutdown)."""
        if self.shared_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), path=str(self.shared_dir))
