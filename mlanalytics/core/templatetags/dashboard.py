"""The reusable dashboard components of SPEC §5 as inclusion tags, plus the `fmt` filter.

MLInsightsCard (`ml_insights_card`), RealTimeChart (`realtime_chart`), InventoryAlert
(`inventory_alert`), WorkflowStatus (`workflow_status`), PredictiveInsights (`predictive_insights`),
PerformanceMetrics (`performance_metrics`), and the plain `chart` and `data_table` they build on.
"""
from django import template

from mlanalytics.core.formatting import format_value
from mlanalytics.core.pages import model_summary

register = template.Library()


@register.filter
def fmt(value, kind="text"):
    """{{ value|fmt:"money" }} — the same formatting as the exports (mlanalytics.core.formatting)."""
    return format_value(value, kind)


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.inclusion_tag("components/performance_metrics.html")
def performance_metrics(tiles, live_source=""):
    """PerformanceMetrics: KPI tiles. `live_source` is a JSON URL re-read after live events."""
    return {"tiles": tiles, "live_source": live_source}


@register.inclusion_tag("components/ml_insights_card.html")
def ml_insights_card(card):
    """MLInsightsCard: a prediction with the measured (backtest) accuracy of the model behind it."""
    return {"card": card}


@register.inclusion_tag("components/chart.html")
def chart(spec):
    return {"spec": spec, "live": False}


@register.inclusion_tag("components/chart.html")
def realtime_chart(spec, reducer=""):
    """RealTimeChart: a chart whose data a live reducer in charts.js updates in place."""
    if reducer:
        spec = {**spec, "live": reducer}
    return {"spec": spec, "live": True}


@register.inclusion_tag("components/data_table.html")
def data_table(table, can_act=None):
    return {"table": table, "can_act": can_act or {}}


@register.inclusion_tag("components/workflow_status.html")
def workflow_status(counts_by_store, statuses):
    """WorkflowStatus: tickets in the shop by status, summed over the stores shown, kept live by
    ticket_created / ticket_status events (each carries the store's counts)."""
    totals = {}
    for per_store in counts_by_store.values():
        for status, n in per_store.items():
            totals[status] = totals.get(status, 0) + n
    rows = [{"status": s, "label": label, "count": totals.get(s, 0)} for s, label in statuses]
    return {"rows": rows, "counts_by_store": counts_by_store, "statuses": statuses,
            "chart": {"id": "workflow-status-chart", "kind": "bar", "title": "Tickets by status", "y_fmt": ",.0f",
                      "fmt": "int", "height": 260, "live": "status_counts", "orientation": "h", "empty": False,
                      "series": [{"label": "Tickets", "x": [label for _, label in statuses],
                                  "y": [totals.get(s, 0) for s, _ in statuses], "keys": [s for s, _ in statuses],
                                  "links": None, "lower": None, "upper": None, "text": None, "mode": ""}]}}


@register.inclusion_tag("components/inventory_alert.html")
def inventory_alert(alerts, kinds="stockout_risk", inbox_url=""):
    """InventoryAlert: open stock alerts (projected stockout) of the stores shown, live."""
    return {"alerts": alerts, "kinds": kinds, "inbox_url": inbox_url}


@register.inclusion_tag("components/predictive_insights.html")
def predictive_insights(models, training=None, total=0):
    """PredictiveInsights: the current trained models with their backtest metrics, and training progress."""
    return {"models": [m for m in (model_summary(m) for m in models) if m], "training": training, "total": total}
