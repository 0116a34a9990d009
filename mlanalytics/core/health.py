"""Readiness (/readyz): is each thing the app depends on working, and which one is not.

Checks: the database, the cache, Redis, the Celery worker's heartbeat, Celery beat's last scheduled send and
the age of the current models. Each answers ok, degraded or not_configured (the embedded default has no
Redis, worker or beat: jobs run in a thread of the web process), with a detail. The answer is 503 when a check
named in READYZ_REQUIRED is degraded; the others show in the body ("status": "degraded") without taking the
web process out of service. The liveness probe (/healthz) asks nothing of any of them.

The worker writes a heartbeat into the cache every WORKER_BEAT_SECONDS from a thread started on
`worker_ready`, and after each task; the beat process stamps the cache each time it sends a scheduled task.
Both need the cache shared between processes (Redis: REDIS_URL).
"""
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

log = logging.getLogger(__name__)

WORKER_KEY = "ops:celery-worker-seen"
BEAT_KEY = "ops:celery-beat-seen"
WORKER_BEAT_SECONDS = 30
OK, DEGRADED, NOT_CONFIGURED = "ok", "degraded", "not_configured"


def stamp(key):
    try:
        cache.set(key, time.time(), timeout=7 * 24 * 3600)
    except Exception:  # the cache being down must not stop a task; readiness then says the cache is down
        log.warning("could not record %s", key, exc_info=True)


def last_seen(key):
    value = cache.get(key)
    return float(value) if value is not None else None


def _redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def broker_queue_depth():
    """Messages waiting on the Celery broker's default queue (Redis broker); None when not measurable."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return client.llen(getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery"))


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return OK, connection.vendor


def check_cache():
    cache.set("readyz-probe", 1, 5)
    if cache.get("readyz-probe") != 1:
        return DEGRADED, "a value written was not read back"
    return OK, caches["default"].__class__.__name__


def check_redis():
    if not settings.REDIS_URL:
        return NOT_CONFIGURED, "no REDIS_URL: local-memory cache and in-memory channel layer"
    _redis_client().ping()
    return OK, "ping answered"


def _check_seen(key, what, max_age):
    if settings.BACKGROUND_JOBS != "celery":
        return NOT_CONFIGURED, "no Celery broker: jobs run in a thread of the web process"
    seen = last_seen(key)
    if seen is None:
        return DEGRADED, f"{what} never seen"
    age = time.time() - seen
    status = OK if age <= max_age else DEGRADED
    return status, f"{what} last seen {age:.0f} s ago (limit {max_age} s)"


def check_worker():
    return _check_seen(WORKER_KEY, "worker heartbeat", settings.READYZ_WORKER_MAX_AGE_SECONDS)


def check_beat():
    return _check_seen(BEAT_KEY, "beat's scheduled send", settings.READYZ_BEAT_MAX_AGE_SECONDS)


def check_models():
    from django.utils import timezone

    from predictive.models import TrainedModel

    oldest = TrainedModel.objects.filter(is_current=True).order_by("trained_at").first()
    if oldest is None:
        return OK, "no current model yet (models are fitted on first request or by the nightly run)"
    age = timezone.now() - oldest.trained_at
    limit = timedelta(hours=settings.READYZ_MODEL_MAX_AGE_HOURS)
    detail = f"oldest current model {oldest.kind}[{oldest.scope}] trained {age.total_seconds() / 3600:.1f} h ago " \
             f"(limit {settings.READYZ_MODEL_MAX_AGE_HOURS} h)"
    return (OK if age <= limit else DEGRADED), detail


CHECKS = {
    "database": check_database, "cache": check_cache, "redis": check_redis,
    "worker": check_worker, "beat": check_beat, "models": check_models,
}


def run_checks():
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            status, detail = check()
        except Exception as exc:  # report, do not raise: this endpoint exists to say what is wrong
            # The body names the error's class only (the endpoint is public; messages may name hosts); the log
            # has the whole of it.
            log.warning("readiness check %s failed", name, exc_info=True)
            status, detail = DEGRADED, exc.__class__.__name__
        results[name] = {"status": status, "detail": detail, "required": name in settings.READYZ_REQUIRED,
                         "ms": round((time.perf_counter() - started) * 1000, 1)}
    return results


@never_cache
def readyz(request):
    checks = run_checks()
    degraded = [name for name, result in checks.items() if result["status"] == DEGRADED]
    failing = [name for name in degraded if checks[name]["required"]]
    body = {"status": "unavailable" if failing else ("degraded" if degraded else "ok"),
            "degraded": degraded, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def connect_celery_signals():
    """Heartbeats for the checks above, from the worker and the beat processes."""
    from celery import signals

    state = {"beat": False}

    @signals.worker_ready.connect(weak=False)
    def _worker_ready(**kwargs):
        def loop():
            while True:
                stamp(WORKER_KEY)
                time.sleep(WORKER_BEAT_SECONDS)

        threading.Thread(target=loop, name="mla-worker-heartbeat", daemon=True).start()

    @signals.task_postrun.connect(weak=False)
    def _task_done(**kwargs):
        stamp(WORKER_KEY)

    @signals.beat_init.connect(weak=False)
    def _beat_started(**kwargs):
        state["beat"] = True
        stamp(BEAT_KEY)

    @signals.after_task_publish.connect(weak=False)
    def _beat_sent(**kwargs):
        if state["beat"]:
            stamp(BEAT_KEY)
