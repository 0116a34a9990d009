"""REST endpoints of the predictive app (mounted at /api/predictive-analytics/); a trailing slash is optional."""
from django.urls import re_path

from . import views

app_name = "predictive-api"

urlpatterns = [
    re_path(r"^cost-optimization/?$", views.CostOptimizationView.as_view(), name="cost-optimization"),
    re_path(r"^repair-demand-forecast/?$", views.RepairDemandForecastView.as_view(), name="repair-demand-forecast"),
    re_path(r"^customer-behavior-prediction/?$", views.CustomerBehaviorPredictionView.as_view(), name="customer-behavior-prediction"),
    re_path(r"^business-metrics-forecast/?$", views.BusinessMetricsForecastView.as_view(), name="business-metrics-forecast"),
    re_path(r"^inventory-demand-prediction/?$", views.InventoryDemandPredictionView.as_view(), name="inventory-demand-prediction"),
    re_path(r"^model-performance/?$", views.ModelPerformanceView.as_view(), name="model-performance"),
]
