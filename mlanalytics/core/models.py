"""Shared models: the shop's branches, users with their role and store access, alerts, audit log."""
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


def default_opening_hours():
    """Typical high-street repair shop hours; keys are ISO weekday numbers as strings (1 = Monday)."""
    week = {str(d): ["09:00", "18:00"] for d in range(1, 6)}
    week["6"] = ["09:00", "17:30"]
    week["7"] = ["10:00", "16:00"]
    return week


def default_time_zone():
    """A new store keeps the shop's time (TIME_ZONE)."""
    return settings.TIME_ZONE


class Store(models.Model):
    """A branch of the business. Every ticket, stock row and alert belongs to one."""

    code = models.CharField(max_length=12, unique=True, help_text="Short code, e.g. LON1.")
    name = models.CharField(max_length=100)
    city = models.CharField(max_length=60, blank=True)
    timezone = models.CharField(max_length=40, default=default_time_zone)
    holiday_country = models.CharField(
        max_length=2, blank=True,
        help_text="Public holidays of this country (ISO code, e.g. DK) for this store's forecasts and working time; "
                  "blank: the shop's (SHOP_COUNTRY).",
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="Subdivision of that country's holidays, e.g. ENG or SCT for GB; may be blank.",
    )
    opening_hours = models.JSONField(
        default=default_opening_hours,
        help_text='{"1": ["09:00", "18:00"], ..., "7": null}; a missing or null day means closed.',
    )
    opened_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    def clean(self):
        from .shop import validate_region

        self.holiday_country = (self.holiday_country or "").upper()
        validate_region(self.holiday_country, self.holiday_subdivision)


class User(AbstractUser):
    """A person who logs in. Their role is their group; `stores` limits what data they see."""

    stores = models.ManyToManyField(Store, blank=True, related_name="users")
    all_stores = models.BooleanField(
        default=False, help_text="Sees every store (head office). Admins always do."
    )
    token_version = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="Tokens carry the version they were issued under; raising it ends every token issued before "
                  "(password changed or reset, account deactivated). Written only by core.accounts.revoke_tokens().",
    )

    class Meta:
        permissions = [
            ("view_predictive", "View predictive analytics"),
            ("view_inventory", "View inventory management"),
            ("view_workflow", "View workflow automation"),
            ("manage_purchasing", "Create draft purchase orders, order once, snooze, approve min/max"),
            ("apply_allocation", "Apply technician assignments"),
            ("manage_rules", "Create and switch automation rules"),
            ("send_messages", "Send customer messages"),
            ("record_qa", "Record QA inspections"),
            ("acknowledge_alerts", "Acknowledge, snooze and resolve alerts"),
            ("download_reports", "Download PDF and Excel reports"),
            ("subscribe_reports", "Subscribe to scheduled reports"),
            ("train_models", "Start model training"),
            ("import_data", "Import CSV data"),
        ]

    @property
    def role(self):
        from .roles import role_of

        return role_of(self)

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._loaded_is_active = user.__dict__.get("is_active")
        return user

    def save(self, *args, **kwargs):
        """Saving a new password (`set_password`) or deactivating the account ends every token issued before.
        A save of a loaded user never writes `token_version`: a stale copy must not put back an older one."""
        credentials_changed = not self._state.adding and (
            self._password is not None or (getattr(self, "_loaded_is_active", None) is True and not self.is_active))
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            skipped = self.get_deferred_fields() | {"token_version"}
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields
                                       if not f.primary_key and f.attname not in skipped and f.name not in skipped]
        super().save(*args, **kwargs)
        self._loaded_is_active = self.is_active
        if credentials_changed:
            # accounts imports this module (it writes token_version and the token blacklist): import at call time.
            from .accounts import revoke_tokens

            revoke_tokens(user=self)


