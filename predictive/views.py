"""Dashboard pages of the Predictive Analytics panel (SPEC §5), declared with the page machinery
(mlanalytics.core.pages, docs/dashboards.md): one page per predictive endpoint, each calling the
endpoint's own handle() so the page, the API and the PDF/Excel exports show the same figures.

`display_body()` of each page only re-arranges the endpoint's answer for charts and tables (a mapping as
rows, the two backtested methods side by side, a label made of a store and a technician); every figure
shown is one of the response's own. The one write here is "Train models now" (train_models capability),
which queues a training run whose progress reaches the page live (`training_progress` events).
"""
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from mlanalytics.core.formatting import format_value, humanize_key
from mlanalytics.core.pages import AnalyticsPage, Chart, Column, Insight, Kpi, Link, Series, Table
from mlanalytics.core.roles import TRAIN_MODELS, has_capability

from . import datasets as ds
from . import services, training
from .api.views import (
    BusinessMetricsForecastView, CostOptimizationView, CustomerBehaviorPredictionView, InventoryDemandPredictionView,
    ModelPerformanceView, RepairDemandForecastView,
)

METRIC_LABELS = {"revenue": "Revenue", "gross_margin": "Gross margin", "ticket_count": "Tickets",
                 "average_ticket_value": "Average ticket value"}
METRIC_FORMATS = {"revenue": "money0", "gross_margin": "money0", "ticket_count": "int", "average_ticket_value": "money"}
METHOD_LABELS = {"prophet": "Prophet", "seasonal_naive": "Seasonal naive"}
OPPORTUNITY_LABELS = {
    "parts_above_cheapest_supplier": "Parts above the cheapest supplier",
    "labour_time_technician": "Technician slower than the shop norm",
    "labour_time_variability": "Unstable labour time (repair type)",
}
CHART_ROWS = 15  # bars in a ranked chart; the table beside it holds every row


def _single_store(body):
    """The store code when the answer covers exactly one store (kept when drilling), else ""."""
    stores = body.get("stores") or []
    return stores[0] if len(stores) == 1 else ""


def _scope_label(scope):
    """'store=LON1|granularity=week|metric=revenue' -> 'LON1 · week · revenue'; 'all' -> 'All stores'."""
    spec = ds.parse_scope(scope)
    parts = [", ".join(spec["stores"]) if spec["stores"] else "All stores"]
    parts += [str(value).replace("_", " ") for key, value in spec.items() if key != "stores"]
    return " · ".join(parts)


def _scope_fields(scope):
    spec = ds.parse_scope(scope)
    stores = spec.get("stores") or []
    return {"store": stores[0] if len(stores) == 1 else "", "category": spec.get("category", ""),
            "repair_type": spec.get("repair_type", ""), "granularity": spec.get("granularity", ""),
            "metric": spec.get("metric", "")}


def _as_rows(mapping, key, value):
    return [{key: k, value: v} for k, v in (mapping or {}).items()]


class PredictivePage(AnalyticsPage):
    """What the predictive pages share: the panel and charts shown only when they have points."""

    panel = "predictive"
    method = "POST"
    optional_charts = ()  # titles of charts hidden on screen when they have no points for the settings
    template_name = "predictive/page.html"

    def results_context(self, result):
        context = super().results_context(result)
        if context.get("charts"):
            context["charts"] = [c for c in context["charts"] if not (c["empty"] and c["title"] in self.optional_charts)]
        return context

    def context(self, request, data, result):
        # PredictiveInsights under the figures: the registry models this answer was served from, with their
        # backtest metrics, and the progress of a training run if one is going (live training_progress).
        context = super().context(request, data, result)
        if context.get("body") is not None:
            context["page_models"] = models_shown(result.body)
            context["training_run"] = running_training()
        return context


def models_shown(body):
    """The model blocks of an answer that come from the registry (a name and a version or training time):
    the page's own `model`, and one per metric for answers that serve several (business metrics)."""
    found = []
    model = body.get("model")
    if isinstance(model, dict) and (model.get("version") or model.get("trained_at")):
        found.append(model)
    for metric, answer in (body.get("metrics") or {}).items() if isinstance(body.get("metrics"), dict) else ():
        block = answer.get("model") if isinstance(answer, dict) else None
        if isinstance(block, dict) and (block.get("version") or block.get("trained_at")):
            found.append({**block, "name": f"{METRIC_LABELS.get(metric, humanize_key(metric))} · {block.get('name') or 'model'}"})
    return [_readable_model(m) for m in found]


def running_training():
    """The training run in progress as the PredictiveInsights bar shows it, or None."""
    from .models import TrainingRun

    run = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).order_by("-started_at").first()
    return {"done_steps": run.done_steps, "total_steps": run.total_steps, "current_step": run.current_step} if run else None


# --- Cost Optimization ---------------------------------------------------------------------------------


def _opportunity_subject(o):
    if o["kind"] == "parts_above_cheapest_supplier":
        return f"supplier {o.get('supplier')}"
    if o["kind"] == "labour_time_technician":
        return f"{o.get('technician')} on {o.get('repair_type')}"
    return o.get("repair_type") or ""


def _opportunity_evidence(o):
    e = o.get("evidence") or {}
    if o["kind"] == "parts_above_cheapest_supplier":
        cheaper = ", ".join(f"{c['supplier']} (on time {format_value(c.get('on_time_rate'), 'pct')})"
                            for c in e.get("cheapest_suppliers", []))
        return (f"{format_value(e.get('lines_above_cheapest'), 'int')} lines, {format_value(e.get('units'), 'int')} units at "
                f"+{format_value(e.get('mean_premium_pct'), 'num1')} % over the cheapest list price; cheaper: {cheaper or '–'}")
    if o["kind"] == "labour_time_technician":
        return (f"{format_value(e.get('tickets'), 'int')} tickets, median {format_value(e.get('median_minutes'), 'num1')} min "
                f"against the shop's {format_value(e.get('norm_minutes'), 'num1')} min")
    return (f"{format_value(e.get('tickets'), 'int')} tickets, spread {format_value(e.get('spread_vs_typical'), 'num2')} × typical, "
            f"median {format_value(e.get('median_minutes'), 'num1')} min, mean {format_value(e.get('mean_minutes'), 'num1')} min")


