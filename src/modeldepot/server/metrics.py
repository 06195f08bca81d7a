"""Prometheus metrics of one app, served at ``/metrics``.

Each app has a registry of its own (tests build many apps). Requests are counted by
method, route *template* and status, so the number of series stays bounded whatever
paths clients send. ``observe`` runs on the event loop once per request and costs a
dictionary lookup and a few increments; gauges of shared state (upload sessions in the
database, the connection pool) are read only when scraped.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from modeldepot import __version__
from modeldepot.server.health import free_space

if TYPE_CHECKING:
    from modeldepot.registry import Registry

log = logging.getLogger("modeldepot.server")

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: from a cached alias lookup (~1 ms) to a multi-gigabyte upload.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# (method, route template, status) of the requests that open and complete a session.
SESSION_STARTED = ("POST", "/api/v1/uploads", 201)
SESSION_COMPLETED = ("POST", "/api/v1/uploads/{upload_id}/complete", 200)


class _Series(NamedTuple):
    """The metric children one (method, route, status) updates."""

    requests: Counter
    duration: Histogram
    received: Counter
    sent: Counter
    session: Counter | None


class HttpMetrics:
    """The metrics of one app, with ``observe`` for each request it served."""

    def __init__(self, registry_of_app: Callable[[], Registry | None]) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "modeldepot_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "modeldepot_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._received = Counter(
            "modeldepot_http_received_bytes",
            "Request body bytes received, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self._sent = Counter(
            "modeldepot_http_sent_bytes",
            "Response body bytes sent, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self._sessions_started = Counter(
            "modeldepot_upload_sessions_started",
            "Resumable upload sessions opened by this process.",
            registry=self.registry,
        )
        self._sessions_completed = Counter(
            "modeldepot_upload_sessions_completed",
            "Resumable upload sessions verified and stored by this process.",
            registry=self.registry,
        )
        Info("modeldepot_build", "The running release.", registry=self.registry).info(
            {"version": __version__}
        )
        self.registry.register(_StateCollector(registry_of_app))
        ProcessCollector(registry=self.registry)
        self._series: dict[tuple[str, str, int], _Series] = {}

    def observe(
        self, method: str, route: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        """Record one request. Not thread-safe by design: call it from the event loop."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new_series(method, route, status)
        series.requests.inc()
        series.duration.observe(seconds)
        if received:
            series.received.inc(received)
        if sent:
            series.sent.inc(sent)
        if series.session is not None:
            series.session.inc()

    def _new_series(self, method: str, route: str, status: int) -> _Series:
        label = method if method in METHODS else "other"
        key = (method, route, status)
        session = (
            self._sessions_started
            if key == SESSION_STARTED
            else self._sessions_completed
            if key == SESSION_COMPLETED
            else None
        )
        return _Series(
            self._requests.labels(label, route, str(status)),
            self._duration.labels(label, route, str(status)),
            self._received.labels(label, route),
            self._sent.labels(label, route),
            session,
        )

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format ``accept`` prefers, and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


def metrics_endpoint(request: Request) -> Response:
    """Prometheus text (or OpenMetrics, if asked for) of this process."""
    metrics: HttpMetrics = request.app.state.metrics
    body, content_type = metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)


class _StateCollector(Collector):
    """Gauges read at scrape time from the app's current registry."""

    def __init__(self, registry_of_app: Callable[[], Registry | None]) -> None:
        self._registry_of_app = registry_of_app

    def describe(self) -> list[Metric]:
        # Empty: nothing to check for clashes, and no database query at registration.
        return []

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "modeldepot_gc_frozen_objects",
            "Objects built at start-up that the garbage collector no longer walks.",
            value=gc.get_freeze_count(),
        )
        registry = self._registry_of_app()
        if registry is None:
            return
        pool = registry.db.engine.pool
        if isinstance(pool, QueuePool):
            connections = GaugeMetricFamily(
                "modeldepot_db_pool_connections",
                "Connections of this process's database pool, by state.",
                labels=["state"],
            )
            connections.add_metric(["checked_out"], pool.checkedout())
            connections.add_metric(["idle"], pool.checkedin())
            yield connections
            yield GaugeMetricFamily(
                "modeldepot_db_pool_size",
                "Connections the pool keeps; it opens more (overflow) under load.",
                value=pool.size(),
            )
        try:
            free = free_space(registry.db, registry.store)
        except OSError:
            log.warning("metrics: cannot read free disk space", exc_info=True)
            free = {}
        if free:
            gauge = GaugeMetricFamily(
                "modeldepot_free_bytes",
                "Free bytes of the disks this server fills: the local blob store's, "
                "the SQLite database's.",
                labels=["volume"],
            )
            for volume, value in sorted(free.items()):
                gauge.add_metric([volume], value)
            yield gauge
        try:
            active = registry.uploads.count_sessions()
        except SQLAlchemyError:
            log.warning("metrics: cannot count upload sessions", exc_info=True)
            return
        yield GaugeMetricFamily(
            "modeldepot_upload_sessions_active",
            "Resumable upload sessions open in the database, of every process.",
            value=active,
        )
