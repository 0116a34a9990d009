"""REST endpoints of the inventory app, mounted at /api/inventory-management/."""
from django.urls import re_path

from . import views

app_name = "inventory-api"

urlpatterns = [
    re_path(r"^overview/?$", views.OverviewView.as_view(), name="overview"),
    re_path(r"^demand-forecast/?$", views.DemandForecastView.as_view(), name="demand-forecast"),
    re_path(r"^reorder-suggestions/?$", views.ReorderSuggestionsView.as_view(), name="reorder-suggestions"),
    re_path(r"^supply-chain-optimization/?$", views.SupplyChainOptimizationView.as_view(), name="supply-chain-optimization"),
    re_path(r"^cost-optimization/?$", views.CostOptimizationView.as_view(), name="cost-optimization"),
    re_path(r"^stock-monitoring/?$", views.StockMonitoringView.as_view(), name="stock-monitoring"),
    re_path(r"^performance-analytics/?$", views.PerformanceAnalyticsView.as_view(), name="performance-analytics"),
    # Action resources behind the dashboard's buttons (managers: manage_purchasing).
    re_path(r"^reorder-decisions/?$", views.ReorderDecisionView.as_view(), name="reorder-decision"),
    re_path(r"^stock-adjustments/?$", views.StockAdjustmentView.as_view(), name="stock-adjustment"),
    re_path(r"^stock-transfers/?$", views.StockTransferView.as_view(), name="stock-transfer"),
]
