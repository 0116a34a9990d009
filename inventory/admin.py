from django.contrib import admin

from mlanalytics.core.admin import ViewOnlyMixin

from .models import (
    Part,
    PartDay,
    PartDayRefresh,
    StockPolicyRefresh,
    POReceipt,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderDecision,
    Stock,
    StockMovement,
    StockPolicy,
    StockReplay,
    StockReservation,
    Supplier,
    SupplierPrice,
)


@admin.register(Part)
class PartAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "device_model", "unit_cost", "price", "service_level", "min_order_qty", "pack_size", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("sku", "name", "device_model__model_name")
    list_select_related = ("device_model",)


class ReadOnlyAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Stock, its ledger and receipts change only through inventory.services."""


@admin.register(Stock)
class StockAdmin(ReadOnlyAdmin):
    """On hand changes only through the ledger (inventory.services.move_stock, adjust_stock for counts);
    min/max through the approve min/max action of the inventory pages."""

    list_display = ("part", "store", "on_hand", "reserved", "min_qty", "max_qty", "updated_at")
    list_filter = ("store", "part__category")
    search_fields = ("part__sku", "part__name")
    list_select_related = ("part", "store")


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    """The ledger is append-only, and only inventory.services appends to it."""

    list_display = ("at", "kind", "part", "store", "quantity", "balance_after", "ticket", "supplier")
    list_filter = ("kind", "store")
    search_fields = ("part__sku", "ticket__reference", "transfer_ref")
    date_hierarchy = "at"
    list_select_related = ("part", "store", "ticket", "supplier")
    raw_id_fields = ("ticket", "po_line")


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "quoted_lead_time_days", "order_cost", "monthly_capacity_units", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code", "email")


@admin.register(SupplierPrice)
class SupplierPriceAdmin(admin.ModelAdmin):
    list_display = ("supplier", "part", "unit_price", "min_order_qty", "pack_size", "lead_time_days")
    list_filter = ("supplier",)
    search_fields = ("part__sku", "supplier__name")
    list_select_related = ("supplier", "part")


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    raw_id_fields = ("part",)
    # Deliveries are booked by inventory.services.receive_po_line, which moves the stock with them.
    readonly_fields = ("quantity_received", "quantity_defective")


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "supplier", "store", "status", "ordered_at", "expected_at", "received_at", "source")
    list_filter = ("status", "supplier", "store", "source")
    search_fields = ("number",)
    date_hierarchy = "ordered_at"
    list_select_related = ("supplier", "store")
    inlines = [PurchaseOrderLineInline]


@admin.register(POReceipt)
class POReceiptAdmin(ReadOnlyAdmin):
    """A receipt is written with its stock movement by inventory.services.receive_po_line."""

    list_display = ("line", "received_at", "quantity", "defective")
    raw_id_fields = ("line",)
    date_hierarchy = "received_at"


@admin.register(ReorderDecision)
class ReorderDecisionAdmin(admin.ModelAdmin):
    list_display = ("part", "store", "action", "until", "quantity", "decided_by", "decided_at", "active")
    list_filter = ("action", "active", "store")
    search_fields = ("part__sku",)


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(admin.ModelAdmin):
    list_display = ("po", "part", "quantity", "unit_price", "quantity_received", "quantity_defective")
    search_fields = ("po__number", "part__sku")
    list_select_related = ("po", "part")
    raw_id_fields = ("po", "part")
    readonly_fields = ("quantity_received", "quantity_defective")  # booked by receive_po_line with the stock


@admin.register(StockPolicy)
class StockPolicyAdmin(admin.ModelAdmin):
    """The computed reorder policies (read-only: inventory.services.refresh_stock_policies writes them)."""

    list_display = ("part", "store", "demand_class", "daily_mean", "policy_method", "supplier", "lead_time_days",
                    "reorder_point", "safety_stock", "order_qty", "max_level", "service_level", "computed_at")
    list_filter = ("store", "demand_class", "policy_method", "supplier")
    search_fields = ("part__sku", "part__name")
    list_select_related = ("part", "store", "supplier")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PartDay)
class PartDayAdmin(admin.ModelAdmin):
    """The ledger's daily summary (read-only: inventory.services.refresh_part_days writes it)."""

    list_display = ("day", "part", "store", "needed", "waited", "consumed", "net", "closing_balance")
    list_filter = ("store",)
    search_fields = ("part__sku",)
    date_hierarchy = "day"
    list_select_related = ("part", "store")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PartDayRefresh)
class PartDayRefreshAdmin(admin.ModelAdmin):
    list_display = ("store", "refreshed_at", "first_day", "last_movement_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StockPolicyRefresh)
class StockPolicyRefreshAdmin(admin.ModelAdmin):
    list_display = ("store", "computed_at")
    readonly_fields = ("store", "computed_at", "forecast")


@admin.register(StockReservation)
class StockReservationAdmin(ReadOnlyAdmin):
    """Units held for open tickets: inventory.services keeps Stock.reserved equal to their sum."""

    list_display = ("ticket", "part", "store", "quantity", "updated_at")
    list_filter = ("store",)
    search_fields = ("part__sku", "ticket__reference")
    list_select_related = ("ticket", "part", "store")


@admin.register(StockReplay)
class StockReplayAdmin(ReadOnlyAdmin):
    """The stored cost-optimization replay per store (written by services.refresh_stock_replays)."""

    list_display = ("store", "computed_at", "start", "end", "days")
    exclude = ("summary",)
