"""The Celery app for production (broker: REDIS_URL). The embedded default runs jobs in a thread
instead; see mlanalytics.core.jobs."""
import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlanalytics.settings")

app = Celery("mlanalytics")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Operations (mlanalytics.core.health / requestid): the worker's heartbeat and beat's last send for /readyz,
# and the request id carried from the web request into the task's log records.
from mlanalytics.core import health, requestid  # noqa: E402

health.connect_celery_signals()
requestid.connect_celery_signals()

app.conf.beat_schedule = {
    "retrain-models-nightly": {"task": "predictive.tasks.train_all_models", "schedule": crontab(hour=2, minute=15)},
    "scheduled-jobs-every-minute": {"task": "mlanalytics.core.tasks.run_scheduled_jobs", "schedule": 60.0},
}
