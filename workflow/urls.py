"""Dashboard pages of the workflow panel (mounted at /admin/ml-analytics/workflow/)."""
from . import views

app_name = "workflow"

urlpatterns = [
    *views.OverviewPage.urls(),
    *views.AutomationPage.urls(),
    *views.ProcessPage.urls(),
    *views.AnalyticsOverTimePage.urls(),
    *views.CommunicationPage.urls(),
    *views.QualityPage.urls(),
    *views.AllocationPage.urls(),
]
