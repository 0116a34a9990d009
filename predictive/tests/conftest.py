"""Fixtures of the predictive tests: every model kind trained once per test session on the session's
demo data (the small scale: 2 stores, 2 years), committed so that every test reads the same registry."""
from unittest import mock

import pytest


@pytest.fixture(scope="session")
def trained_models(django_db_setup, django_db_blocker):
    """Train all model kinds once per session (per xdist worker); returns the TrainingRun.

    Background jobs that other apps start when a model is saved (the inventory app refreshes its
    reorder policies) are not run here: they would write from another thread while tests run.
    """
    with django_db_blocker.unblock():
        from django.core.cache import cache

        from predictive import services
        from predictive.models import TrainingRun

        run = TrainingRun.objects.filter(status=TrainingRun.Status.DONE, triggered_by="test-session").first()
        if run is None:
            cache.delete(services.LOCK_KEY)
            with mock.patch("mlanalytics.core.jobs.enqueue"):
                run = services.train_all_models(triggered_by="test-session")
        return run
