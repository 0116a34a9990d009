"""Request validation and (documented) response shapes of the six predictive endpoints."""
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inventory.models import PartCategory
from mlanalytics.core.api import StoreScopedRequest
from workflow.models import DeviceCategory, RepairType

from .. import datasets as ds
from .. import training
from ..ml.customers import RFM_SEGMENTS
from ..ml.parts import CONTINUOUS_CLASSES, INTERMITTENT_CLASSES

INTERVALS = [(80, "80 %"), (95, "95 %")]
DEMAND_CLASSES = [*CONTINUOUS_CLASSES, *INTERMITTENT_CLASSES, "none"]
OPPORTUNITY_KINDS = ["labour_time_technician", "labour_time_variability", "parts_above_cheapest_supplier"]
BUSINESS_LIMITS = {"week": {"horizon": (12, 26), "history": (26, 104)}, "month": {"horizon": (6, 12), "history": (12, 36)}}


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="RepairDemandForecast")  # the schema adds "Request"
class RepairDemandForecastRequest(StoreScopedRequest):
    horizon_days = serializers.IntegerField(min_value=7, max_value=90, default=28, help_text="Days ahead, 7 to 90.")
    device_category = serializers.ChoiceField(choices=DeviceCategory.choices, required=False, allow_blank=True,
                                              help_text="Only devices of this category.")
    repair_type = serializers.CharField(required=False, allow_blank=True, max_length=60,
                                        help_text="Only this repair type (its code, e.g. phone-screen).")
    history_days = serializers.IntegerField(min_value=0, max_value=365, default=56, help_text="Days of history to return for context.")
    interval = serializers.ChoiceField(choices=INTERVALS, default=80, help_text="Prediction interval, 80 or 95 %.")

    def validate_repair_type(self, value):
        if value and not RepairType.objects.filter(code=value).exists():
            raise serializers.ValidationError(f"Unknown repair type '{value}'.")
        return value or None

    def validate(self, attrs):
        category, code = attrs.get("device_category") or None, attrs.get("repair_type")
        if category and code:
            actual = RepairType.objects.filter(code=code).values_list("device_category", flat=True).first()
            if actual != category:
                raise serializers.ValidationError({"repair_type": [f"Repair type '{code}' is for {actual} devices, not {category}."]})
        attrs["device_category"] = category
        return attrs


@extend_schema_serializer(component_name="BusinessMetricsForecast")  # the schema adds "Request"
class BusinessMetricsForecastRequest(StoreScopedRequest):
    granularity = serializers.ChoiceField(choices=[("week", "Week"), ("month", "Month")], default="week")
    horizon = serializers.IntegerField(min_value=1, required=False,
                                       help_text="Periods ahead: up to 26 weeks (default 12) or 12 months (default 6).")
    history = serializers.IntegerField(min_value=0, required=False,
                                       help_text="Past periods to return: up to 104 weeks (default 26) or 36 months (default 12).")
    metrics = serializers.MultipleChoiceField(choices=ds.BUSINESS_METRICS, required=False,
                                              help_text="Which metrics (default: all four).")
    interval = serializers.ChoiceField(choices=INTERVALS, default=80)

    def validate(self, attrs):
        limits = BUSINESS_LIMITS[attrs["granularity"]]
        errors = {}
        for name in ("horizon", "history"):
            default, maximum = limits[name]
            value = attrs.get(name, default)
            if value > maximum:
                errors[name] = [f"At most {maximum} for granularity {attrs['granularity']}."]
            attrs[name] = value
        if errors:
            raise serializers.ValidationError(errors)
        chosen = attrs.get("metrics") or ds.BUSINESS_METRICS
        attrs["metrics"] = [m for m in ds.BUSINESS_METRICS if m in chosen]
        return attrs