class Alert(models.Model):
    """A condition someone should act on. One open alert per dedup key (firing or acknowledged)."""

    class Kind(models.TextChoices):
        STOCKOUT_RISK = "stockout_risk", "Projected stockout within lead time"
        SLA_RISK = "sla_risk", "SLA at risk"
        QA_OUT_OF_CONTROL = "qa_out_of_control", "QA out of control"
        INTAKE_ABOVE_FORECAST = "intake_above_forecast", "Intake above forecast"
        MODEL_DRIFT = "model_drift", "Model accuracy drift"
        ASSIGNMENT = "assignment", "New assignment"
        RULE = "rule", "Automation rule"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class State(models.TextChoices):
        FIRING = "firing", "Firing"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    subject_type = models.CharField(max_length=32, blank=True, help_text="part, ticket, technician, model ...")
    subject_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=200, db_index=True)
    audience_roles = models.JSONField(default=list, blank=True, help_text="Roles that receive it, e.g. [\"manager\", \"staff\"].")
    state = models.CharField(max_length=14, choices=State.choices, default=State.FIRING)
    fired_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Null while held back by the store's mute timing (closed hours); set when it went out live.
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"], condition=~Q(state="resolved"), name="one_open_alert_per_key"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "state", "fired_at"]),
            models.Index(fields=["kind", "state"]),
        ]

    def __str__(self):
        return f"[{self.state}] {self.title}"


class AuditLogEntry(models.Model):
    """Who changed what, when. Written by `core.audit.record()` from services, never edited."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit log entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.action} {self.object_type} {self.object_id}"


class DemoDataset(models.Model):
    """One generated demo data set and the truth planted in it, so tests can compare models to it."""

    created_at = models.DateTimeField(auto_now_add=True)
    seed = models.IntegerField()
    scale = models.CharField(max_length=12)
    start_date = models.DateField()
    end_date = models.DateField()
    row_counts = models.JSONField(default=dict)
    truth = models.JSONField(default=dict)
    duration_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self):
        return f"demo seed={self.seed} scale={self.scale} {self.start_date}..{self.end_date}"


class ReportSubscription(models.Model):
    """A stakeholder's standing order for a dashboard view as a PDF or Excel file by email."""

    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly (Mondays)"
        MONTHLY = "monthly", "Monthly (the 1st)"

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        XLSX = "xlsx", "Excel"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    view = models.CharField(max_length=80, help_text="URL name of the dashboard page, e.g. inventory:stock-monitor.")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                              help_text="Empty: every store the subscriber may see.")
    params = models.JSONField(default=dict, blank=True, help_text="Page parameters other than the store.")
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.WEEKLY)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.PDF)
    skip_when_empty = models.BooleanField(default=True, help_text="Send nothing when the report has no rows.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, help_text="Last time it was sent or skipped.")
    last_status = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["user_id", "view"]
        constraints = [
            models.UniqueConstraint(fields=["user", "view", "store", "period", "format"], name="one_subscription_per_report"),
        ]

    def __str__(self):
        return f"{self.user} {self.view} {self.store.code if self.store_id else 'all'} {self.period} {self.format}"


class ImportJob(models.Model):
    """A file uploaded on the import page (mlanalytics/imports/views.py), kept server-side so the file
    imported is exactly the file checked: the page refers to it by its token, never by a second upload.
    It carries the report of its dry run and of its import (ImportResult.as_dict())."""

    class Status(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked"
        APPLYING = "applying", "Importing"
        APPLIED = "applied", "Imported"
        FAILED = "failed", "Not imported"

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    entity = models.CharField(max_length=40, help_text="The importer, e.g. parts or ords.")
    encoding = models.CharField(max_length=20, default="utf-8")
    options = models.JSONField(default=dict, blank=True, help_text="The importer's options, e.g. the ORDS store.")
    file_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField(editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CHECKING, db_index=True)
    check_report = models.JSONField(null=True, blank=True, help_text="The dry run's report.")
    apply_report = models.JSONField(null=True, blank=True, help_text="The import's report.")
    failure = models.TextField(blank=True, help_text="An unexpected error, when one stopped the job.")
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.entity} {self.file_name} ({self.status})"
