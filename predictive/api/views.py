"""The six predictive endpoints: validate → resolve stores → answer from stored models (selectors)."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from mlanalytics.core.api import AnalyticsAPIView
from mlanalytics.core.openapi import error_response
from mlanalytics.core.roles import VIEW_PREDICTIVE
from mlanalytics.core.scoping import allowed_stores, sees_all_stores

from .. import selectors
from . import serializers as s

ERRORS = {
    400: error_response("Invalid parameters; the body names each field at fault."),
    403: error_response("Your role may not see predictive analytics, or the store is not yours."),
    404: error_response("Unknown store, part (SKU) or customer."),
    503: error_response("No model has been trained yet (run train_models)."),
}


def _schema(summary, request, response, request_example, response_example, method="POST"):
    examples = [OpenApiExample("Request", value=request_example, request_only=True),
                OpenApiExample("Response (abridged)", value=response_example, response_only=True, status_codes=["200"])]
    if method == "GET":
        return extend_schema(tags=["predictive-analytics"], summary=summary, parameters=[request],
                             responses={200: response, **ERRORS}, examples=examples[1:])
    return extend_schema(tags=["predictive-analytics"], summary=summary, request=request, responses={200: response, **ERRORS},
                         examples=examples)


MODEL_EXAMPLE = {"name": "Repair intake forecast (Prophet vs seasonal naive)", "kind": "repair_demand", "scope": "store=LON1",
                 "version": 3, "method": "prophet", "trained_at": "2026-11-25T02:15:40+00:00",
                 "backtest": {"mase": 0.77, "mase_seasonal_naive": 1.35, "coverage_80": 0.82, "coverage_95": 0.96,
                              "coverage_80_held_out": 0.79, "coverage_95_held_out": 0.96, "horizon": 28, "folds": 3},
                 "drift": "ok"}


ENVELOPE_EXAMPLE = {"generated_at": "2026-11-25T09:00:00Z", "data_window": {"start": "2023-11-25", "end": "2026-11-24"}}


def _model_example(**changes):
    return {**MODEL_EXAMPLE, "data_window": ENVELOPE_EXAMPLE["data_window"], **changes}


class PredictiveView(AnalyticsAPIView):
    """Base of the six endpoints: VIEW_PREDICTIVE; answers cached until a new model version becomes current."""

    capability = VIEW_PREDICTIVE
    cache_domains = ("models",)
    http_method_names = ["post", "options"]


@_schema("Daily repair intake forecast (Prophet with the shop's public holidays, or seasonal naive where it backtests better)",
         s.RepairDemandForecastRequest, s.RepairDemandForecastResponse,
         {"store": "LON1", "horizon_days": 28, "device_category": "phone", "interval": 80},
         {**ENVELOPE_EXAMPLE, "model": _model_example(),
          "method": "prophet", "forecast": [{"date": "2026-11-25", "expected": 21.4, "lower": 16.0, "upper": 27.1}],
          "weekly_pattern": {"Mon": 1.11, "Sat": 1.32, "Sun": 0.51}})
class RepairDemandForecastView(PredictiveView):
    """POST repair-demand-forecast — tickets received per day ahead, with the interval and the backtest against seasonal naive."""

    request_serializer = s.RepairDemandForecastRequest

    def compute(self, params, stores, request):
        return selectors.repair_demand_forecast(
            stores, horizon_days=params["horizon_days"], device_category=params.get("device_category"),
            repair_type=params.get("repair_type"), history_days=params["history_days"], interval=params["interval"])


@_schema("Revenue, gross margin, ticket count and average ticket value by week or month, with intervals and backtests",
         s.BusinessMetricsForecastRequest, s.BusinessMetricsForecastResponse,
         {"granularity": "month", "horizon": 6, "metrics": ["revenue", "gross_margin"]},
         {**ENVELOPE_EXAMPLE, "model": {"name": "Business metrics forecast (Prophet vs seasonal naive)", "kind": "business_metrics",
                                        "version": 3, "versions": {"revenue": 3, "gross_margin": 3},
                                        "trained_at": "2026-11-25T02:16:02+00:00",
                                        "backtest": {"revenue": {"served": "prophet", "mase": 0.23, "mase_seasonal_naive": 0.86}}},
          "granularity": "month", "metrics": {"revenue": {
             "model": _model_example(kind="business_metrics", scope="granularity=month|metric=revenue"), "method": "prophet",
             "forecast": [{"period_start": "2026-12-01", "expected": 181000.0, "lower": 169000.0, "upper": 193500.0}]}}})
class BusinessMetricsForecastView(PredictiveView):
    """POST business-metrics-forecast — revenue, gross margin, ticket count and average ticket value per week or month."""

    request_serializer = s.BusinessMetricsForecastRequest

    def compute(self, params, stores, request):
        return selectors.business_metrics_forecast(stores, granularity=params["granularity"], horizon=params["horizon"],
                                                   metrics=params["metrics"], history=params["history"], interval=params["interval"])


@_schema("BG/NBD + Gamma-Gamma: P(alive), expected visits and spend, lifetime value, RFM segments, at-risk customers",
         s.CustomerBehaviorPredictionRequest, s.CustomerBehaviorPredictionResponse,
         {"store": "LON1", "horizon_days": 180, "at_risk_threshold": 0.3, "at_risk_limit": 10},
         {**ENVELOPE_EXAMPLE, "summary": {"customers": 5412, "expected_visits": 1890.4, "lifetime_value": 201344.0},
          "model": _model_example(kind="customer_behavior", method="bgnbd+gamma_gamma", backtest={"holdout_total_error_pct": -9.1},
                                  parameters={"bgnbd": {"r": 0.76, "alpha": 13.1, "a": 0.83, "b": 2.64}})})
class CustomerBehaviorPredictionView(PredictiveView):
    """POST customer-behavior-prediction — BG/NBD and Gamma-Gamma predictions per customer, summaries and the holdout check."""

    request_serializer = s.CustomerBehaviorPredictionRequest
    cache_domains = ("models", "customers")

    def compute(self, params, stores, request):
        customer = self._customer(params.get("customer"), stores, request.user)
        return selectors.customer_behavior_prediction(
            stores, horizon_days=params["horizon_days"], at_risk_threshold=params["at_risk_threshold"],
            at_risk_limit=params["at_risk_limit"], customer=customer, segment=params.get("segment") or None,
            annual_discount_rate=params["annual_discount_rate"])

    @staticmethod
    def _customer(reference, stores, user):
        from workflow.models import Customer, RepairTicket

        if not reference:
            return None
        customer = Customer.objects.filter(external_ref=reference).first()
        if customer is None:
            raise NotFound(f"Unknown customer '{reference}'.")
        first = RepairTicket.objects.filter(customer=customer).order_by("received_at").values_list("store_id", flat=True).first()
        store_id = first or customer.home_store_id
        if not sees_all_stores(user) and not allowed_stores(user).filter(pk=store_id).exists():
            raise PermissionDenied("This customer belongs to a store you do not have access to.")
        if store_id not in {st.pk for st in stores}:
            raise ValidationError({"customer": ["This customer belongs to another store than the one requested."]})
        return customer


@_schema("Per-part demand: Syntetos–Boylan class, method chosen by backtest, quantiles and lead-time demand",
         s.InventoryDemandPredictionRequest, s.InventoryDemandPredictionResponse,
         {"store": "LON1", "horizon_days": 28, "demand_class": "intermittent", "limit": 20},
         {**ENVELOPE_EXAMPLE, "model": _model_example(kind="parts_demand", scope="all", method="per_series_by_backtest",
                                                      backtest={"median_rmsse": 0.69, "median_rmsse_moving_average": 0.72}),
          "count": 312, "defaults": {"lead_time_days": 7, "service_level": 0.95, "rows_with_default_lead_time": 0,
                                     "rows_with_default_service_level": 0},
          "parts": [{
             "store": "LON1", "sku": "PH-APPL-00012-POR", "demand_class": "intermittent", "method": "croston_sba", "daily_mean": 0.021,
             "horizon_demand": {"mean": 0.59, "quantiles": {"p50": 0, "p90": 2, "p95": 2}}, "lead_time_days": 3.0,
             "lead_time_source": "supplier", "service_level_source": "part"}]})
class InventoryDemandPredictionView(PredictiveView):
    """POST inventory-demand-prediction — per store and part: demand class, method, horizon and lead-time demand quantiles."""

    request_serializer = s.InventoryDemandPredictionRequest
    cache_domains = ("models", "catalogue")

    def compute(self, params, stores, request):
        from inventory.models import Part

        part = None
        if params.get("part"):
            part = Part.objects.filter(sku=params["part"]).first()
            if part is None:
                raise NotFound(f"Unknown part '{params['part']}'.")
        return selectors.inventory_demand_prediction(
            stores, horizon_days=params["horizon_days"], part=part, part_category=params.get("part_category") or None,
            demand_class=params.get("demand_class") or None, lead_time_days=params.get("lead_time_days"),
            service_level=params.get("service_level"), limit=params["limit"], offset=params["offset"])


@_schema("Where repair costs can fall: expected cost model, labour-time outliers, parts above the cheapest supplier",
         s.CostOptimizationRequest, s.CostOptimizationResponse,
         {"months": 6, "min_monthly_saving": 20},
         {**ENVELOPE_EXAMPLE, "data_window": {"start": "2026-05-25", "end": "2026-11-24", "months": 6},
          "model": _model_example(kind="repair_cost", scope="all", method="gradient_boosting",
                                  backtest={"mae": 4.25, "r2": 0.94, "baseline_mae": 9.06}),
          "summary": {"opportunities": 14, "monthly_saving": 2480.5}, "opportunities": [{
             "kind": "parts_above_cheapest_supplier", "store": "BRS1", "supplier": "primeparts-direct",
             "current_monthly_cost": 5980.0, "achievable_monthly_cost": 4548.2, "monthly_saving": 1431.8,
             "saving_interval_90": [1358.8, 1514.7],
             "evidence": {"cheapest_suppliers": [{"supplier": "thames-spares", "share_of_saving": 0.61, "on_time_rate": 0.88,
                                                  "defect_rate": 0.012, "deliveries": 113}]}}],
          "supplier_qualification": {"min_on_time_rate": 0.75, "max_defect_rate": 0.05, "min_deliveries": 5, "record_days": 365,
                                     "suppliers": [{"supplier": "quayside-components", "deliveries": 177, "on_time_rate": 0.011,
                                                    "defect_rate": 0.023, "qualified": False}]}})
class CostOptimizationView(PredictiveView):
    """POST cost-optimization — savings opportunities in labour and parts with bootstrap intervals, and the cost model's view."""

    request_serializer = s.CostOptimizationRequest

    def compute(self, params, stores, request):
        return selectors.cost_optimization(stores, months=params["months"], min_monthly_saving=params["min_monthly_saving"],
                                           kinds=sorted(params.get("kinds") or []), limit=params["limit"])


@_schema("The model registry: every trained model, data window, backtest metrics over time, training time, drift",
         s.ModelPerformanceRequest, s.ModelPerformanceResponse, {},
         {**ENVELOPE_EXAMPLE, "summary": {"models": 47, "drifting": 0}, "models": [{
             **MODEL_EXAMPLE, "duration_seconds": 1.2, "drift": {"status": "ok", "days": 21, "mase": 0.81},
             "history": [{"version": 2, "mase": 0.79}, {"version": 3, "mase": 0.77}]}]}, method="GET")
class ModelPerformanceView(PredictiveView):
    """GET model-performance — the model registry with backtests over versions, training times and drift status."""

    request_serializer = s.ModelPerformanceRequest
    http_method_names = ["get", "head", "options"]

    def compute(self, params, stores, request):
        store_filter = stores[0] if params.get("store") else None
        return selectors.model_performance(stores, sees_all_stores(request.user), kind=params.get("kind") or None,
                                           store_filter=store_filter, include_history=params["history"],
                                           current_only=params["current_only"])