class CostOptimizationPage(PredictivePage):
    api_view = CostOptimizationView
    slug, title = "cost-optimization", "Cost Optimization"
    intro = ("Where repair costs can fall: technicians slower than the shop norm, repair types whose labour time varies "
             "far more than usual, and parts bought above the cheapest qualified supplier. Each opportunity shows the "
             "current and achievable monthly cost and the saving with its 90 % bootstrap interval. Click a store, a "
             "technician, a repair type or a part to open its detail.")
    form_labels = {"months": "Look-back window", "min_monthly_saving": "Minimum saving a month",
                   "kinds": "Kinds of opportunity", "limit": "Show at most"}
    insights = (
        Insight("display.top.monthly_saving", "Largest opportunity: saving a month", "money0",
                lower_path="display.top.saving_low", upper_path="display.top.saving_high",
                note="90 % bootstrap interval over the tickets or purchase lines behind it; which one is in the tiles."),
    )
    choice_labels = {"kinds": OPPORTUNITY_LABELS}
    kpis = (
        Kpi("summary.monthly_saving", "Saving available a month", "money0", note="{} opportunities", note_path="summary.opportunities",
            note_fmt="int"),
        Kpi("display.top.label", "Largest opportunity", "text"),
        Kpi("summary.actual_monthly_repair_cost", "Actual monthly repair cost", "money0", note="{} tickets in the window",
            note_path="summary.tickets", note_fmt="int"),
        Kpi("summary.expected_monthly_repair_cost", "Expected by the cost model", "money0",
            note="gradient boosting; holdout accuracy in the card"),
    )
    charts = (
        Chart("bar", "Current vs achievable monthly cost, largest opportunities", (
            Series("display.chart_opportunities", "label", "current_monthly_cost", "Current a month"),
            Series("display.chart_opportunities", "label", "achievable_monthly_cost", "Achievable a month"),
        ), orientation="h", height=520, y_fmt="money0",
            drill=Link("predictive:cost-optimization", query={"store": "{store}", "kinds": "{kind}", "months": "{months}"})),
        Chart.bar("display.by_kind", "kind_label", "monthly_saving", "Saving a month by kind of opportunity", label="Saving a month",
                  y_fmt="money0", orientation="h", height=240, drill=Link("predictive:cost-optimization", query={"kinds": "{kind}", "months": "{months}",
                                                                                    "store": "{store}"}, optional=("store",))),
        Chart.bar("display.technicians", "label", "monthly_excess_cost",
                  "Labour cost against the shop norm a month, by technician (below zero: faster than the norm)",
                  label="Excess a month", orientation="h", y_fmt="money0", height=380,
                  drill=Link("predictive:cost-optimization", query={"store": "{store}", "kinds": "labour_time_technician",
                                                                    "months": "{months}"})),
        Chart.bar("display.costlier_than_expected", "label", "gap",
                  "Cost per ticket above what the cost model expects, by store and repair type", label="Actual − expected",
                  orientation="h", y_fmt="money", height=440,
                  drill=Link("predictive:repair-demand", query={"repair_type": "{repair_type}", "store": "{store}"}),
                  note="The model expects each ticket's cost from its repair type, device, brand, store, priority, bill "
                       "of parts and month. Click a bar for that repair type's intake forecast."),
        Chart.bar("display.variability", "repair_type", "spread_vs_typical", "Spread of labour time against the typical repair type",
                  label="Spread × typical", y_fmt="num2",
                  drill=Link("predictive:repair-demand", query={"repair_type": "{repair_type}"})),
    )
    tables = (
        Table("display.opportunities", "Savings opportunities", (
            Column("kind_label", "Kind"),
            Column("store", "Store", link=Link("predictive:cost-optimization", query={"store": "{store}", "months": "{months}"})),
            Column("subject", "Who / what"),
            Column("current_monthly_cost", "Current a month", "money"),
            Column("achievable_monthly_cost", "Achievable a month", "money"),
            Column("monthly_saving", "Saving a month", "money"),
            Column("saving_low", "Saving 90 % low", "money"),
            Column("saving_high", "Saving 90 % high", "money"),
            Column("evidence_text", "Evidence"),
        ), empty="No opportunity above the minimum saving for these settings."),
        Table("display.top_parts", "Parts bought above the cheapest supplier (largest overpayments)", (
            Column("store", "Store"), Column("supplier", "Bought from"),
            Column("sku", "Part", link=Link("predictive:parts-demand", query={"part": "{sku}", "store": "{store}"})),
            Column("units", "Units", "int"), Column("overpaid", "Overpaid in the window", "money"),
        ), sheet="Overpaid parts", empty="No part was bought above the cheapest qualified supplier."),
        Table("technician_cost_vs_norm", "Technician labour cost against the shop norm", (
            Column("store", "Store"),
            Column("technician", "Technician", link=Link("predictive:cost-optimization", query={
                "store": "{store}", "kinds": "labour_time_technician"})),
            Column("tickets", "Tickets", "int"), Column("mean_excess_cost", "Excess per ticket", "money"),
            Column("monthly_excess_cost", "Excess a month", "money"),
        )),
        Table("display.repair_types", "Cost per ticket by store and repair type", (
            Column("store", "Store"),
            Column("repair_type", "Repair type", link=Link("predictive:repair-demand", query={"repair_type": "{repair_type}",
                                                                                              "store": "{store}"})),
            Column("tickets", "Tickets", "int"), Column("actual_mean_cost", "Actual per ticket", "money"),
            Column("expected_mean_cost", "Expected per ticket", "money"), Column("gap", "Actual − expected", "money"),
            Column("labour_minutes_median", "Median labour (min)", "num1"),
        ), pdf_rows=50),
        Table("labour_variability", "Labour time variability by repair type (all stores)", (
            Column("repair_type", "Repair type", link=Link("predictive:repair-demand", query={"repair_type": "{repair_type}"})),
            Column("tickets", "Tickets", "int"), Column("median_minutes", "Median (min)", "num1"),
            Column("mean_minutes", "Mean (min)", "num1"), Column("cv", "CV", "num2"),
            Column("spread_vs_typical", "Spread × typical", "num2"), Column("high_variance", "High variance", "bool"),
        )),
        Table("labour_outliers", "Labour-time outlier tickets by technician", (
            Column("store", "Store"), Column("technician", "Technician"), Column("outlier_tickets", "Outlier tickets", "int"),
        ), empty="No labour-time outliers in this window."),
    )
    empty_text = "No savings opportunity for these settings: lower the minimum saving or widen the window."

    @classmethod
    def display_body(cls, body):
        months = body.get("months")
        store = _single_store(body)
        opportunities = []
        for o in body.get("opportunities") or []:
            interval = o.get("saving_interval_90") or [None, None]
            subject = _opportunity_subject(o)
            opportunities.append({
                **o, "months": months, "kind_label": OPPORTUNITY_LABELS.get(o["kind"], humanize_key(o["kind"])),
                "subject": subject, "saving_low": interval[0],
                "label": f"{o.get('store')} · {o.get('supplier') or subject}",
                "saving_high": interval[1], "evidence_text": _opportunity_evidence(o),
            })
        top_parts = [{"store": o.get("store"), "supplier": o.get("supplier"), **p}
                     for o in body.get("opportunities") or [] for p in (o.get("evidence") or {}).get("top_parts", [])]
        top_parts.sort(key=lambda p: -(p.get("overpaid") or 0))
        by_kind = [{"kind": kind, "kind_label": OPPORTUNITY_LABELS.get(kind, humanize_key(kind)), "months": months, "store": store,
                    **figures} for kind, figures in ((body.get("summary") or {}).get("by_kind") or {}).items()]
        technicians = [{**t, "months": months, "label": f"{t['technician']} ({t['store']})"}
                       for t in sorted(body.get("technician_cost_vs_norm") or [], key=lambda t: -(t.get("monthly_excess_cost") or 0))]
        repair_types = [{**r, "label": f"{r['store']} · {r['repair_type']}",
                         "gap": (r["actual_mean_cost"] - r["expected_mean_cost"])
                         if r.get("actual_mean_cost") is not None and r.get("expected_mean_cost") is not None else None}
                        for r in body.get("expected_cost_by_repair_type") or []]
        variability = sorted(body.get("labour_variability") or [], key=lambda r: -(r.get("spread_vs_typical") or 0))
        return {**body, "model": _readable_model(body.get("model")), "display": {
            "opportunities": opportunities, "chart_opportunities": opportunities[:CHART_ROWS],
            "top": opportunities[0] if opportunities else {}, "top_parts": top_parts, "by_kind": by_kind,
            "technicians": technicians[:CHART_ROWS], "repair_types": repair_types, "variability": variability[:CHART_ROWS],
            "costlier_than_expected": sorted([r for r in repair_types if (r["gap"] or 0) > 0],
                                             key=lambda r: -r["gap"])[:CHART_ROWS],
        }}

    def is_empty(self, body):
        return not body.get("opportunities")


