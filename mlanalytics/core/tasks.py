"""Celery tasks of the shared plumbing. Domain apps register their work with mlanalytics.core.jobs."""
from celery import shared_task

from . import jobs


@shared_task(name="mlanalytics.core.tasks.run_job")
def run_job(path, args=(), kwargs=None):
    return jobs.call(path, *args, **(kwargs or {}))


@shared_task(name="mlanalytics.core.tasks.run_scheduled_jobs")
def run_scheduled_jobs():
    return jobs.run_due_periodic_jobs()
