"""Dashboard pages of the inventory panel (mounted at /admin/ml-analytics/inventory/)."""
from . import views

app_name = "inventory"

urlpatterns = [
    *views.StockMonitorPage.urls(),
    *views.OverviewPage.urls(),
    *views.ReorderPage.urls(),
    *views.DemandForecastPage.urls(),
    *views.SupplyChainPage.urls(),
    *views.CostOptimizationPage.urls(),
    *views.PerformancePage.urls(),
]