def _readable_model(model):
    """The model block unchanged but for nested dicts of its backtest, which cards cannot show, left out."""
    if not isinstance(model, dict):
        return model
    backtest = model.get("backtest") or {}
    return {**model, "backtest": {k: v for k, v in backtest.items() if not isinstance(v, (dict, list))}}


# --- Demand Forecasting: repair intake ----------------------------------------------------------------


def _method_row(name, label, figures, served):
    figures = figures or {}
    return {"method": label, "key": name, "served": served == name, **{k: figures.get(k) for k in (
        "mase", "mae", "rmse", "mape", "bias", "coverage_80", "coverage_95", "coverage_80_uncalibrated",
        "coverage_95_uncalibrated", "coverage_80_held_out", "coverage_95_held_out", "folds", "points")}}


def _held_out_label(window):
    """"28 days from 2026-11-08 (intervals calibrated on earlier windows)", or "" without a held-out window."""
    if not window:
        return ""
    return f"{window.get('points')} days from {window.get('start')} (intervals calibrated on earlier windows only)"


class RepairDemandPage(PredictivePage):
    api_view = RepairDemandForecastView
    slug, title = "repair-demand", "Repair intake forecast"
    intro = ("Tickets expected per day, with the recent history for context and the prediction interval you choose. "
             "The model is backtested on three rolling 28-day windows against the seasonal-naive baseline (same weekday "
             "last week); the method with the lower MASE is served. Its intervals are calibrated per fortnight of "
             "the horizon on the same windows; their coverage is shown over the backtest and on the latest window "
             "held out of the calibration. Narrow it to a store, a device category or a repair type.")
    form_labels = {"horizon_days": "Days ahead", "history_days": "Days of history shown", "interval": "Prediction interval"}
    insights = (
        Insight("forecast.0.expected", "Tickets expected on the first forecast day", "num1",
                lower_path="forecast.0.lower", upper_path="forecast.0.upper",
                note="The day after the data window, with the prediction interval chosen above."),
    )
    kpis = (
        Kpi("expected_total", "Tickets expected over the horizon", "int", note="{} days ahead", note_path="horizon_days"),
        Kpi("display.method_label", "Method served", "text", note="{}", note_path="display.method_reason", note_fmt="text"),
        Kpi("model.backtest.mase", "Backtest MASE (served)", "num2", note="seasonal naive {}",
            note_path="model.backtest.mase_seasonal_naive", note_fmt="num2"),
        Kpi("display.coverage", "Interval coverage in the backtest", "pct", note="target {}", note_path="display.coverage_target",
            note_fmt="pct"),
        Kpi("display.coverage_held_out", "Interval coverage on the latest held-out window", "pct", note="{}",
            note_path="display.held_out_label", note_fmt="text"),
        Kpi("model.backtest.mae", "Backtest MAE (tickets a day)", "num1"),
        Kpi("display.drift", "Live accuracy (drift)", "text"),
    )
    charts = (
        Chart("timeseries", "Tickets received per day: history and forecast", (
            Series("history", "date", "actual", "Tickets received", mode="lines+markers"),
            Series("forecast", "date", "expected", "Forecast", lower="lower", upper="upper", band="{interval} % prediction interval"),
        ), y_label="Tickets", y_fmt="num1", height=380),
        Chart.bar("display.backtest_rows", "method", ["mase"], "Backtest MASE by method (lower is better; the lower one is served)",
                  label="MASE", y_fmt="num2"),
        Chart.bar("display.weekly_pattern", "day", "multiplier", "Weekly pattern (× the average day)", label="Multiplier",
                  y_fmt="num2"),
        Chart.bar("display.holiday_effects", "holiday", "effect", "Effect of public holidays on intake", label="Effect",
                  orientation="h", y_fmt="pct", height=360),
    )
    optional_charts = ("Weekly pattern (× the average day)", "Effect of public holidays on intake")
    tables = (
        Table("forecast", "Forecast by day", (
            Column("date", "Day", "date"), Column("expected", "Expected", "num1"),
            Column("lower", "Interval low", "num1"), Column("upper", "Interval high", "num1"),
        ), pdf_rows=90),
        Table("display.backtest_rows", "Backtest: served method against seasonal naive", (
            Column("method", "Method"), Column("served", "Served", "bool"), Column("mase", "MASE", "num2"),
            Column("mae", "MAE", "num2"), Column("rmse", "RMSE", "num2"), Column("mape", "MAPE (%)", "num1"),
            Column("bias", "Bias", "num2"), Column("coverage_80", "Coverage 80 %", "pct"),
            Column("coverage_95", "Coverage 95 %", "pct"), Column("coverage_80_held_out", "Held-out 80 %", "pct"),
            Column("coverage_95_held_out", "Held-out 95 %", "pct"),
            Column("coverage_80_uncalibrated", "Raw coverage 80 %", "pct"),
            Column("points", "Days scored", "int"),
        ), sheet="Backtest"),
        Table("history", "Tickets received by day (history)", (
            Column("date", "Day", "date"), Column("actual", "Tickets", "int"),
        ), pdf_rows=60),
        Table("display.holiday_effects", "Bank-holiday effects", (
            Column("holiday", "Holiday"), Column("effect", "Effect on intake", "pct"),
        ), empty="This series has no holiday effects (the seasonal-naive baseline has none)."),
    )

    @classmethod
    def display_body(cls, body):
        model = body.get("model") or {}
        backtest = body.get("backtest") or {}
        served = backtest.get("served") or body.get("method")
        interval = body.get("interval")
        metrics = model.get("backtest") or {}
        if body.get("method_note"):
            reason = body["method_note"]
        elif backtest.get("prophet_beats_baseline"):
            reason = "beat seasonal naive in the backtest"
        else:
            reason = "lower backtest MASE"
        return {**body, "model": _readable_model(model), "display": {
            "method_label": METHOD_LABELS.get(body.get("method"), humanize_key(body.get("method") or "")),
            "method_reason": reason, "drift": humanize_key(model.get("drift") or "not_checked"),
            "coverage": metrics.get(f"coverage_{interval}"), "coverage_target": (interval or 0) / 100,
            "coverage_held_out": metrics.get(f"coverage_{interval}_held_out"),
            "held_out_label": _held_out_label(backtest.get("held_out_window")),
            "backtest_rows": [_method_row("prophet", "Prophet", backtest.get("prophet"), served),
                              _method_row("seasonal_naive", "Seasonal naive (same weekday last week)",
                                          backtest.get("seasonal_naive"), served)],
            "weekly_pattern": _as_rows(body.get("weekly_pattern"), "day", "multiplier"),
            "holiday_effects": _as_rows(body.get("holiday_effects"), "holiday", "effect"),
        }}

    def is_empty(self, body):
        return not body.get("forecast")


