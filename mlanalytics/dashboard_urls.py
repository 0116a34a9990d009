"""Dashboard pages under /admin/ml-analytics/: the home page and one panel per app."""
from django.urls import include, path

from mlanalytics.core import dashboard_views

urlpatterns = [
    path("", dashboard_views.home, name="dashboard-home"),
    path("predictive/", include("predictive.urls")),
    path("inventory/", include("inventory.urls")),
    path("workflow/", include("workflow.urls")),
]
