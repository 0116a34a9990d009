"""The repair side of the shop: customers, devices, the service catalogue, technicians, tickets,
their status history, QA inspections, customer messages and automation rules."""
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from mlanalytics.core.models import Store


class DeviceCategory(models.TextChoices):
    PHONE = "phone", "Phone"
    TABLET = "tablet", "Tablet"
    LAPTOP = "laptop", "Laptop"
    CONSOLE = "console", "Console"
    WATCH = "watch", "Watch"
    OTHER = "other", "Other"


class Customer(models.Model):
    """A person who brings devices in, with consent flags for each channel and purpose."""

    external_ref = models.CharField(max_length=64, unique=True, help_text="Stable id from the source system.")
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    home_store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    consent_email_service = models.BooleanField(default=True)
    consent_sms_service = models.BooleanField(default=True)
    consent_email_marketing = models.BooleanField(default=False)
    consent_sms_marketing = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["phone"])]

    def __str__(self):
        return self.name


class DeviceModel(models.Model):
    """A make and model of device, e.g. phone / Apple / iPhone 13."""

    category = models.CharField(max_length=10, choices=DeviceCategory.choices, db_index=True)
    brand = models.CharField(max_length=60)
    model_name = models.CharField(max_length=120)
    released_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["category", "brand", "model_name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "brand", "model_name"], name="unique_device_model"),
        ]

    def __str__(self):
        return f"{self.brand} {self.model_name}"


class Skill(models.Model):
    """A technician skill that a repair type may require, e.g. micro-soldering."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class RepairType(models.Model):
    """An entry of the service catalogue: what is done, for which category, how long, for how much."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    device_category = models.CharField(max_length=10, choices=DeviceCategory.choices, db_index=True)
    standard_labour_minutes = models.PositiveIntegerField()
    list_price = models.DecimalField(max_digits=9, decimal_places=2)
    required_skills = models.ManyToManyField(Skill, blank=True, related_name="repair_types")
    sla_hours = models.PositiveIntegerField(default=72, help_text="Promise to the customer from intake to ready.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["device_category", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="repair_type_price_non_negative"),
            models.CheckConstraint(condition=Q(standard_labour_minutes__gt=0), name="repair_type_minutes_positive"),
        ]

    def __str__(self):
        return self.name


class RepairTypePart(models.Model):
    """Bill of parts: a part a repair type uses, for one device model or (device_model empty) for all."""

    repair_type = models.ForeignKey(RepairType, on_delete=models.CASCADE, related_name="bill_of_parts")
    device_model = models.ForeignKey(DeviceModel, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    part = models.ForeignKey("inventory.Part", on_delete=models.PROTECT, related_name="used_in")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repair_type", "device_model", "part"], name="unique_bill_line"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="bill_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.repair_type} × {self.part}"


def default_shift_minutes():
    """Minutes on shift per ISO weekday ("1" = Monday)."""
    return {"1": 480, "2": 480, "3": 480, "4": 480, "5": 480, "6": 0, "7": 0}


class Technician(models.Model):
    """A person who repairs devices at one store."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="technician"
    )
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="technicians")
    skills = models.ManyToManyField(Skill, blank=True, related_name="technicians")
    hourly_cost = models.DecimalField(max_digits=7, decimal_places=2)
    shift_minutes = models.JSONField(default=default_shift_minutes)
    is_active = models.BooleanField(default=True)
    hired_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["store__code", "name"]
        constraints = [models.CheckConstraint(condition=Q(hourly_cost__gte=0), name="technician_cost_non_negative")]

    def __str__(self):
        return self.name


class TicketStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    DIAGNOSING = "diagnosing", "Diagnosing"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    AWAITING_PARTS = "awaiting_parts", "Awaiting parts"
    IN_REPAIR = "in_repair", "In repair"
    QUALITY_CHECK = "quality_check", "Quality check"
    READY = "ready", "Ready for collection"
    COLLECTED = "collected", "Collected"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (
    TicketStatus.RECEIVED,
    TicketStatus.DIAGNOSING,
    TicketStatus.AWAITING_APPROVAL,
    TicketStatus.AWAITING_PARTS,
    TicketStatus.IN_REPAIR,
    TicketStatus.QUALITY_CHECK,
)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class RepairOutcome(models.TextChoices):
    NONE = "", "Not yet known"
    FIXED = "fixed", "Fixed"
    REPAIRABLE = "repairable", "Repairable (not finished)"
    END_OF_LIFE = "end_of_life", "End of life"
    UNKNOWN = "unknown", "Unknown"


class RepairTicket(models.Model):
    """One device brought in for one repair, from intake to collection."""

    class Source(models.TextChoices):
        APP = "app", "Entered in the app"
        DEMO = "demo", "Demo data"
        IMPORT = "import", "CSV import"
        ORDS = "ords", "Open Repair Data import"

    reference = models.CharField(max_length=40, unique=True)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="tickets")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets")
    device_model = models.ForeignKey(DeviceModel, on_delete=models.PROTECT, related_name="tickets")
    repair_type = models.ForeignKey(RepairType, on_delete=models.PROTECT, related_name="tickets")
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    technician = models.ForeignKey(Technician, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    status = models.CharField(max_length=20, choices=TicketStatus.choices, default=TicketStatus.RECEIVED)
    outcome = models.CharField(max_length=12, choices=RepairOutcome.choices, default="", blank=True)
    received_at = models.DateTimeField()
    promised_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When it became ready (or was closed).")
    collected_at = models.DateTimeField(null=True, blank=True)
    quoted_price = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    final_price = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    labour_minutes = models.PositiveIntegerField(null=True, blank=True)
    parts_cost = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    warranty_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="comebacks",
        help_text="The earlier ticket this one is a warranty comeback of.",
    )
    fault_description = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.APP)
    source_group = models.CharField(max_length=120, blank=True, help_text="Provider group/event for imported records.")
    # Triage output of the rules engine (workflow automation).
    predicted_minutes = models.PositiveIntegerField(null=True, blank=True)
    predicted_completion_at = models.DateTimeField(null=True, blank=True)
    priority_score = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["store", "received_at"]),
            models.Index(fields=["store", "status"]),
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["technician", "completed_at"]),
            models.Index(fields=["repair_type", "received_at"]),
            models.Index(fields=["customer", "received_at"]),
            models.Index(fields=["completed_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quoted_price__gte=0) | Q(quoted_price__isnull=True), name="ticket_quote_non_negative"),
            models.CheckConstraint(condition=Q(final_price__gte=0) | Q(final_price__isnull=True), name="ticket_price_non_negative"),
            models.CheckConstraint(condition=Q(parts_cost__gte=0), name="ticket_parts_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_at__gte=F("received_at")),
                name="ticket_completed_after_received",
            ),
            models.CheckConstraint(
                condition=Q(collected_at__isnull=True) | Q(collected_at__gte=F("received_at")),
                name="ticket_collected_after_received",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES


class TicketStatusEvent(models.Model):
    """One transition of a ticket's status: the history the process analytics read."""

    ticket = models.ForeignKey(RepairTicket, on_delete=models.CASCADE, related_name="status_events")
    from_status = models.CharField(max_length=20, choices=TicketStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=TicketStatus.choices)
    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["ticket_id", "at", "id"]
        indexes = [models.Index(fields=["ticket", "at"]), models.Index(fields=["to_status", "at"])]

    def __str__(self):
        return f"{self.ticket_id}: {self.from_status or '∅'} → {self.to_status}"


