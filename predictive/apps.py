from django.apps import AppConfig


class PredictiveConfig(AppConfig):
    """Forecasting and customer models, and the registry of trained models."""

    name = "predictive"
    verbose_name = "Predictive analytics"