# --- Demand Forecasting: parts ----------------------------------------------------------------------


class PartsDemandPage(PredictivePage):
    api_view = InventoryDemandPredictionView
    slug, title = "parts-demand", "Parts demand forecast"
    intro = ("Demand per part and store: each series is classed by the Syntetos–Boylan rule (ADI and CV² of the last 52 "
             "weeks) and forecast with the method that backtested best for it (Croston-SBA, TSB or ADIDA for intermittent "
             "demand; ETS or SES for smooth). Quantiles are for the horizon and for the supplier's lead time at the part's "
             "service level. Click a class, a category or a part to narrow the list.")
    form_labels = {"horizon_days": "Days ahead", "part": "Part (SKU)", "lead_time_days": "Lead time (days)",
                   "service_level": "Service level (0.5–0.999)", "limit": "Show at most", "offset": "Skip the first"}
    insights = (
        Insight("summary.expected_units_in_horizon", "Parts expected to be used over the horizon", "int",
                note="Units over every series matching the filters; accuracy is the backtest over all series (RMSSE "
                     "against the 26-week moving average)."),
    )
    kpis = (
        Kpi("summary.series", "Series (part × store)", "int", note="{} listed", note_path="display.listed", note_fmt="int"),
        Kpi("model.backtest.median_rmsse", "Median backtest RMSSE", "num2", note="moving average {}",
            note_path="model.backtest.median_rmsse_moving_average", note_fmt="num2"),
        Kpi("model.backtest.share_beating_moving_average", "Series beating the moving average", "pct"),
        Kpi("display.first.label", "Highest expected demand", "text", note="{} units over the horizon",
            note_path="display.first.horizon_demand.mean", note_fmt="num1"),
    )
    charts = (
        Chart.bar("display.by_class", "demand_class", "series", "Series by demand class (Syntetos–Boylan)", label="Series",
                  y_fmt="int", drill=Link("predictive:parts-demand", query={"demand_class": "{demand_class}", "store": "{store}"},
                                          optional=("store",))),
        Chart.bar("display.chart_parts", "label", "horizon_demand.mean", "Highest expected demand over the horizon",
                  label="Expected units", orientation="h", y_fmt="num1", height=460,
                  drill=Link("predictive:parts-demand", query={"part": "{sku}", "store": "{store}"})),
        Chart("scatter", "Demand profile of the parts listed: ADI against CV²", (
            Series("display.profiled", "adi", "cv2", "Part × store", text="label"),
        ), x_label="ADI (average weeks between demands)", y_label="CV² of demand sizes", y_fmt="num2",
            drill=Link("predictive:parts-demand", query={"part": "{sku}", "store": "{store}"}),
            note="Syntetos–Boylan cut-offs: ADI 1.32 and CV² 0.49 (smooth bottom-left, intermittent right, erratic top, lumpy both)."),
        Chart.bar("display.quantiles", "quantile", ["horizon", "lead_time"], "Demand quantiles of the part shown",
                  y_fmt="num1"),
    )
    optional_charts = ("Demand quantiles of the part shown", "Demand profile of the parts listed: ADI against CV²")
    tables = (
        Table("display.parts", "Parts and stores by expected demand", (
            Column("store", "Store"),
            Column("sku", "SKU", link=Link("predictive:parts-demand", query={"part": "{sku}", "store": "{store}"})),
            Column("name", "Part"),
            Column("category", "Category", link=Link("predictive:parts-demand", query={"part_category": "{category}",
                                                                                       "store": "{store}"})),
            Column("demand_class", "Class", link=Link("predictive:parts-demand", query={"demand_class": "{demand_class}",
                                                                                        "store": "{store}"})),
            Column("method", "Method"), Column("weekly_rate", "Units a week", "num2"),
            Column("horizon_demand.mean", "Expected over horizon", "num1"),
            Column("horizon_demand.quantiles.p50", "Median", "int"), Column("horizon_demand.quantiles.p90", "P90", "int"),
            Column("horizon_demand.quantiles.p95", "P95", "int"),
            Column("lead_time_days", "Lead time", "days"),
            Column("lead_time_demand.at_service_level", "Lead-time demand at service level", "int"),
            Column("lead_time_demand.service_level", "Service level", "pct"),
            Column("backtest.rmsse", "RMSSE", "num2"), Column("backtest.rmsse_moving_average", "RMSSE moving avg", "num2"),
        ), key=("sku", "store"), pdf_rows=40, sheet="Parts"),
        Table("display.by_class", "Series by demand class", (
            Column("demand_class", "Class", link=Link("predictive:parts-demand", query={"demand_class": "{demand_class}",
                                                                                        "store": "{store}"}, optional=("store",))),
            Column("series", "Series", "int"),
        ), sheet="Classes"),
    )
    empty_text = "No part matches these filters. Clear the part, category or class to see every series."

    @classmethod
    def display_body(cls, body):
        store = _single_store(body)
        parts = [{**p, "label": f"{p['sku']} · {p['store']}"} for p in body.get("parts") or []]
        first = parts[0] if parts else {}
        quantiles = []
        if len(parts) == 1:  # one part at one store: its distribution is the detail worth drawing
            horizon_q = (first.get("horizon_demand") or {}).get("quantiles") or {}
            lead_q = (first.get("lead_time_demand") or {}).get("quantiles") or {}
            quantiles = [{"quantile": name.upper(), "horizon": horizon_q.get(name), "lead_time": lead_q.get(name)}
                         for name in horizon_q]
        return {**body, "model": _readable_model(body.get("model")), "display": {
            "parts": parts, "chart_parts": parts[:CHART_ROWS], "first": first, "listed": len(parts),
            "profiled": [p for p in parts if p.get("adi") is not None and p.get("cv2") is not None],
            "by_class": [{"demand_class": k, "series": v, "store": store}
                         for k, v in ((body.get("summary") or {}).get("by_class") or {}).items()],
            "quantiles": quantiles,
        }}

    def is_empty(self, body):
        return not body.get("parts")


