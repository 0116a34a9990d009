"""The project package.

Importing the Celery app here (the standard Django + Celery pattern) binds every `@shared_task` to it
in every process that loads the project: the web server, management commands and the worker alike.
Without it, `run_job.delay()` in the web process would use Celery's default app and its default broker
(amqp://guest@localhost), not CELERY_BROKER_URL.
"""
from .celery import app as celery_app

__all__ = ("celery_app",)
