"""REST endpoints of the workflow app, mounted at /api/workflow-automation/."""
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework.routers import DefaultRouter

from . import views

app_name = "workflow-api"

router = DefaultRouter()
router.register("rules", views.RuleViewSet, basename="rule")
router.register("rule-runs", views.RuleRunViewSet, basename="rule-run")
router.register("message-templates", views.MessageTemplateViewSet, basename="message-template")
router.register("outbox", views.OutboxViewSet, basename="outbox")
router.register("qa-inspections", views.QAInspectionViewSet, basename="qa-inspection")


def endpoint(name, view):
    """The SPEC path (no trailing slash, documented) and the same view with a trailing slash (not documented).
    The twin keeps the class name, so both share one cache entry."""
    twin = extend_schema(exclude=True)(type(view.__name__, (view,), {}))
    return [path(name, view.as_view(), name=name), path(f"{name}/", twin.as_view())]


urlpatterns = [
    *endpoint("overview", views.OverviewView),
    *endpoint("repair-automation", views.RepairAutomationView),
    *endpoint("customer-communication", views.CustomerCommunicationView),
    *endpoint("quality-assurance", views.QualityAssuranceView),
    *endpoint("resource-allocation", views.ResourceAllocationView),
    *endpoint("performance-optimization", views.PerformanceOptimizationView),
    *endpoint("analytics", views.AnalyticsView),
    path("", include(router.urls)),
]