# --- Customer Behavior Insights ----------------------------------------------------------------------


class CustomerBehaviorPage(PredictivePage):
    api_view = CustomerBehaviorPredictionView
    slug, title = "customer-behavior", "Customer Behavior Insights"
    intro = ("Who is still a customer and what they are worth: the BG/NBD model gives each customer's probability of "
             "still being active and expected repeat visits, Gamma-Gamma their spend per visit, both fitted by maximum "
             "likelihood. Customers are grouped into RFM segments; at-risk customers came back before but have probably "
             "gone. The holdout check compares predicted with actual repeat visits over the last 26 weeks. Click a "
             "segment or a customer for the detail.")
    form_labels = {"horizon_days": "Horizon (days)", "at_risk_threshold": "At risk below P(active)",
                   "at_risk_limit": "At-risk customers listed", "customer": "Customer reference",
                   "segment": "RFM segment", "annual_discount_rate": "Discount rate a year"}
    insights = (
        Insight("customer.p_alive", "This customer: probability still active", "pct",
                note="BG/NBD from their visit history; expected visits and value are in the table below."),
        Insight("summary.expected_visits", "Repeat visits expected over the horizon", "int",
                note="Accuracy: the holdout check (predicted against actual repeat visits in the last 26 weeks)."),
    )
    kpis = (
        Kpi("summary.customers", "Customers", "int", note="{} expected still active", note_path="summary.expected_active_customers",
            note_fmt="int"),
        Kpi("summary.mean_p_alive", "Mean probability still active", "pct"),
        Kpi("summary.expected_spend", "Expected spend over the horizon", "money0"),
        Kpi("summary.lifetime_value", "Lifetime value over the horizon", "money0", note="discounted at {} a year",
            note_path="annual_discount_rate", note_fmt="pct"),
        Kpi("at_risk.customers", "Customers at risk", "int", note="{} of customers", note_path="at_risk.share", note_fmt="pct"),
        Kpi("at_risk.historical_spend", "Past spend of customers at risk", "money0"),
        Kpi("calibration.total_error_pct", "Holdout error of repeat visits (%)", "num1", note="correlation {}",
            note_path="calibration.correlation", note_fmt="num2"),
    )
    charts = (
        Chart.bar("display.segments", "segment_label", "customers", "Customers by RFM segment", label="Customers", y_fmt="int",
                  drill=Link("predictive:customer-behavior", query={"segment": "{segment}", "store": "{store}"}, optional=("store",))),
        Chart.bar("display.segments", "segment_label", "lifetime_value", "Lifetime value by RFM segment", label="Lifetime value",
                  y_fmt="money0", drill=Link("predictive:customer-behavior", query={"segment": "{segment}", "store": "{store}"},
                                           optional=("store",))),
        Chart("bar", "Holdout check: visits per customer in the last 26 weeks, predicted and actual", (
            Series("display.calibration", "repeat_visits_in_calibration", "predicted_mean", "Predicted"),
            Series("display.calibration", "repeat_visits_in_calibration", "actual_mean", "Actual"),
        ), y_label="Visits per customer", y_fmt="num2",
            note="Customers grouped by their repeat visits before the holdout (x axis); the model was fitted without the holdout."),
        Chart.bar("display.at_risk", "label", "total_spend", "At-risk customers by past spend", label="Past spend",
                  orientation="h", y_fmt="money0", height=440,
                  drill=Link("predictive:customer-behavior", query={"customer": "{external_ref}", "store": "{store}"})),
    )
    tables = (
        Table("display.customer", "Selected customer", (
            Column("external_ref", "Reference"), Column("name", "Name"), Column("store", "Store"),
            Column("visits", "Visits", "int"), Column("days_since_last_visit", "Days since last visit", "num1"),
            Column("total_spend", "Spent so far", "money"), Column("p_alive", "P(active)", "pct"),
            Column("expected_visits", "Expected visits", "num2"), Column("expected_spend", "Expected spend", "money"),
            Column("lifetime_value", "Lifetime value", "money"), Column("rfm", "RFM"), Column("segment_label", "Segment"),
        ), empty="Enter a customer reference above (or click an at-risk customer) to see one customer's prediction."),
        Table("display.segments", "RFM segments", (
            Column("segment_label", "Segment", link=Link("predictive:customer-behavior", query={"segment": "{segment}",
                                                                                                "store": "{store}"},
                                                         optional=("store",))),
            Column("customers", "Customers", "int"), Column("share", "Share", "pct"),
            Column("mean_p_alive", "Mean P(active)", "pct"), Column("expected_visits", "Expected visits", "num1"),
            Column("lifetime_value", "Lifetime value", "money0"), Column("total_spend", "Spent so far", "money0"),
        ), sheet="Segments"),
        Table("display.at_risk", "At-risk customers (came back before, probably gone), by past spend", (
            Column("external_ref", "Reference", link=Link("predictive:customer-behavior",
                                                          query={"customer": "{external_ref}", "store": "{store}"})),
            Column("name", "Name"), Column("store", "Store"), Column("visits", "Visits", "int"),
            Column("days_since_last_visit", "Days since last visit", "num1"), Column("total_spend", "Spent so far", "money"),
            Column("p_alive", "P(active)", "pct"), Column("segment_label", "Segment"),
        ), sheet="At risk", empty="No returning customer is below the at-risk threshold."),
        Table("display.calibration", "Holdout check by repeat visits before the holdout", (
            Column("repeat_visits_in_calibration", "Repeat visits before"), Column("customers", "Customers", "int"),
            Column("predicted_mean", "Predicted visits each", "num2"), Column("actual_mean", "Actual visits each", "num2"),
        ), sheet="Holdout check"),
        Table("display.parameters", "Fitted model parameters (time unit: weeks)", (
            Column("model", "Model"), Column("parameter", "Parameter"), Column("value", "Value", "num2"),
        ), sheet="Parameters"),
    )

    @classmethod
    def display_body(cls, body):
        store = _single_store(body)
        label = lambda s: humanize_key(s or "")  # noqa: E731
        segments = [{**s, "segment_label": label(s.get("segment")), "store": store} for s in body.get("segments") or []]
        at_risk = [{**c, "segment_label": label(c.get("segment")),
                    "label": f"{c.get('name') or c.get('external_ref')} ({c.get('external_ref')})"}
                   for c in (body.get("at_risk") or {}).get("top") or []]
        customer = body.get("customer")
        parameters = ((body.get("model") or {}).get("parameters") or {})
        parameter_rows = [{"model": "BG/NBD (repeat visits)", "parameter": k, "value": v} for k, v in (parameters.get("bgnbd") or {}).items()]
        parameter_rows += [{"model": "Gamma-Gamma (spend)", "parameter": k, "value": v}
                           for k, v in (parameters.get("gamma_gamma") or {}).items()]
        return {**body, "model": _readable_model(body.get("model")), "display": {
            "segments": segments, "at_risk": at_risk,
            "customer": [{**customer, "segment_label": label(customer.get("segment"))}] if customer else [],
            "calibration": (body.get("calibration") or {}).get("by_calibration_frequency") or [],
            "parameters": parameter_rows,
        }}

    def is_empty(self, body):
        return not (body.get("summary") or {}).get("customers")


