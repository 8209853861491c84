"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's metrics.

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

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("capconnect_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("capconnect_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.lists_served = Counter("capconnect_lists_served", "Lists served and logged", ["side"], registry=r)
        self.events_ingested = Counter("capconnect_events_ingested", "Feedback events received",
                                       ["event_type", "outcome"], registry=r)
        self.model_swaps = Counter("capconnect_model_swaps", "Model swaps", ["outcome"], registry=r)
        self.model_info = Gauge("capconnect_model_info", "The model version serving", ["version"], registry=r)
        self.impression_backlog = Gauge("capconnect_impression_backlog",
                                        "Served lists queued for the impression log, not written yet", registry=r)
        self.impression_dead_letters = Counter("capconnect_impression_dead_letters", "Served lists the database "
                                               "refused, kept in impression_dead_letters with the error", registry=r)

    def serving(self, version: str) -> None:
        """Mark ``version`` as the one serving."""
        self.model_info.clear()
        self.model_info.labels(version=version).set(1)
