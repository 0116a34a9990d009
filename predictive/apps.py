from django.apps import AppConfig

CHECK_FORECASTS_EVERY_SECONDS = 15 * 60


class PredictiveConfig(AppConfig):
    """Forecasting and customer models, and the registry of trained models."""

    name = "predictive"
    verbose_name = "Predictive analytics"

    def ready(self):
        from mlanalytics.core import jobs

        jobs.periodic("predictive-check-forecasts", CHECK_FORECASTS_EVERY_SECONDS, "predictive.tasks.check_forecasts")