# --- Business Metrics Tracker ----------------------------------------------------------------------


class BusinessMetricsPage(PredictivePage):
    api_view = BusinessMetricsForecastView
    slug, title = "business-metrics", "Business Metrics Tracker"
    intro = ("Revenue, gross margin, tickets and average ticket value by week or month: the recent history and the "
             "forecast with its prediction interval. Each series is backtested against seasonal naive (same week or month "
             "last year) and served by the better method. Click a point to see that metric with its longest history.")
    form_labels = {"horizon": "Periods ahead", "history": "Past periods shown", "metrics": "Metrics",
                   "interval": "Prediction interval"}
    insights = tuple(
        Insight(f"metrics.{m}.forecast.0.expected", f"{METRIC_LABELS[m]}, first forecast period", METRIC_FORMATS[m],
                model_path=f"metrics.{m}.model", lower_path=f"metrics.{m}.forecast.0.lower",
                upper_path=f"metrics.{m}.forecast.0.upper")
        for m in ds.BUSINESS_METRICS
    )
    kpis = tuple(
        Kpi(f"display.latest.{m}", f"{METRIC_LABELS[m]}, last full period", METRIC_FORMATS[m], note="from {}",
            note_path="display.latest.period_start", note_fmt="date")
        for m in ds.BUSINESS_METRICS
    )
    charts = tuple(
        Chart("timeseries", f"{METRIC_LABELS[m]} by period: actual and forecast", (
            Series(f"display.series.{m}.history", "period_start", "actual", "Actual", mode="lines+markers"),
            Series(f"display.series.{m}.forecast", "period_start", "expected", "Forecast", lower="lower", upper="upper",
                   band="{interval} % prediction interval"),
        ), y_fmt=METRIC_FORMATS[m], height=340,
            drill=Link("predictive:business-metrics", query={"metrics": "{metric}", "granularity": "{granularity}",
                                                              "history": "{longest_history}", "store": "{store}"},
                       optional=("store",)))
        for m in ds.BUSINESS_METRICS
    ) + (
        Chart.bar("display.backtest_rows", "metric_label", ["mase_prophet", "mase_seasonal_naive"],
                  "Backtest MASE by metric: Prophet against seasonal naive (lower is better)", y_fmt="num2",
                  drill=Link("predictive:business-metrics", query={"metrics": "{metric}", "granularity": "{granularity}",
                                                                    "store": "{store}"}, optional=("store",))),
    )
    optional_charts = tuple(f"{METRIC_LABELS[m]} by period: actual and forecast" for m in ds.BUSINESS_METRICS)
    tables = (
        Table("display.forecast_rows", "Forecast by period", (
            Column("period_start", "Period from", "date"),
            *[c for m in ds.BUSINESS_METRICS for c in (
                Column(m, f"{METRIC_LABELS[m]}", METRIC_FORMATS[m]), Column(f"{m}_lower", "low", METRIC_FORMATS[m]),
                Column(f"{m}_upper", "high", METRIC_FORMATS[m]))],
        ), sheet="Forecast"),
        Table("display.backtest_rows", "Backtest by metric", (
            Column("metric_label", "Metric", link=Link("predictive:business-metrics", query={
                "metrics": "{metric}", "granularity": "{granularity}", "store": "{store}"}, optional=("store",))),
            Column("method_label", "Served"), Column("mase", "MASE (served)", "num2"),
            Column("mase_prophet", "MASE Prophet", "num2"), Column("mase_seasonal_naive", "MASE seasonal naive", "num2"),
            Column("mape", "MAPE (%)", "num1"), Column("coverage_80", "Coverage 80 %", "pct"),
            Column("coverage_95", "Coverage 95 %", "pct"), Column("coverage_80_held_out", "Held-out 80 %", "pct"),
            Column("coverage_95_held_out", "Held-out 95 %", "pct"), Column("folds", "Folds", "int"),
            Column("version", "Version", "int"),
            Column("trained_at", "Trained", "datetime"),
        ), sheet="Backtest"),
        Table("display.history_rows", "Actual by period", (
            Column("period_start", "Period from", "date"),
            *[Column(m, METRIC_LABELS[m], METRIC_FORMATS[m]) for m in ds.BUSINESS_METRICS],
        ), sheet="History", pdf_rows=60),
    )

    @classmethod
    def display_body(cls, body):
        store = _single_store(body)
        granularity = body.get("granularity")
        longest = training.BUSINESS_SETTINGS.get(granularity, {}).get("history")
        interval = body.get("interval")
        metrics = body.get("metrics") or {}
        series, forecast_rows, history_rows, backtest_rows, flat = {}, {}, {}, [], {}
        for metric, answer in metrics.items():
            extra = {"metric": metric, "granularity": granularity, "longest_history": longest, "store": store}
            series[metric] = {"history": [{**p, **extra} for p in answer.get("history") or []],
                              "forecast": [{**p, **extra} for p in answer.get("forecast") or []]}
            for p in answer.get("forecast") or []:
                row = forecast_rows.setdefault(p["period_start"], {"period_start": p["period_start"]})
                row.update({metric: p["expected"], f"{metric}_lower": p["lower"], f"{metric}_upper": p["upper"]})
            for p in answer.get("history") or []:
                history_rows.setdefault(p["period_start"], {"period_start": p["period_start"]})[metric] = p["actual"]
            model = answer.get("model") or {}
            figures = model.get("backtest") or {}
            backtest_rows.append({
                "metric": metric, "metric_label": METRIC_LABELS.get(metric, humanize_key(metric)), "granularity": granularity,
                "store": store, "method_label": METHOD_LABELS.get(answer.get("method"), answer.get("method")),
                "version": model.get("version"), "trained_at": model.get("trained_at"),
                **{k: figures.get(k) for k in ("mase", "mase_prophet", "mase_seasonal_naive", "mape", "coverage_80",
                                              "coverage_95", "coverage_80_held_out", "coverage_95_held_out", "folds")},
            })
            label = METRIC_LABELS.get(metric, metric).lower().replace(" ", "_")
            flat.update({f"{label}_served": METHOD_LABELS.get(answer.get("method"), answer.get("method")),
                         f"{label}_mase": figures.get("mase"),
                         f"{label}_mase_seasonal_naive": figures.get("mase_seasonal_naive"),
                         f"{label}_coverage_{interval}": figures.get(f"coverage_{interval}")})
        history = sorted(history_rows.values(), key=lambda r: r["period_start"])
        latest = dict(history[-1]) if history else {}
        # The registry's model block holds one backtest per metric; the cover and the Excel summary show flat
        # figures, so they get the same numbers flattened by metric.
        model = {**(body.get("model") or {}), "backtest": flat}
        return {**body, "model": model, "display": {
            "series": series, "latest": latest, "backtest_rows": backtest_rows,
            "forecast_rows": sorted(forecast_rows.values(), key=lambda r: r["period_start"]), "history_rows": history,
        }}

    def is_empty(self, body):
        return not any((m.get("forecast") for m in (body.get("metrics") or {}).values()))


