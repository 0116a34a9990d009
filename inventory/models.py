"""Parts, stock and purchasing. Stock per part per store is kept equal to the sum of its
append-only movement ledger by `inventory.services.move_stock()`, the only writer of both."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from mlanalytics.core.formatting import format_value
from mlanalytics.core.models import Store


class PartCategory(models.TextChoices):
    SCREEN = "screen", "Screen"
    BATTERY = "battery", "Battery"
    PORT = "port", "Charging / data port"
    CAMERA = "camera", "Camera"
    BACK_GLASS = "back_glass", "Back glass / housing"
    KEYBOARD = "keyboard", "Keyboard"
    STORAGE = "storage", "Storage"
    BOARD = "board", "Board / chip"
    DRIVE = "drive", "Disc drive / fan"
    CONSUMABLE = "consumable", "Consumable"
    OTHER = "other", "Other"


class Part(models.Model):
    """A stock-keeping unit with its costs and reorder settings."""

    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=160)
    category = models.CharField(max_length=12, choices=PartCategory.choices, db_index=True)
    device_model = models.ForeignKey(
        "workflow.DeviceModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="parts",
        help_text="The model this part fits; empty for generic parts.",
    )
    unit_cost = models.DecimalField(max_digits=9, decimal_places=2, help_text="Standard cost, GBP.")
    price = models.DecimalField(max_digits=9, decimal_places=2, help_text="Price charged when sold on, GBP.")
    service_level = models.DecimalField(
        max_digits=4, decimal_places=3, default=0.95, help_text="Target cycle service level for safety stock."
    )
    min_order_qty = models.PositiveIntegerField(default=1)
    pack_size = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="part_cost_non_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="part_price_non_negative"),
            models.CheckConstraint(condition=Q(service_level__gt=0) & Q(service_level__lt=1), name="part_service_level_open_unit"),
            models.CheckConstraint(condition=Q(min_order_qty__gte=1), name="part_moq_positive"),
            models.CheckConstraint(condition=Q(pack_size__gte=1), name="part_pack_positive"),
        ]

    def __str__(self):
        return f"{self.sku} {self.name}"


class Stock(models.Model):
    """How many of a part a store holds. Written only with a ledger movement (services.move_stock)."""

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="stock")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(
        default=0, help_text="Held for open tickets whose parts are committed (Σ of their StockReservation rows); may "
                             "exceed on hand, the excess being back-ordered for repairs waiting for parts.")
    # Approved min/max (a manager's one-click approval of the proposed policy); empty = use the computed one.
    min_qty = models.PositiveIntegerField(null=True, blank=True)
    max_qty = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["part", "store"], name="unique_stock_row"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_non_negative"),
        ]
        indexes = [models.Index(fields=["store", "part"])]

    def __str__(self):
        return f"{self.part.sku}@{self.store.code}: {self.on_hand}"

    @property
    def available(self):
        return max(self.on_hand - self.reserved, 0)


class Supplier(models.Model):
    """A parts supplier with its quoted terms."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    quoted_lead_time_days = models.PositiveIntegerField(default=3)
    order_cost = models.DecimalField(
        max_digits=8, decimal_places=2, default=15, help_text="Fixed cost of placing and receiving one order, GBP."
    )
    monthly_capacity_units = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SupplierPrice(models.Model):
    """A supplier's price-list line for a part: a supplier with a line is qualified for the part."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="prices")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="supplier_prices")
    unit_price = models.DecimalField(max_digits=9, decimal_places=2)
    min_order_qty = models.PositiveIntegerField(default=1)
    pack_size = models.PositiveIntegerField(default=1)
    lead_time_days = models.PositiveIntegerField()
    valid_from = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["supplier", "part"], name="unique_supplier_price"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="supplier_price_non_negative"),
            models.CheckConstraint(condition=Q(min_order_qty__gte=1) & Q(pack_size__gte=1), name="supplier_moq_pack_positive"),
        ]

    def __str__(self):
        return f"{self.supplier.code} {self.part.sku} {format_value(self.unit_price, 'money')}"


class PurchaseOrder(models.Model):
    """An order to one supplier for one store."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ORDERED = "ordered", "Ordered"
        PARTIAL = "partial", "Partly received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=40, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    expected_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True, help_text="When the last line was received in full.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, default="manual")
    # Reorder suggestions create drafts idempotently: one open draft per key.
    idempotency_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["store", "ordered_at"]),
            models.Index(fields=["supplier", "ordered_at"]),
        ]

    def __str__(self):
        return self.number


