"""Background jobs of the predictive app.

`train_all_models` is both a Celery task (name "predictive.tasks.train_all_models", scheduled nightly
by Celery beat in mlanalytics/celery.py) and a plain callable: `mlanalytics.core.jobs.enqueue(
"predictive.tasks.train_all_models")` runs it in a Celery worker in production and in the web
process's job thread in the embedded default. `refit_stale_model` is queued the same way by a request
that found a stale forecast or customer model (services.queue_refit).
"""
import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="predictive.tasks.train_all_models")
def train_all_models(kinds=None, if_needed=False, triggered_by="task"):
    """Train every model kind (or `kinds`); returns the TrainingRun id, or None when skipped."""
    from . import services

    try:
        run = services.train_all_models(kinds=kinds, if_needed=if_needed, triggered_by=triggered_by or "task")
    except services.TrainingInProgress:
        log.info("training skipped: another run is in progress")
        return None
    return run.pk if run else None


def refit_stale_model(kind, scope, data_end):
    """Refit the current model of a kind and scope if it still ends on `data_end`; returns the new model's id or None."""
    from . import services

    model = services.refit_stale(kind, scope, data_end)
    return model.pk if model else None


def check_forecasts():
    """Periodic job (every 15 minutes): intake-above-forecast and accuracy-drift alerts."""
    from . import services

    return services.check_forecasts()
