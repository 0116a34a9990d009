"""The seven inventory endpoints: validate → scope → compute (cached per data version) → respond."""
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied

from mlanalytics.core.api import AnalyticsAPIView
from mlanalytics.core.roles import MANAGE_PURCHASING, VIEW_INVENTORY, has_capability
from mlanalytics.core.scoping import allowed_store_ids, resolve_store

from .. import results, services
from ..models import Part, Supplier
from . import serializers as s

DOMAINS = ("stock", "purchasing", "models")
RESPONSES = {
    200: OpenApiResponse(OpenApiTypes.OBJECT, description="generated_at, data_window, model (forecast-based answers) "
                                                           "and the figures; see docs/inventory.md."),
    400: OpenApiResponse(description="Invalid parameters; the body names each field at fault."),
    403: OpenApiResponse(description="Your role may not do this, or the store is not yours."),
    404: OpenApiResponse(description="Unknown store or SKU."),
}


def documented(summary, request, method):
    if method == "GET":
        return extend_schema(tags=["inventory-management"], summary=summary, parameters=[request], responses=RESPONSES)
    return extend_schema(tags=["inventory-management"], summary=summary, request=request, responses=RESPONSES)


class InventoryView(AnalyticsAPIView):
    capability = VIEW_INVENTORY
    cache_domains = DOMAINS


class InventoryGetView(InventoryView):
    http_method_names = ["get", "head", "options"]


class InventoryPostView(InventoryView):
    http_method_names = ["post", "options"]


@documented("Active SKUs, stock value, status counts, open POs, turnover, days of cover, top alerts", s.OverviewRequest, "GET")
class OverviewView(InventoryGetView):
    """GET overview: active SKUs, stock value, status counts, open POs, turnover, days of cover, top alerts."""

    request_serializer = s.OverviewRequest
    cache_domains = DOMAINS + ("alerts",)

    def compute(self, params, stores, request):
        return results.overview(stores)


@documented("Every SKU per store: stock, reorder point, status, days of cover, projected stockout", s.StockMonitoringRequest, "GET")
class StockMonitoringView(InventoryGetView):
    """GET stock-monitoring: every SKU per store with on hand, reserved, available, reorder point,
    status (ok / low / critical / out / over), days of cover and projected stockout date."""

    request_serializer = s.StockMonitoringRequest

    def compute(self, params, stores, request):
        return results.stock_monitoring(stores, status=params.get("status"), sku=params.get("sku"),
                                        category=params.get("category"), search=params.get("search"),
                                        ordering=params["ordering"], limit=params["limit"], offset=params["offset"])


@documented("Demand over lead time + review period and the projected stock path per SKU and store", s.DemandForecastRequest, "POST")
class DemandForecastView(InventoryPostView):
    """POST demand-forecast: demand over lead time + review period and the projected stock path."""

    request_serializer = s.DemandForecastRequest

    def compute(self, params, stores, request):
        return results.demand_forecast(stores, skus=params.get("skus"), category=params.get("category"),
                                       horizon_days=params["horizon_days"], service_level=params.get("service_level"),
                                       limit=params["limit"])