class QAInspection(models.Model):
    """The quality check of a finished repair."""

    ticket = models.ForeignKey(RepairTicket, on_delete=models.CASCADE, related_name="qa_inspections")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    inspected_at = models.DateTimeField(db_index=True)
    passed = models.BooleanField()
    checklist = models.JSONField(default=dict, blank=True, help_text='{"screen_touch": true, "face_id": false, ...}')
    defects = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-inspected_at"]

    def __str__(self):
        return f"QA {self.ticket_id} {'pass' if self.passed else 'fail'}"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageTemplate(models.Model):
    """A customer message for a ticket event and channel, written in Django template syntax."""

    class Purpose(models.TextChoices):
        SERVICE = "service", "Service"
        MARKETING = "marketing", "Marketing"

    code = models.SlugField(max_length=60, unique=True)
    event = models.CharField(max_length=40, db_index=True, help_text="e.g. ticket_received, status_ready, quote_approval")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SERVICE)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["event", "channel"]

    def __str__(self):
        return self.code


class OutboxMessage(models.Model):
    """A customer message queued, sent or refused, with its delivery attempts."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        # Handed to a backend that only keeps it (file/console mail, the SMS outbox double): nobody received it.
        RECORDED = "recorded", "Recorded only (no real delivery configured)"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Failed permanently"
        SUPPRESSED = "suppressed", "Not sent (consent or quiet hours)"

    ticket = models.ForeignKey(RepairTicket, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=40, blank=True, db_index=True, help_text="The template event it was sent for.")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    to_address = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    dedup_key = models.CharField(max_length=200, unique=True, help_text="Same message for the same event is sent once.")
    provider_id = models.CharField(max_length=120, blank=True)
    error = models.TextField(blank=True, help_text="The last delivery error (or why it was suppressed).")
    delivery_log = models.JSONField(default=list, blank=True, help_text='Every attempt: [{"attempt", "at", "result", "error"}].')
    attempts = models.PositiveIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Held until then (quiet hours or retry backoff).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.channel} to {self.to_address} [{self.status}]"


class AutomationRule(models.Model):
    """When <trigger> happens and <conditions> hold for the ticket, do <actions>.

    Conditions and actions are declarative JSON validated by the rules engine; nothing is evaluated
    as code.
    """

    class Trigger(models.TextChoices):
        TICKET_CREATED = "ticket_created", "Ticket created"
        STATUS_CHANGED = "status_changed", "Status changed"
        TICKET_IDLE = "ticket_idle", "Ticket idle for N hours"
        SLA_AT_RISK = "sla_at_risk", "SLA at risk"
        PARTS_RECEIVED = "parts_received", "Parts received"
        QA_FAILED = "qa_failed", "QA failed"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    trigger_params = models.JSONField(default=dict, blank=True, help_text='e.g. {"hours": 24} for ticket_idle')
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: every store.")
    enabled = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.name


class RuleRun(models.Model):
    """The log of one rule evaluated against one ticket."""

    class Source(models.TextChoices):
        EVENT = "event", "The trigger happened"
        SCHEDULE = "schedule", "Periodic check (idle, SLA at risk)"
        MANUAL = "manual", "Run on demand"

    rule = models.ForeignKey(AutomationRule, null=True, on_delete=models.SET_NULL, related_name="runs")
    ticket = models.ForeignKey(RepairTicket, null=True, blank=True, on_delete=models.CASCADE, related_name="rule_runs")
    trigger = models.CharField(max_length=20)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.EVENT)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="Who ran it on demand.")
    dry_run = models.BooleanField(default=False)
    matched = models.BooleanField()
    actions = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["rule", "ticket", "trigger", "at"])]