class PurchaseOrderLine(models.Model):
    po = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="po_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=9, decimal_places=2)
    quantity_received = models.PositiveIntegerField(default=0)
    quantity_defective = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="po_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="po_line_price_non_negative"),
            models.UniqueConstraint(fields=["po", "part"], name="unique_po_part"),
        ]
        indexes = [models.Index(fields=["part"])]

    def __str__(self):
        return f"{self.po.number} {self.part.sku} × {self.quantity}"


class POReceipt(models.Model):
    """A delivery against a PO line: how many arrived and how many were defective."""

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="receipts")
    received_at = models.DateTimeField(db_index=True)
    quantity = models.PositiveIntegerField()
    defective = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(defective__lte=models.F("quantity")), name="receipt_defective_le_quantity")]


class StockMovement(models.Model):
    """One entry of the append-only stock ledger. quantity is signed: + into the store, − out."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "Receipt from supplier"
        CONSUMPTION = "consumption", "Consumed by a repair"
        ADJUSTMENT = "adjustment", "Stock-take adjustment"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        TRANSFER_IN = "transfer_in", "Transfer in"
        RETURN = "return", "Return"

    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="movements")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="stock_movements")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    quantity = models.IntegerField()
    balance_after = models.IntegerField()
    unit_cost = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    at = models.DateTimeField()
    ticket = models.ForeignKey("workflow.RepairTicket", null=True, blank=True, on_delete=models.SET_NULL, related_name="part_movements")
    po_line = models.ForeignKey(PurchaseOrderLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="movements")
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="Supplier of the units moved (for consumption: of the lot in use).")
    transfer_ref = models.CharField(max_length=40, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["part", "store", "at"]),
            models.Index(fields=["store", "at"]),
            models.Index(fields=["kind", "at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_non_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="movement_balance_non_negative"),
        ]

    def __str__(self):
        return f"{self.kind} {self.quantity:+d} {self.part_id}@{self.store_id}"


class ReorderDecision(models.Model):
    """A manager's answer to a reorder suggestion, remembered per part and store."""

    class Action(models.TextChoices):
        ORDER_ONCE = "order_once", "Order once (do not change the policy)"
        SNOOZE = "snooze", "Snooze until a date"
        APPROVE_MIN_MAX = "approve_min_max", "Approve proposed min/max"

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="reorder_decisions")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="reorder_decisions")
    action = models.CharField(max_length=16, choices=Action.choices)
    until = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)
    # An order-once decision is used up when it lands in a draft purchase order.
    purchase_order = models.ForeignKey(PurchaseOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["part", "store", "active"])]
        constraints = [
            # A new answer replaces the active one (services.record_reorder_decision); the database holds to it.
            models.UniqueConstraint(fields=["part", "store"], condition=Q(active=True, action__in=["snooze", "order_once"]),
                                    name="one_active_snooze_or_order_once"),
            models.UniqueConstraint(fields=["part", "store"], condition=Q(active=True, action="approve_min_max"),
                                    name="one_active_min_max_approval"),
        ]


