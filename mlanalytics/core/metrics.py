"""Prometheus metrics (prometheus-client), served at /metrics to a bearer token (METRICS_TOKEN; empty: 404).

Measured where they happen: request latency per view (MetricsMiddleware), cache hits and misses
(mlanalytics.core.cache), job durations and outcomes (mlanalytics.core.jobs.call), open WebSockets (the ASGI
wrapper in mlanalytics.asgi). Read from the database and the cache at each scrape (ShopCollector), so every
web process answers the same: job queue depth, training durations and the last run's outcome, the age and
drift of the current models, alerts by state, and the Celery worker's heartbeat / beat's last run.

Several web processes on one host: set PROMETHEUS_MULTIPROC_DIR to an empty directory shared by them
(prometheus-client's multiprocess mode); the endpoint then adds up every process's samples.
"""
import hmac
import logging
import os
import time
from contextlib import contextmanager

from django.conf import settings
from django.http import Http404, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "mla_http_request_duration_seconds", "Time to answer an HTTP request, per view (URL name).", ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REQUESTS = Counter("mla_http_requests", "HTTP requests answered, per view and status code.",
                   ["view", "method", "status"])
CACHE_RESULTS = Counter("mla_cache_results", "Cached results looked up (mlanalytics.core.cache): hit or miss.",
                        ["result"])
JOB_DURATION = Histogram(
    "mla_job_duration_seconds", "Time a background or periodic job ran, per job and outcome.", ["job", "outcome"],
    buckets=(0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0),
)
WEBSOCKETS_OPEN = Gauge("mla_websockets_open", "WebSocket connections open now.", multiprocess_mode="livesum")
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def record_cache(hit):
    CACHE_RESULTS.labels(result="hit" if hit else "miss").inc()


@contextmanager
def job_timer(path):
    started, outcome = time.perf_counter(), "failed"
    try:
        yield
        outcome = "done"
    finally:
        JOB_DURATION.labels(job=path, outcome=outcome).observe(time.perf_counter() - started)


class MetricsMiddleware:
    """Times each request and counts it by view (the URL name, so /tickets/1 and /tickets/2 are one series).

    It also answers /metrics itself, ahead of the other middleware: Prometheus scrapes each web container by
    its address (Host: 172.18.0.5:8000, which ALLOWED_HOSTS cannot list) over plain HTTP inside the network.
    The bearer token is what guards it; nothing there depends on the Host header. Scrapes are not counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/metrics":
            return metrics_view(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unresolved"
        method = request.method if request.method in _METHODS else "other"
        REQUEST_LATENCY.labels(view=view, method=method).observe(time.perf_counter() - started)
        REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        return response


class WebSocketGauge:
    """ASGI wrapper: counts WebSockets from their accept to their end."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        accepted = False

        async def counting_send(message):
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                WEBSOCKETS_OPEN.inc()
            elif message["type"] == "websocket.close" and accepted:
                accepted = False
                WEBSOCKETS_OPEN.dec()
            await send(message)

        try:
            return await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                WEBSOCKETS_OPEN.dec()


class ShopCollector:
    """Gauges read at scrape time from the database and the cache (the same from every process)."""

    def describe(self):
        return []  # registering must not query the database (the registry would call collect() otherwise)

    def collect(self):
        try:
            yield from self._collect()
        except Exception:  # a scrape must answer even when a source is down; /readyz says which
            log.exception("metrics: reading the shop's figures failed")

    def _collect(self):
        from django.db.models import Count
        from django.utils import timezone

        from predictive.models import TrainedModel, TrainingRun

        from . import health, jobs
        from .models import Alert

        now = timezone.now()
        depth = GaugeMetricFamily("mla_job_queue_depth", "Background jobs waiting to run.", labels=["backend"])
        waiting = jobs.queue_depth() if settings.BACKGROUND_JOBS == "thread" else health.broker_queue_depth()
        if waiting is not None:
            depth.add_metric([settings.BACKGROUND_JOBS], waiting)
        yield depth

        run = TrainingRun.objects.exclude(status=TrainingRun.Status.RUNNING).order_by("-started_at").first()
        last = GaugeMetricFamily("mla_training_last_run_duration_seconds",
                                 "Wall time of the last finished training run.")
        kinds = GaugeMetricFamily("mla_training_duration_seconds", "Wall time per model kind in the last finished run.",
                                  labels=["kind"])
        failed = GaugeMetricFamily("mla_training_last_run_failed", "1 when the last finished training run failed.")
        finished = GaugeMetricFamily("mla_training_last_run_timestamp_seconds", "When the last training run finished.")
        if run is not None:
            last.add_metric([], run.duration_seconds)
            for kind, seconds in sorted((run.timings or {}).items()):
                kinds.add_metric([kind], float(seconds))
            failed.add_metric([], 1.0 if run.status == TrainingRun.Status.FAILED else 0.0)
            finished.add_metric([], (run.finished_at or run.started_at).timestamp())
        yield from (last, kinds, failed, finished)

        age = GaugeMetricFamily("mla_model_age_seconds", "Age of the oldest current model, per kind.", labels=["kind"])
        current = GaugeMetricFamily("mla_models_current", "Current (served) models, per kind.", labels=["kind"])
        drifting = GaugeMetricFamily("mla_models_drifting", "Current models whose live check says drift, per kind.",
                                     labels=["kind"])
        per_kind = {}
        for kind, trained_at, monitoring in TrainedModel.objects.filter(is_current=True).values_list(
                "kind", "trained_at", "monitoring"):
            oldest, count, drift = per_kind.get(kind, (trained_at, 0, 0))
            per_kind[kind] = (min(oldest, trained_at), count + 1, drift + ((monitoring or {}).get("status") == "drift"))
        for kind, (oldest, count, drift) in sorted(per_kind.items()):
            age.add_metric([kind], (now - oldest).total_seconds())
            current.add_metric([kind], count)
            drifting.add_metric([kind], drift)
        yield from (age, current, drifting)

        alerts = GaugeMetricFamily("mla_alerts", "Alerts per state and severity.", labels=["state", "severity"])
        for row in Alert.objects.values("state", "severity").annotate(n=Count("id")).order_by("state", "severity"):
            alerts.add_metric([row["state"], row["severity"]], row["n"])
        yield alerts

        if settings.BACKGROUND_JOBS == "celery":
            for name, key in (("worker", health.WORKER_KEY), ("beat", health.BEAT_KEY)):
                stamp = health.last_seen(key)
                gauge = GaugeMetricFamily(f"mla_celery_{name}_seen_age_seconds",
                                          f"Seconds since the Celery {name} was last seen (heartbeat / last schedule).")
                if stamp is not None:
                    gauge.add_metric([], max(0.0, time.time() - stamp))
                yield gauge


_collector = ShopCollector()
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_collector)


def registry():
    """The registry to expose: this process's, or every process's files in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    combined.register(_collector)
    return combined


def metrics_view(request):
    """The scrape endpoint: 404 unless METRICS_TOKEN is set, 401 without `Authorization: Bearer <token>`."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("A bearer token is needed.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