@extend_schema_serializer(component_name="CustomerBehaviorPrediction")  # the schema adds "Request"
class CustomerBehaviorPredictionRequest(StoreScopedRequest):
    horizon_days = serializers.IntegerField(min_value=7, max_value=730, default=90,
                                            help_text="Horizon for expected visits, spend and lifetime value, 7 to 730 days.")
    at_risk_threshold = serializers.FloatField(min_value=0.01, max_value=0.99, default=0.5,
                                               help_text="A returning customer with P(alive) below this is at risk.")
    at_risk_limit = serializers.IntegerField(min_value=0, max_value=200, default=20, help_text="How many at-risk customers to list.")
    customer = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                     help_text="A customer's reference (external_ref) for their own prediction.")
    segment = serializers.ChoiceField(choices=[name for name, _ in RFM_SEGMENTS], required=False, allow_blank=True,
                                      help_text="Only customers of this RFM segment.")
    annual_discount_rate = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.1,
                                                  help_text="Discount rate for lifetime value, per year.")


@extend_schema_serializer(component_name="InventoryDemandPrediction")  # the schema adds "Request"
class InventoryDemandPredictionRequest(StoreScopedRequest):
    horizon_days = serializers.IntegerField(min_value=7, max_value=90, default=28, help_text="Days ahead, 7 to 90.")
    part = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="One part's SKU.")
    part_category = serializers.ChoiceField(choices=PartCategory.choices, required=False, allow_blank=True)
    demand_class = serializers.ChoiceField(choices=DEMAND_CLASSES, required=False, allow_blank=True,
                                           help_text="Only series of this Syntetos–Boylan class.")
    lead_time_days = serializers.IntegerField(min_value=0, max_value=120, required=False,
                                              help_text="Lead time for lead-time demand (default: the cheapest supplier's quoted lead time).")
    service_level = serializers.FloatField(min_value=0.5, max_value=0.999, required=False,
                                           help_text="Service level for the lead-time demand quantile (default: the part's own).")
    limit = serializers.IntegerField(min_value=1, max_value=2000, default=100)
    offset = serializers.IntegerField(min_value=0, default=0)


@extend_schema_serializer(component_name="CostOptimization")  # the schema adds "Request"
class CostOptimizationRequest(StoreScopedRequest):
    months = serializers.ChoiceField(choices=[(m, f"{m} months") for m in training.COST_WINDOWS_MONTHS], default=6,
                                     help_text="Look-back window: 3, 6 or 12 months.")
    min_monthly_saving = serializers.FloatField(min_value=0, default=0.0, help_text="Hide opportunities saving less than this a month (in the shop's currency, SHOP_CURRENCY).")
    kinds = serializers.MultipleChoiceField(choices=OPPORTUNITY_KINDS, required=False, help_text="Only these kinds of opportunity.")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


@extend_schema_serializer(component_name="ModelPerformance")  # the schema adds "Request"
class ModelPerformanceRequest(StoreScopedRequest):
    kind = serializers.ChoiceField(choices=training.KINDS, required=False, allow_blank=True, help_text="Only this model kind.")
    current_only = serializers.BooleanField(default=True, help_text="Only the versions requests are answered from.")
    history = serializers.BooleanField(default=True, help_text="Include each model's earlier versions (metrics over time).")


# ---------------------------------------------------------------------------------------------
# Responses (for the OpenAPI schema; the views return the selectors' dicts)
# ---------------------------------------------------------------------------------------------


class DataWindowSerializer(serializers.Serializer):
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)


class ModelBlockSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    scope = serializers.CharField(required=False)
    version = serializers.IntegerField()
    method = serializers.CharField(required=False, help_text="The method served, e.g. prophet or seasonal_naive.")
    trained_at = serializers.DateTimeField()
    data_window = DataWindowSerializer(required=False)
    backtest = serializers.DictField(
        help_text="Backtest metrics of the served model (MASE, coverage, holdout error, ...). Forecasts: "
                  "coverage_80/95 (cross-validated over the backtest windows) and coverage_80/95_held_out (the "
                  "latest window, its intervals calibrated on the earlier windows only), held_out_window "
                  "{start, end, points}, calibration_folds.")
    drift = serializers.CharField(required=False, help_text="ok, drift, waiting_for_data or not_checked.")
    stale = serializers.DictField(
        required=False, allow_null=True,
        help_text="null, or when the model's data ends more than PREDICTIVE_MAX_STALE_DAYS before its stores' data: "
                  "data_end (the stores' last complete day), days_behind and refit (queued or failed). The stale model "
                  "is served while a refit runs in the background. Business metrics: one entry per stale metric.")


class EnvelopeSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    data_window = serializers.DictField()
    model = ModelBlockSerializer()


class ForecastPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    expected = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class RepairDemandForecastResponse(EnvelopeSerializer):
    stores = serializers.ListField(child=serializers.CharField())
    horizon_days = serializers.IntegerField()
    interval = serializers.IntegerField()
    method = serializers.CharField()
    method_note = serializers.CharField(help_text="Says so when Prophet lost to the seasonal-naive baseline.")
    forecast = ForecastPointSerializer(many=True)
    history = serializers.ListField(child=serializers.DictField())
    weekly_pattern = serializers.DictField(allow_null=True)
    backtest = serializers.DictField(
        help_text="Both methods' rolling-origin backtests: MAE, MAPE, MASE, interval coverage (raw: "
                  "coverage_80_uncalibrated; served, cross-validated: coverage_80; on the latest held-out window: "
                  "coverage_80_held_out), and the held_out_window and number of calibration_folds of the served "
                  "method.")


class BusinessMetricsForecastResponse(EnvelopeSerializer):
    granularity = serializers.CharField()
    horizon = serializers.IntegerField()
    metrics = serializers.DictField(help_text="Per metric: model block, method, forecast (period_start, expected, lower, upper), history.")


class CustomerBehaviorPredictionResponse(EnvelopeSerializer):
    horizon_days = serializers.IntegerField()
    summary = serializers.DictField()
    segments = serializers.ListField(child=serializers.DictField())
    at_risk = serializers.DictField()
    calibration = serializers.DictField(help_text="Holdout check: predicted vs actual repeat visits.")
    customer = serializers.DictField(required=False)


class InventoryDemandPredictionResponse(EnvelopeSerializer):
    horizon_days = serializers.IntegerField()
    summary = serializers.DictField()
    count = serializers.IntegerField()
    defaults = serializers.DictField(help_text="Lead time and service level assumed (settings PREDICTIVE_DEFAULT_*) where a part has "
                                               "none of its own, and how many listed rows used them.")
    parts = serializers.ListField(child=serializers.DictField(),
                                  help_text="Per store and part; lead_time_source is request, supplier or default, "
                                            "service_level_source request, part or default.")


class CostOptimizationResponse(EnvelopeSerializer):
    months = serializers.IntegerField()
    summary = serializers.DictField()
    opportunities = serializers.ListField(child=serializers.DictField(),
                                          help_text="kind, store, subject, current and achievable monthly cost, saving with 90 % interval.")
    expected_cost_by_repair_type = serializers.ListField(child=serializers.DictField())
    labour_variability = serializers.ListField(child=serializers.DictField(),
                                               help_text="Labour-time spread by repair type over the requested stores' jobs.")
    supplier_qualification = serializers.DictField(
        allow_null=True, help_text="The thresholds a supplier's delivery record must meet to count as a cheaper alternative, "
                                   "each supplier's verdict (qualified, on its orders from every store) and its delivery "
                                   "figures (deliveries, on-time rate, defect rate) over the orders of `record_stores`: "
                                   "every store only when every store is requested, otherwise the requested stores'.")


class ModelPerformanceResponse(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    data_window = serializers.DictField()
    summary = serializers.DictField()
    training = serializers.DictField(allow_null=True)
    models = serializers.ListField(child=serializers.DictField())
