"""Dashboard pages under /admin/ml-analytics/: the home page, shared pages and one panel per app."""
from django.urls import include, path

from mlanalytics.core import dashboard_views as views
from mlanalytics.imports import views as import_views

urlpatterns = [
    path("", views.home, name="dashboard-home"),
    path("store/", views.switch_store, name="dashboard-store"),
    path("views/<slug:panel>/<slug:view>/", views.view_placeholder, name="dashboard-view"),
    *views.TicketIntakePage.urls(),
    path("alerts/", views.alerts_inbox, name="dashboard-alerts"),
    path("alerts/<int:pk>/<slug:action>/", views.alert_action, name="dashboard-alert-action"),
    path("reports/", views.subscriptions, name="dashboard-subscriptions"),
    path("reports/<int:pk>/<slug:action>/", views.subscription_action, name="dashboard-subscription-action"),
    path("simulate/", views.start_simulation, name="dashboard-simulate"),
    path("import/", import_views.import_page, name="dashboard-import"),
    path("import/<uuid:token>/", import_views.import_job, name="dashboard-import-job"),
    path("import/<uuid:token>/status/", import_views.import_status, name="dashboard-import-status"),
    path("import/<uuid:token>/report.csv", import_views.import_report, name="dashboard-import-report"),
    path("import/<uuid:token>/apply/", import_views.import_apply, name="dashboard-import-apply"),
    path("predictive/", include("predictive.urls")),
    path("inventory/", include("inventory.urls")),
    path("workflow/", include("workflow.urls")),
]
