"""Request validation of the inventory endpoints: every bad value is a 400 with the field named."""
from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlanalytics.core.api import StoreScopedRequest
from mlanalytics.core.strict_input import StrictJSONTypes

from ..ml.policy import STATUSES
from ..ml.suppliers import SCORE_METRICS
from ..models import PartCategory, ReorderDecision

SERVICE_LEVEL = {"min_value": 0.5, "max_value": 0.999, "required": False,
                 "help_text": "Cycle service level (0.5–0.999). Omit to use each part's own target."}


class SkuList(serializers.ListField):
    child = serializers.CharField(max_length=40)

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("help_text", "SKUs to include (default: all). An unknown SKU is a 404.")
        super().__init__(**kwargs)


class CommaSeparatedChoices(serializers.CharField):
    """A GET parameter like `status=low,critical`, validated against choices; blank means no filter. The schema
    states the same rule as a pattern."""

    def __init__(self, choices, **kwargs):
        self.allowed = tuple(choices)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)
        names = "|".join(self.allowed)
        extend_schema_field({"type": "string", "pattern": rf"^[\s,]*(?:(?:{names})\s*(?:,[\s,]*|$))*$"})(self)

    def to_internal_value(self, data):
        values = [v.strip() for v in super().to_internal_value(data).split(",") if v.strip()]
        unknown = [v for v in values if v not in self.allowed]
        if unknown:
            raise serializers.ValidationError(f"Unknown value(s) {', '.join(unknown)}; choose from {', '.join(self.allowed)}.")
        return values


class OverviewRequest(StoreScopedRequest):
    pass


class StockMonitoringRequest(StoreScopedRequest):
    status = CommaSeparatedChoices(STATUSES, required=False, help_text="Filter: one or more of ok, low, critical, out, over.")
    sku = serializers.CharField(required=False, max_length=40)
    category = serializers.ChoiceField(choices=PartCategory.choices, required=False)
    search = serializers.CharField(required=False, max_length=80, help_text="Text in the SKU or name.")
    ordering = serializers.ChoiceField(choices=["urgency", "sku", "days_of_cover", "value"], default="urgency")
    limit = serializers.IntegerField(min_value=1, max_value=5000, default=200)
    offset = serializers.IntegerField(min_value=0, default=0)


class DemandForecastRequest(StoreScopedRequest):
    skus = SkuList()
    category = serializers.ChoiceField(choices=PartCategory.choices, required=False)
    horizon_days = serializers.IntegerField(min_value=7, max_value=180, default=28)
    service_level = serializers.FloatField(**SERVICE_LEVEL)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=25)


class DecisionSerializer(StrictJSONTypes, serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    store = serializers.CharField(max_length=12, required=False, help_text="Store code; default: the request's store.")
    action = serializers.ChoiceField(choices=ReorderDecision.Action.choices)
    until = serializers.DateField(required=False, help_text="Snooze until this date (required for snooze).")
    quantity = serializers.IntegerField(min_value=1, max_value=100000, required=False)

    def validate(self, attrs):
        if attrs["action"] == ReorderDecision.Action.SNOOZE and not attrs.get("until"):
            raise serializers.ValidationError({"until": "A snooze needs a date."})
        return attrs


class ReorderSuggestionsRequest(StoreScopedRequest):
    skus = SkuList()
    category = serializers.ChoiceField(choices=PartCategory.choices, required=False)
    service_level = serializers.FloatField(**SERVICE_LEVEL)
    include_all = serializers.BooleanField(default=False, help_text="List every stocked part, not only those to reorder.")
    include_snoozed = serializers.BooleanField(default=False)
    create_draft_pos = serializers.BooleanField(
        default=False, help_text="Managers: put the purchase lines into draft purchase orders, one per store and supplier "
                                 "(idempotent: the same suggestions again change nothing).")
    decisions = serializers.ListField(child=DecisionSerializer(), required=False, max_length=200,
                                      help_text="Managers: order_once, snooze (with until) or approve_min_max per SKU and store.")
    limit = serializers.IntegerField(min_value=1, max_value=5000, default=200)


class WeightsField(serializers.DictField):
    child = serializers.FloatField(min_value=0, max_value=100)

    def to_internal_value(self, data):
        weights = super().to_internal_value(data)
        unknown = sorted(set(weights) - set(SCORE_METRICS))
        if unknown:
            raise serializers.ValidationError(f"Unknown criteria {', '.join(unknown)}; use {', '.join(SCORE_METRICS)}.")
        if weights and sum(weights.values()) <= 0:
            raise serializers.ValidationError("At least one weight must be positive.")
        return weights


class SupplyChainRequest(StoreScopedRequest):
    horizon_days = serializers.IntegerField(min_value=7, max_value=365, default=90)
    window_days = serializers.IntegerField(min_value=30, max_value=1095, default=365)
    weights = WeightsField(required=False, help_text=f"Ranking weights over {', '.join(SCORE_METRICS)}.")
    risk_aversion = serializers.FloatField(min_value=0, max_value=10, default=1.0)
    service_level = serializers.FloatField(**SERVICE_LEVEL)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class CostOptimizationRequest(StoreScopedRequest):
    service_level = serializers.FloatField(**SERVICE_LEVEL)
    replay_days = serializers.IntegerField(min_value=28, max_value=365, default=365)
    dead_stock_days = serializers.IntegerField(min_value=30, max_value=1095, required=False,
                                               help_text=f"Default {settings.INVENTORY_DEAD_STOCK_DAYS}.")
    limit = serializers.IntegerField(min_value=1, max_value=500, default=25)


class PerformanceRequest(StoreScopedRequest):
    window_days = serializers.IntegerField(min_value=30, max_value=730, default=365)


# --- Small action resources behind the dashboard's buttons (reorder decisions, stock-take, transfers) ---


class ReorderDecisionRequest(DecisionSerializer):
    store = serializers.CharField(max_length=12, help_text="Store code, e.g. LON1.")


class StockAdjustmentRequest(StrictJSONTypes, serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    store = serializers.CharField(max_length=12, help_text="Store code, e.g. LON1.")
    counted = serializers.IntegerField(min_value=0, max_value=1_000_000, help_text="The on-hand figure counted on the shelf.")
    reason = serializers.CharField(max_length=200, help_text="Why the figure changes (stock-take, damage, found ...).")


class StockTransferRequest(StrictJSONTypes, serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    from_store = serializers.CharField(max_length=12, help_text="The store that gives the units.")
    to_store = serializers.CharField(max_length=12, help_text="The store that receives them.")
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    reason = serializers.CharField(max_length=200, required=False, default="transfer before buying")
