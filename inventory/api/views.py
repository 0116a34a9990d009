"""The seven inventory endpoints: validate → scope → compute (cached per data version) → respond; and the
small action resources the dashboard's buttons call (reorder decisions, stock-take, transfers)."""
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from mlanalytics.core.api import AnalyticsAPIView, HasCapability
from mlanalytics.core.openapi import error_response
from mlanalytics.core.roles import MANAGE_PURCHASING, VIEW_INVENTORY, has_capability
from mlanalytics.core.scoping import allowed_store_ids, resolve_store

from .. import results, services
from ..errors import UnknownPart
from ..models import Part, Stock, Supplier
from . import serializers as s

DOMAINS = ("stock", "purchasing", "models")
RESPONSES = {
    200: OpenApiResponse(OpenApiTypes.OBJECT, description="generated_at, data_window, model (forecast-based answers) "
                                                           "and the figures; see docs/inventory.md."),
    400: error_response("Invalid parameters; the body names each field at fault."),
    403: error_response("Your role may not do this, or the store is not yours."),
    404: error_response("Unknown store or SKU."),
    503: error_response("Not ready yet: no demand model trained, or a store's cost replay still being computed."),
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
        # Resolved once: the suggestions and the drafts' scope are the same parts.
        part_ids = results.resolve_parts(params.get("skus"), params.get("category"))
        body, lines = results.reorder_suggestions(
            stores, params["scope"], skus=params.get("skus"), category=params.get("category"),
            service_level=params.get("service_level"), include_all=params["include_all"],
            include_snoozed=params["include_snoozed"], limit=params["limit"], part_ids=part_ids)
        if recorded:
            body["decisions"] = recorded
        if params["create_draft_pos"]:
            body["draft_purchase_orders"] = self._create_drafts(lines, request.user, stores, part_ids)
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
                    raise UnknownPart(f"Unknown SKU: {item['sku']}.")
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
    def _create_drafts(lines, user, scope_stores, part_ids):
        """Draft purchase orders from the suggestion lines; lines of the stores' open reorder drafts for
        parts in the request's scope (`part_ids`, None = all) that are no longer suggested are removed."""
        from mlanalytics.core.models import Store

        stores = {st.pk: st for st in Store.objects.filter(pk__in={line["store_id"] for line in lines})}
        suppliers = {sp.pk: sp for sp in Supplier.objects.filter(pk__in={line["supplier_id"] for line in lines})}
        parts = {p.pk: p for p in Part.objects.filter(pk__in={line["part_id"] for line in lines})}
        made = services.create_draft_purchase_orders(
            [{**line, "store": stores[line["store_id"]], "supplier": suppliers[line["supplier_id"]], "part": parts[line["part_id"]]}
             for line in lines], user=user, stores=scope_stores, part_ids=part_ids)
        return [{
            "number": d["purchase_order"].number, "store": d["purchase_order"].store.code,
            "supplier": d["purchase_order"].supplier.code, "status": "deleted" if d["deleted"] else d["purchase_order"].status,
            "created": d["created"],
            "lines": [{"sku": o["line"].part.sku, "quantity": o["line"].quantity, "unit_price": float(o["line"].unit_price),
                       "action": o["action"]} for o in d["lines"]],
            "removed_lines": [{"sku": line.part.sku, "quantity": line.quantity} for line in d["removed"]],
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


# --- Small action resources behind the dashboard's buttons ---------------------------------------------------


class InventoryActionView(APIView):
    """Base of the one-job POST resources the pages' buttons call (session + CSRF, or JWT): validate the
    body, check the stores, act through inventory.services, answer 201 with what changed."""

    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = MANAGE_PURCHASING
    http_method_names = ["post", "options"]
    request_serializer = None

    def post(self, request, *args, **kwargs):
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self.act(dict(serializer.validated_data), request), status=201)

    def act(self, params, request):
        raise NotImplementedError

    @staticmethod
    def part_of(sku):
        part = Part.objects.filter(sku__iexact=sku.strip()).first()
        if part is None:
            raise UnknownPart(f"Unknown SKU: {sku}.")
        return part

    @staticmethod
    def stock_of(part, store):
        stock = Stock.objects.select_related("part", "store").filter(part=part, store=store).first()
        return services.stock_event_payload(stock) if stock else {"sku": part.sku, "store": store.code, "on_hand": 0}


ACTION_RESPONSES = {201: OpenApiResponse(OpenApiTypes.OBJECT, description="What was recorded or moved."),
                    **{code: RESPONSES[code] for code in (400, 403, 404)},
                    409: error_response("Not enough stock to move.")}


@extend_schema(tags=["inventory-management"], summary="Record a reorder decision (order once, snooze, approve min/max)",
               request=s.ReorderDecisionRequest, responses=ACTION_RESPONSES)
class ReorderDecisionView(InventoryActionView):
    """POST reorder-decisions: one manager decision on one suggestion, the same as a `decisions` item of
    reorder-suggestions (order_once, snooze with `until`, approve_min_max)."""

    request_serializer = s.ReorderDecisionRequest

    def act(self, params, request):
        store = resolve_store(request.user, params["store"])
        return ReorderSuggestionsView._record_decisions({"decisions": [params], "store": store.code}, [store], request)[0]


@extend_schema(tags=["inventory-management"], summary="Set a part's on-hand at a store to a counted figure (stock-take)",
               request=s.StockAdjustmentRequest, responses=ACTION_RESPONSES)
class StockAdjustmentView(InventoryActionView):
    """POST stock-adjustments: set on-hand to the counted figure through an adjustment movement
    (`services.adjust_stock`: ledger entry, audit, live "stock" event, stockout alert check)."""

    request_serializer = s.StockAdjustmentRequest

    def act(self, params, request):
        store = resolve_store(request.user, params["store"])
        part = self.part_of(params["sku"])
        movement = services.adjust_stock(part, store, params["counted"], user=request.user, reason=params["reason"])
        return {**self.stock_of(part, store), "changed": movement is not None,
                "movement": movement.quantity if movement else 0}


@extend_schema(tags=["inventory-management"], summary="Transfer units of a part from one branch to another",
               request=s.StockTransferRequest, responses=ACTION_RESPONSES)
class StockTransferView(InventoryActionView):
    """POST stock-transfers: move units between two of the user's stores (`services.transfer_stock`:
    two ledger movements sharing a reference, one transaction)."""

    request_serializer = s.StockTransferRequest

    def act(self, params, request):
        from_store = resolve_store(request.user, params["from_store"])
        to_store = resolve_store(request.user, params["to_store"])
        part = self.part_of(params["sku"])
        services.transfer_stock(part, from_store, to_store, params["quantity"], user=request.user, reason=params["reason"])
        return {"sku": part.sku, "quantity": params["quantity"],
                "from_store": self.stock_of(part, from_store), "to_store": self.stock_of(part, to_store)}