# --- Model Performance ---------------------------------------------------------------------------------


MODEL_TABLE_KINDS = (training.REPAIR_DEMAND, training.BUSINESS_METRICS, training.CUSTOMER_BEHAVIOR,
                     training.PARTS_DEMAND, training.REPAIR_COST)


def _model_columns(scope_link, *metrics):
    return (
        Column("scope_label", "Scope", link=scope_link), Column("version", "Version", "int"), Column("method", "Method served"),
        *metrics,
        Column("trained_at", "Trained", "datetime"), Column("data_start", "Data from", "date"), Column("data_end", "Data to", "date"),
        Column("n_observations", "Observations", "int"), Column("duration_seconds", "Training (s)", "num2"),
        Column("drift_status", "Drift"), Column("live_mase", "Live MASE", "num2"), Column("drift_days", "Live days", "int"),
        Column("backtest_trend", "Against previous version"),
    )


FORECAST_METRICS = (Column("mase", "MASE", "num2"), Column("mase_seasonal_naive", "MASE seasonal naive", "num2"),
                    Column("coverage_80", "Coverage 80 %", "pct"), Column("coverage_95", "Coverage 95 %", "pct"),
                    Column("coverage_80_held_out", "Held-out 80 %", "pct"),
                    Column("coverage_95_held_out", "Held-out 95 %", "pct"))


