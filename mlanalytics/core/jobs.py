"""Background and periodic jobs, one interface for both ways of running.

Production (BACKGROUND_JOBS == "celery"): `enqueue()` sends the job to a Celery worker and Celery
beat calls `run_due_periodic_jobs()` every minute. Embedded default: `enqueue()` runs the job in a
single background thread of the web process and a small scheduler thread replaces beat. Tests may
set BACKGROUND_JOBS = "eager" to run a job at once in the caller's thread (deterministic).
A job is named by its dotted path, so both ways run exactly the same function. The request id of the
caller (mlanalytics.core.requestid) goes with the job: to its thread here, in the task headers to Celery.
"""
import importlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from . import metrics, requestid

log = logging.getLogger(__name__)

_executor = None
_executor_lock = threading.Lock()
_periodic = {}  # name -> (every_seconds, dotted path)
_scheduler_started = False


def call(path, *args, **kwargs):
    module_name, _, func_name = path.rpartition(".")
    func = getattr(importlib.import_module(module_name), func_name)
    with metrics.job_timer(path):  # duration and outcome per job (the Prometheus endpoint)
        return func(*args, **kwargs)


def _run_in_thread(path, args, kwargs, request_id=None):
    close_old_connections()
    token = requestid.set(request_id)  # the job's log records name the request that queued it
    try:
        return call(path, *args, **kwargs)
    except Exception:  # a background job must never take the process down; it logs and its own records say failed
        log.exception("background job %s failed", path)
    finally:
        requestid.reset(token)
        close_old_connections()


def enqueue(path, *args, **kwargs):
    """Run `path(*args, **kwargs)` in the background. Arguments must be JSON-serialisable."""
    global _executor
    if settings.BACKGROUND_JOBS == "eager":  # tests: run now, in the caller's thread and transaction
        args, kwargs = json.loads(json.dumps([list(args), kwargs]))  # what Celery would refuse, refuse here too
        try:
            return call(path, *args, **kwargs)
        except Exception:  # as in the other modes, a failing job logs and never reaches the caller
            log.exception("background job %s failed", path)
            return None
    if settings.BACKGROUND_JOBS == "celery":
        from .tasks import run_job

        return run_job.delay(path, list(args), kwargs)
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mla-job")
    return _executor.submit(_run_in_thread, path, args, kwargs, requestid.get())


def queue_depth():
    """Jobs waiting in this process's job thread (embedded default); None when jobs go elsewhere."""
    if settings.BACKGROUND_JOBS != "thread":
        return None
    return _executor._work_queue.qsize() if _executor is not None else 0


def periodic(name, every_seconds, path):
    """Register a job to run every `every_seconds` (apps call this from their AppConfig.ready)."""
    _periodic[name] = (every_seconds, path)


def run_due_periodic_jobs(now=None):
    """Run each registered periodic job whose interval has passed. Returns the names run."""
    now = now or time.time()
    ran = []
    for name, (every, path) in sorted(_periodic.items()):
        key = f"periodic-last-run:{name}"
        last = cache.get(key) or 0
        if now - last < every:
            continue
        cache.set(key, now, timeout=max(every * 4, 3600))
        try:
            call(path)
            ran.append(name)
        except Exception:
            log.exception("periodic job %s failed", name)
    return ran


def start_embedded_scheduler():
    """Start the minute scheduler thread when the embedded app is served (make run)."""
    global _scheduler_started
    if _scheduler_started or settings.BACKGROUND_JOBS != "thread" or not settings.EMBEDDED_SCHEDULER:
        return
    _scheduler_started = True

    def loop():
        while True:
            time.sleep(20)
            close_old_connections()
            run_due_periodic_jobs()
            close_old_connections()

    threading.Thread(target=loop, name="mla-scheduler", daemon=True).start()