class StockPolicy(models.Model):
    """The proposed reorder policy of a part at a store, with the forecast and supplier figures it came
    from. Computed by `inventory.services.refresh_stock_policies()` (periodically, after model training,
    and on first use), so the stock monitor and live status read it without recomputing a forecast."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="stock_policies")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="stock_policies")
    computed_at = models.DateTimeField(db_index=True)
    # The parts-demand forecast (predictive.selectors.parts_demand_forecast) it was computed from.
    demand_class = models.CharField(max_length=12, default="none")
    forecast_method = models.CharField(max_length=60, blank=True)
    daily_mean = models.FloatField(default=0)
    daily_sd = models.FloatField(default=0)
    adi = models.FloatField(null=True, blank=True)
    cv2 = models.FloatField(null=True, blank=True)
    forecast_backtest = models.JSONField(default=dict, blank=True)
    model_version = models.CharField(max_length=40, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    # The policy.
    service_level = models.FloatField()
    policy_method = models.CharField(max_length=20)
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    unit_price = models.FloatField(default=0)
    lead_time_days = models.FloatField(default=0, help_text="Mean delivered lead time of the chosen supplier.")
    lead_time_sd = models.FloatField(default=0)
    review_days = models.FloatField(default=1)
    protection_demand = models.FloatField(default=0, help_text="Expected demand over lead time + review period.")
    protection_sd = models.FloatField(default=0)
    safety_stock = models.FloatField(default=0)
    reorder_point = models.IntegerField(default=0)
    order_qty = models.IntegerField(default=0)
    eoq = models.FloatField(default=0)
    max_level = models.IntegerField(default=0, help_text="Reorder point + order quantity.")
    annual_cost = models.FloatField(default=0, help_text="Yearly total relevant cost with the chosen supplier, GBP.")
    lead_time_source = models.CharField(
        max_length=24, default="delivered",
        help_text="delivered (the supplier's deliveries), quoted (fewer than 3 deliveries), typical_of_suppliers (no "
                  "supplier lists the part) or setting (no supplier on record: INVENTORY_FALLBACK_LEAD_TIME_DAYS).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "part"], name="unique_stock_policy")]
        indexes = [models.Index(fields=["store", "part"])]
        verbose_name_plural = "stock policies"

    def __str__(self):
        return f"{self.part_id}@{self.store_id}: s={self.reorder_point} Q={self.order_qty}"


class PartDay(models.Model):
    """One day of one part at one store, summarised from the ledger (`services.refresh_part_days`):
    units needed (dated when a repair needed them — the start of its awaiting_parts wait, if any),
    units that waited, units consumed, the net movement and the closing balance. Only days with a
    movement or a demand have a row. The replay, performance figures and dead-stock check read this
    instead of scanning the ledger on every request."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    needed = models.PositiveIntegerField(default=0)
    waited = models.PositiveIntegerField(default=0)
    consumed = models.PositiveIntegerField(default=0)
    consumed_cost = models.FloatField(default=0, help_text="Cost of the units consumed, at the cost booked on each movement (GBP).")
    net = models.IntegerField(default=0, help_text="Signed sum of the day's movements.")
    closing_balance = models.IntegerField(null=True, blank=True, help_text="Balance after the day's last movement; empty without one.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "part", "day"], name="unique_part_day")]
        indexes = [models.Index(fields=["store", "day"])]


class PartDayRefresh(models.Model):
    """How far the PartDay summary of a store is built, and when it was last brought up to date."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="+")
    refreshed_at = models.DateTimeField()
    first_day = models.DateField(null=True, blank=True)
    last_movement_id = models.BigIntegerField(default=0, help_text="Ledger movements up to this id are summarised.")


class StockPolicyRefresh(models.Model):
    """When a store's reorder policies were last computed, and a summary of the forecast they came from
    (methods and series counts, model version, training time, backtest medians) for the `model` block."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()
    forecast = models.JSONField(default=dict, blank=True)


class StockReservation(models.Model):
    """Units of a part held at a store for one open repair ticket: reserved when the ticket's parts are
    committed (it enters awaiting_parts or in_repair), released as they are consumed or when the ticket
    is cancelled or finished. Written only by `inventory.services` (reserve_ticket_parts,
    release_ticket_parts, consume_for_ticket), which keep Stock.reserved equal to the sum of these rows."""

    ticket = models.ForeignKey("workflow.RepairTicket", on_delete=models.CASCADE, related_name="part_reservations")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="reservations")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(help_text="Units still held (released units are gone from the row).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "part"], name="unique_ticket_part_reservation"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
        ]
        indexes = [models.Index(fields=["part", "store"])]

    def __str__(self):
        return f"{self.ticket_id}: {self.part_id}@{self.store_id} × {self.quantity}"


class StockReplay(models.Model):
    """The cost-optimization replay of a store (the last 365 days through today's ordering, the
    recommended policy and its out-of-sample twin) at each part's own service level, stored by
    `services.refresh_stock_replays()` with the policy refresh so requests add stores up instead of
    replaying a year of demand. `summary` holds `selectors.store_replay_summaries()` of the store (with the
    out-of-sample policy at each of `selectors.REPLAY_SERVICE_LEVELS` under `service_levels`)."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()
    start = models.DateField()
    end = models.DateField()
    days = models.PositiveIntegerField()
    summary = models.JSONField(default=dict)
