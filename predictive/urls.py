"""Dashboard pages of the predictive panel (mounted at /admin/ml-analytics/predictive/)."""
from django.urls import path

from . import views

app_name = "predictive"

urlpatterns = [
    *views.CostOptimizationPage.urls(),
    *views.RepairDemandPage.urls(),
    *views.PartsDemandPage.urls(),
    *views.CustomerBehaviorPage.urls(),
    *views.BusinessMetricsPage.urls(),
    *views.ModelPerformancePage.urls(),
    path("model-performance/train/", views.train_models_now, name="train-models"),
]