@documented("Reorder point, EOQ, supplier, urgency, transfers; managers: decisions and idempotent draft POs", s.ReorderSuggestionsRequest, "POST")
class ReorderSuggestionsView(InventoryPostView):
    """POST reorder-suggestions: reorder point, order quantity, supplier, urgency, transfers. Managers may
    record decisions (order once, snooze, approve min/max) and create draft purchase orders."""

    request_serializer = s.ReorderSuggestionsRequest

    def validate(self, request, data):
        params = super().validate(request, data)
        if (params["create_draft_pos"] or params.get("decisions")) and not has_capability(request.user, MANAGE_PURCHASING):
            raise PermissionDenied("Only managers may create purchase orders or act on suggestions.")
        # Transfers are proposed from any store the user may see, so the cached answer is per scope.
        params["scope"] = sorted(allowed_store_ids(request.user))
        return params

    def is_cacheable(self, params):
        return not params["create_draft_pos"] and not params.get("decisions")

    def compute(self, params, stores, request):
        recorded = self._record_decisions(params, stores, request) if params.get("decisions") else []
        body, lines = results.reorder_suggestions(
            stores, params["scope"], skus=params.get("skus"), category=params.get("category"),
            service_level=params.get("service_level"), include_all=params["include_all"],
            include_snoozed=params["include_snoozed"], limit=params["limit"])
        if recorded:
            body["decisions"] = recorded
        if params["create_draft_pos"]:
            body["draft_purchase_orders"] = self._create_drafts(lines, request.user)
        return body

    @staticmethod
    def _record_decisions(params, stores, request):
        from ..selectors import current_policies

        recorded = []
        with transaction.atomic():
            for item in params["decisions"]:
                code = item.get("store") or params.get("store")
                if not code:
                    if len(stores) != 1:
                        raise s.serializers.ValidationError({"decisions": ["Each decision needs a store when the request has none."]})
                    store = stores[0]
                else:
                    store = resolve_store(request.user, code)
                part = Part.objects.filter(sku__iexact=item["sku"].strip()).first()
                if part is None:
                    raise NotFound(f"Unknown SKU: {item['sku']}.")
                proposal = None
                if item["action"] == "approve_min_max":
                    policy = current_policies([store.pk], params.get("service_level"), part_ids=[part.pk])
                    if len(policy):
                        proposal = {"reorder_point": int(policy.reorder_point.iloc[0]), "max_level": int(policy.max_level.iloc[0])}
                decision = services.record_reorder_decision(
                    part=part, store=store, action=item["action"], user=request.user, until=item.get("until"),
                    quantity=item.get("quantity"), proposal=proposal)
                recorded.append({"id": decision.pk, "sku": part.sku, "store": store.code, "action": decision.action,
                                 "until": decision.until.isoformat() if decision.until else None,
                                 "quantity": decision.quantity, **({"approved": proposal} if proposal else {})})
        return recorded

    @staticmethod
    def _create_drafts(lines, user):
        from mlanalytics.core.models import Store

        stores = {st.pk: st for st in Store.objects.filter(pk__in={line["store_id"] for line in lines})}
        suppliers = {sp.pk: sp for sp in Supplier.objects.filter(pk__in={line["supplier_id"] for line in lines})}
        parts = {p.pk: p for p in Part.objects.filter(pk__in={line["part_id"] for line in lines})}
        made = services.create_draft_purchase_orders(
            [{**line, "store": stores[line["store_id"]], "supplier": suppliers[line["supplier_id"]], "part": parts[line["part_id"]]}
             for line in lines], user=user)
        return [{
            "number": d["purchase_order"].number, "store": d["purchase_order"].store.code,
            "supplier": d["purchase_order"].supplier.code, "status": d["purchase_order"].status, "created": d["created"],
            "lines": [{"sku": o["line"].part.sku, "quantity": o["line"].quantity, "unit_price": float(o["line"].unit_price),
                       "action": o["action"]} for o in d["lines"]],
            "value": round(sum(float(o["line"].unit_price) * o["line"].quantity for o in d["lines"]), 2),
        } for d in made]


@documented("Supplier scorecards, weighted ranking and the least-cost allocation (MILP) with its saving", s.SupplyChainRequest, "POST")
class SupplyChainOptimizationView(InventoryPostView):
    """POST supply-chain-optimization: supplier scorecards, weighted ranking, least-cost allocation."""

    request_serializer = s.SupplyChainRequest

    def compute(self, params, stores, request):
        return results.supply_chain_optimization(
            stores, horizon_days=params["horizon_days"], window_days=params["window_days"], weights=params.get("weights"),
            risk_aversion=params["risk_aversion"], service_level=params.get("service_level"), limit=params["limit"])


@documented("Yearly inventory cost today vs the recommended policy by replay; dead and excess stock", s.CostOptimizationRequest, "POST")
class CostOptimizationView(InventoryPostView):
    """POST cost-optimization: yearly cost today vs the recommended policy by replay; dead and excess stock."""

    request_serializer = s.CostOptimizationRequest

    def compute(self, params, stores, request):
        return results.cost_optimization(stores, service_level=params.get("service_level"), replay_days=params["replay_days"],
                                         dead_stock_days=params.get("dead_stock_days"), limit=params["limit"])


@documented("Turnover, GMROI, fill rate, stockout days, ABC × XYZ, supplier OTIF, PO cycle time", s.PerformanceRequest, "GET")
class PerformanceAnalyticsView(InventoryGetView):
    """GET performance-analytics: turnover, GMROI, fill rate, stockout days, ABC × XYZ, OTIF, PO cycle time."""

    request_serializer = s.PerformanceRequest

    def compute(self, params, stores, request):
        return results.performance_analytics(stores, window_days=params["window_days"])
