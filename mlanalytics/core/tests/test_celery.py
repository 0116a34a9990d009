"""Celery wiring: the web process sends background jobs through the project's Celery app, to the
broker of CELERY_BROKER_URL. Nothing here talks to a real broker: the sending side is intercepted
and the worker side runs eagerly."""
import json
import os
import socket
import subprocess
import sys
from unittest import mock

from django.conf import settings

from mlanalytics import celery_app
from mlanalytics.core import jobs
from mlanalytics.core.tasks import run_job

PROBE = """
import json
from mlanalytics.asgi import application  # what daphne loads: the web process exactly
from django.conf import settings
from mlanalytics.core.tasks import run_job
app = run_job.app
app.loader.import_default_modules()  # what the worker does at start: autodiscover every app's tasks
print(json.dumps({
    "app": app.main, "broker": app.conf.broker_url, "setting": settings.CELERY_BROKER_URL,
    "background_jobs": settings.BACKGROUND_JOBS, "registered": sorted(app.tasks),
    "beat": sorted(entry["task"] for entry in app.conf.beat_schedule.values()),
}))
"""


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released on close: nothing listens there


def test_the_web_process_uses_the_projects_celery_app_with_the_broker_from_settings(tmp_path):
    broker = f"redis://127.0.0.1:{closed_port()}/5"
    environment = {**os.environ, "REDIS_URL": broker, "DATA_DIR": str(tmp_path),
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    environment.pop("CELERY_BROKER_URL", None)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["app"] == "mlanalytics"  # not Celery's "default" app
    assert seen["broker"] == seen["setting"] == broker and seen["background_jobs"] == "celery"
    assert "mlanalytics.core.tasks.run_job" in seen["registered"]
    assert set(seen["beat"]) <= set(seen["registered"]), "a beat entry names a task no app registers"


def test_enqueue_in_celery_mode_sends_run_job_through_the_projects_app(settings):
    settings.BACKGROUND_JOBS = "celery"
    assert run_job.app is celery_app
    with mock.patch.object(celery_app, "send_task") as send_task:  # intercept: no broker is contacted
        jobs.enqueue("inventory.tasks.refresh_policies_job", [3, 4], force=True)
    send_task.assert_called_once()
    name, args, kwargs = send_task.call_args.args[:3]
    assert name == "mlanalytics.core.tasks.run_job"
    assert list(args) == ["inventory.tasks.refresh_policies_job", [[3, 4]], {"force": True}] and kwargs == {}
    assert json.loads(json.dumps(list(args))) == list(args)  # the JSON serializer of CELERY_TASK_SERIALIZER can carry it


def test_the_worker_side_of_run_job_calls_the_named_function():
    assert run_job.apply(args=["operator.add", [2, 3], {}]).get() == 5