class ModelPerformancePage(PredictivePage):
    api_view = ModelPerformanceView
    method = "GET"
    slug, title = "model-performance", "Model Performance"
    intro = ("Every model in the registry: what it was trained on, how it scored in its backtest, how long it took, how "
             "its key metric moved between versions, and whether its live accuracy has drifted since (checked every 15 "
             "minutes against the tickets that arrived). Click a model for the forecast it serves.")
    form_labels = {"kind": "Model kind", "current_only": "Only the versions in use", "history": "Include earlier versions"}
    template_name = "predictive/model_performance.html"
    refresh_on = ("training_progress",)
    kpis = (
        Kpi("summary.models", "Models listed", "int"),
        Kpi("summary.drifting", "Drifting", "int", note="{} worse than their previous version", note_path="summary.degraded",
            note_fmt="int"),
        Kpi("summary.prophet_served_share", "Forecasts served by Prophet", "pct"),
        Kpi("training.finished_at", "Last training run", "datetime", note="{} s", note_path="training.duration_seconds",
            note_fmt="num1"),
    )
    charts = (
        Chart("bar", "Intake forecasts: backtest MASE, served method against seasonal naive", (
            Series("display.repair_demand", "scope_label", "mase", "Served"),
            Series("display.repair_demand", "scope_label", "mase_seasonal_naive", "Seasonal naive"),
        ), orientation="h", y_fmt="num2", height=380,
            drill=Link("predictive:repair-demand", query={"store": "{store}", "device_category": "{category}",
                                                          "repair_type": "{repair_type}"},
                       optional=("store", "device_category", "repair_type"))),
        Chart("bar", "Business metric forecasts: backtest MASE, served method against seasonal naive", (
            Series("display.business_metrics", "scope_label", "mase", "Served"),
            Series("display.business_metrics", "scope_label", "mase_seasonal_naive", "Seasonal naive"),
        ), orientation="h", y_fmt="num2", height=640,
            drill=Link("predictive:business-metrics", query={"store": "{store}", "granularity": "{granularity}",
                                                             "metrics": "{metric}"}, optional=("store",))),
        Chart("timeseries", "Intake forecasts: backtest MASE over versions", (
            Series("display.versions", "trained_at", "value", "MASE", mode="lines+markers", group="label"),
        ), y_fmt="num2", height=380, note="One point per trained version (lower is better); every model's earlier versions "
                                          "are in the table “Earlier versions”."),
        Chart.bar("display.timings", "kind_label", "seconds", "Last training run: seconds by model kind", label="Seconds",
                  y_fmt="num1", drill=Link("predictive:model-performance", query={"kind": "{kind}"})),
    )
    optional_charts = ("Intake forecasts: backtest MASE, served method against seasonal naive",
                       "Business metric forecasts: backtest MASE, served method against seasonal naive",
                       "Intake forecasts: backtest MASE over versions", "Last training run: seconds by model kind")
    tables = (
        Table("display.repair_demand", "Repair intake forecasts", _model_columns(
            Link("predictive:repair-demand", query={"store": "{store}", "device_category": "{category}",
                                                    "repair_type": "{repair_type}"},
                 optional=("store", "device_category", "repair_type")), *FORECAST_METRICS), sheet="Intake models",
              empty="No intake forecast model for these settings."),
        Table("display.business_metrics", "Business metric forecasts", _model_columns(
            Link("predictive:business-metrics", query={"store": "{store}", "granularity": "{granularity}", "metrics": "{metric}"},
                 optional=("store",)), *FORECAST_METRICS), sheet="Business models",
              empty="No business metric model for these settings."),
        Table("display.customer_behavior", "Customer models", _model_columns(
            Link("predictive:customer-behavior", query={"store": "{store}"}, optional=("store",)),
            Column("holdout_total_error_pct", "Holdout error (%)", "num1"), Column("holdout_correlation", "Holdout correlation", "num2"),
            Column("customers", "Customers", "int")), sheet="Customer models", empty="No customer model for these settings."),
        Table("display.parts_demand", "Parts demand model", _model_columns(
            Link("predictive:parts-demand"),
            Column("median_rmsse", "Median RMSSE", "num2"), Column("median_rmsse_moving_average", "RMSSE moving avg", "num2"),
            Column("share_beating_moving_average", "Beats moving avg", "pct"), Column("series", "Series", "int")),
              sheet="Parts model", empty="No parts demand model for these settings."),
        Table("display.repair_cost", "Repair cost model", _model_columns(
            Link("predictive:cost-optimization"),
            Column("mae", "MAE", "money"), Column("baseline_mae", "Baseline MAE", "money"), Column("r2", "R²", "num2")),
              sheet="Cost model", empty="No repair cost model for these settings."),
        Table("display.other", "Models of other apps", (
            Column("name", "Model"), Column("kind", "Kind"), *_model_columns(None)[:3], Column("key_value", "Key metric", "num2"),
            *_model_columns(None)[3:]), sheet="Other models", empty="No other app keeps a model in the registry yet."),
        Table("display.version_rows", "Earlier versions (metrics over time)", (
            Column("label", "Model"), Column("version", "Version", "int"), Column("status", "Status"), Column("method", "Method"),
            Column("trained_at", "Trained", "datetime"), Column("key_metric", "Key metric"), Column("value", "Value", "num2"),
            Column("duration_seconds", "Training (s)", "num2"),
        ), sheet="Versions", pdf_rows=40, empty="Tick “Include earlier versions” to list every version."),
    )
    empty_text = "No trained model matches these settings. Train the models (below) or clear the kind filter."

    @classmethod
    def display_body(cls, body):
        by_kind = {kind: [] for kind in MODEL_TABLE_KINDS}
        other, versions, version_rows = [], [], []
        for m in body.get("models") or []:
            drift = m.get("drift") or {}
            window = m.get("data_window") or {}
            label = f"{m.get('kind', '').replace('_', ' ')} · {_scope_label(m['scope'])}"
            row = {**m, **(m.get("backtest") or {}), **_scope_fields(m["scope"]), "scope_label": _scope_label(m["scope"]),
                   "label": label, "data_start": window.get("start"), "data_end": window.get("end"),
                   "drift_status": humanize_key(drift.get("status") or "not_checked"), "live_mase": drift.get("mase"),
                   "drift_days": drift.get("days"), "backtest_trend": drift.get("backtest_trend") or "",
                   "key_value": (m.get("backtest") or {}).get(m.get("key_metric"))}
            (by_kind[m["kind"]] if m["kind"] in by_kind else other).append(row)
            for v in m.get("history") or []:
                value = v.get(m.get("key_metric")) if m.get("key_metric") else None
                version_rows.append({**v, "label": label, "key_metric": humanize_key(m.get("key_metric") or ""), "value": value})
                if value is not None and v.get("status") == "ready" and m["kind"] == training.REPAIR_DEMAND:
                    versions.append({"label": _scope_label(m["scope"]), "trained_at": v["trained_at"], "value": value})
        timings = ((body.get("training") or {}).get("timings") or {})
        return {**body, "display": {
            **by_kind, "other": other, "versions": versions, "version_rows": version_rows,
            "timings": [{"kind": k, "kind_label": humanize_key(k), "seconds": v} for k, v in timings.items()
                        if k in training.KINDS],
        }}

    def is_empty(self, body):
        return not body.get("models")

    def context(self, request, data, result):
        context = super().context(request, data, result)
        body = result.body if result is not None and result.ok else {}
        running = body.get("training") if (body.get("training") or {}).get("status") == "running" else None
        recent = sorted(body.get("models") or [], key=lambda m: m.get("trained_at") or "", reverse=True)[:3]
        context.update({
            "can_train": has_capability(request.user, TRAIN_MODELS),
            "training_run": running,
            "recent_models": [{**m, "name": f"{m['name']} · {_scope_label(m['scope'])}"} for m in recent],
            "model_total": len(body.get("models") or []),
        })
        return context


@login_required
@require_POST
def train_models_now(request):
    """Queue a training run of every model kind (capability train_models); progress reaches the page live."""
    if not has_capability(request.user, TRAIN_MODELS):
        raise PermissionDenied("Your role does not include training the models.")
    try:
        services.start_training(request.user)
    except services.TrainingInProgress:
        messages.warning(request, "A training run is already in progress: its progress is shown below.")
    else:
        messages.success(request, "Training started. Progress is shown below; the figures refresh as each model lands.")
    target = request.POST.get("next", "")
    if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        target = reverse("predictive:model-performance")
    return HttpResponseRedirect(target)
