"""Request validation and response shapes of the workflow API."""
from rest_framework import serializers

from mlanalytics.core.api import StoreScopedRequest
from mlanalytics.core.models import Store

from ..models import (
    AutomationRule, Channel, MessageTemplate, OutboxMessage, QAInspection, RuleRun, Skill, TicketStatus,
)
from ..rules import RuleValidationError, describe, validate_rule

OPEN = [s for s in TicketStatus.values if s not in (TicketStatus.READY, TicketStatus.COLLECTED, TicketStatus.CANCELLED)]


# -- rules ------------------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", queryset=Store.objects.all(), allow_null=True, required=False,
                                         help_text="Store code; empty for a rule of every store.")
    trigger_params = serializers.JSONField(required=False, help_text='e.g. {"hours": 24} for ticket_idle, {"to": ["ready"]} for status_changed')
    conditions = serializers.JSONField(required=False, help_text='e.g. {"all": [{"field": "priority", "op": "in", "value": ["high", "urgent"]}]}')
    actions = serializers.JSONField(help_text='e.g. [{"type": "send_message", "event": "ready_for_collection"}]')
    condition_text = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AutomationRule
        fields = ["id", "name", "description", "trigger", "trigger_params", "conditions", "condition_text", "actions", "store",
                  "enabled", "order", "created_by", "created_at", "updated_at"]
        read_only_fields = ["created_by", "created_at", "updated_at"]

    def get_condition_text(self, rule) -> str:
        return describe(rule.conditions or {})

    def validate(self, attrs):
        instance = self.instance
        merged = {
            "trigger": attrs.get("trigger", getattr(instance, "trigger", None)),
            "trigger_params": attrs.get("trigger_params", getattr(instance, "trigger_params", None)) or {},
            "conditions": attrs.get("conditions", getattr(instance, "conditions", None)) or {},
            "actions": attrs.get("actions", getattr(instance, "actions", None)),
        }
        try:
            validate_rule(merged["trigger"], merged["trigger_params"], merged["conditions"], merged["actions"])
        except RuleValidationError as exc:
            raise serializers.ValidationError(exc.errors)
        return attrs


class RuleRunSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", default=None, read_only=True)
    ticket = serializers.CharField(source="ticket.reference", default=None, read_only=True)
    user = serializers.CharField(source="user.username", default=None, read_only=True)

    class Meta:
        model = RuleRun
        fields = ["id", "at", "rule", "rule_name", "ticket", "trigger", "source", "dry_run", "matched", "actions", "error", "user"]


# -- messages ---------------------------------------------------------------------------------------


class MessageTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = ["id", "code", "event", "channel", "purpose", "subject", "body", "is_active"]

    def validate(self, attrs):
        from django.template import Engine, TemplateSyntaxError

        engine = Engine(autoescape=False)
        for field in ("subject", "body"):
            text = attrs.get(field, getattr(self.instance, field, "") if self.instance else "")
            try:
                engine.from_string(text or "")
            except TemplateSyntaxError as exc:
                raise serializers.ValidationError({field: [f"Not a valid template: {exc}"]})
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        subject = attrs.get("subject", getattr(self.instance, "subject", "") if self.instance else "")
        if channel == Channel.EMAIL and not (subject or "").strip():
            raise serializers.ValidationError({"subject": ["An email template needs a subject."]})
        return attrs


class TemplatePreviewRequest(serializers.Serializer):
    ticket = serializers.CharField(required=False, help_text="Ticket reference to render for (default: your most recent ticket).")


class DraftPreviewRequest(TemplatePreviewRequest):
    subject = serializers.CharField(required=False, allow_blank=True, default="")
    body = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.EMAIL)


class OutboxMessageSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", default=None, read_only=True)
    customer = serializers.CharField(source="customer.name", default=None, read_only=True)
    template = serializers.CharField(source="template.code", default=None, read_only=True)

    class Meta:
        model = OutboxMessage
        fields = ["id", "ticket", "customer", "template", "event", "channel", "to_address", "subject", "body", "status",
                  "error", "attempts", "not_before", "provider_id", "created_at", "sent_at"]


# -- QA ---------------------------------------------------------------------------------------------


class QAInspectionSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", read_only=True)
    inspector = serializers.CharField(source="inspector.username", default=None, read_only=True)
    technician = serializers.CharField(source="ticket.technician.code", default=None, read_only=True)
    ticket_status = serializers.CharField(source="ticket.status", read_only=True)

    class Meta:
        model = QAInspection
        fields = ["id", "ticket", "ticket_status", "technician", "inspector", "inspected_at", "passed", "checklist", "defects", "notes"]


class QAInspectionCreate(serializers.Serializer):
    ticket = serializers.CharField(help_text="Reference of a ticket in quality_check.")
    passed = serializers.BooleanField()
    checklist = serializers.DictField(child=serializers.BooleanField(), required=False, default=dict,
                                      help_text='{"display_touch": true, "charging": false, ...}')
    defects = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list, max_length=50)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)

    def validate(self, attrs):
        if attrs["passed"] and attrs["defects"]:
            raise serializers.ValidationError({"defects": ["A passed inspection has no defects; record it as failed."]})
        if not attrs["passed"] and not attrs["defects"] and all(attrs["checklist"].values() or [True]):
            raise serializers.ValidationError({"defects": ["Say what failed: list the defects or the failed checklist items."]})
        return attrs


# -- the seven endpoints ------------------------------------------------------------------------------


class RepairAutomationRequest(StoreScopedRequest):
    tickets = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=500,
                                    help_text="Ticket references; default: every open ticket of the store(s).")
    statuses = serializers.ListField(child=serializers.ChoiceField(choices=OPEN), required=False, help_text="Only open tickets in these statuses.")
    triggers = serializers.ListField(child=serializers.ChoiceField(choices=AutomationRule.Trigger.choices), required=False,
                                     default=["ticket_idle", "sla_at_risk"],
                                     help_text="Rules of these triggers are evaluated (default: the time triggers).")
    rules = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, help_text="Only these rule ids.")
    dry_run = serializers.BooleanField(default=True, help_text="Only report what would be done (the default).")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=200)


class CustomerCommunicationRequest(StoreScopedRequest):
    event = serializers.CharField(max_length=40, help_text="Template event, e.g. ready_for_collection, awaiting_approval, sla_delay.")
    ticket = serializers.CharField(required=False, max_length=40, help_text="One ticket reference.")
    statuses = serializers.ListField(child=serializers.ChoiceField(choices=TicketStatus.choices), required=False,
                                     help_text="A batch: tickets in these statuses (default: the status the event announces).")
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices), required=False)
    mode = serializers.ChoiceField(choices=[("preview", "preview"), ("send", "send")], default="preview")
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)

    def validate_event(self, value):
        events = sorted(set(MessageTemplate.objects.filter(is_active=True).values_list("event", flat=True)))
        if value not in events:
            raise serializers.ValidationError(f"No active template for '{value}'. Events with templates: {', '.join(events) or 'none'}.")
        return value

    def validate(self, attrs):
        from ..messaging import EVENT_STATUS

        if not attrs.get("ticket") and not attrs.get("statuses") and attrs["event"] not in EVENT_STATUS:
            raise serializers.ValidationError({"statuses": [f"'{attrs['event']}' is not tied to a status: give a ticket or statuses."]})
        return attrs


class QualityAssuranceRequest(StoreScopedRequest):
    window_days = serializers.IntegerField(min_value=30, max_value=1095, default=180)
    z = serializers.FloatField(min_value=2.0, max_value=4.0, default=3.0, help_text="Control limit width in standard errors.")
    min_subgroup = serializers.IntegerField(min_value=10, max_value=1000, default=30)
    recent_days = serializers.IntegerField(min_value=7, max_value=90, default=30, help_text="Repairs scored for comeback risk.")
    top = serializers.IntegerField(min_value=1, max_value=200, default=20)


class ResourceAllocationRequest(StoreScopedRequest):
    horizon_days = serializers.IntegerField(min_value=1, max_value=7, default=2)
    include_assigned = serializers.BooleanField(default=False, help_text="Re-plan tickets already assigned but not started.")
    tickets = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=500)
    apply = serializers.BooleanField(default=False, help_text="Make the assignments (managers and admins only).")


class ExtraTechnicianSerializer(serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), min_length=1, max_length=7,
                                     help_text="ISO weekdays, 1 = Monday … 6 = Saturday.")
    minutes = serializers.IntegerField(min_value=30, max_value=720, required=False, help_text="Shift minutes (default: opening hours).")
    skills = serializers.JSONField(default="all", help_text='"all" or a list of skill codes')
    count = serializers.IntegerField(min_value=1, max_value=5, default=1)
    efficiency = serializers.FloatField(min_value=0.5, max_value=2.0, default=1.0, help_text="Minutes needed relative to standard.")

    def validate_skills(self, value):
        if value == "all":
            return value
        known = set(Skill.objects.values_list("code", flat=True))
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise serializers.ValidationError('Give "all" or a list of skill codes.')
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(f"Unknown skill(s) {', '.join(unknown)}. Skills: {', '.join(sorted(known))}.")
        return value


class ScenarioSerializer(serializers.Serializer):
    extra_technicians = ExtraTechnicianSerializer(many=True, required=False, default=list)
    absent_technicians = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    demand_factor = serializers.FloatField(min_value=0.5, max_value=2.0, default=1.0)


class PerformanceOptimizationRequest(StoreScopedRequest):
    window_days = serializers.IntegerField(min_value=14, max_value=365, default=28)
    scenario = ScenarioSerializer(required=False, help_text="Default: one more technician with every skill on Saturdays.")


class AnalyticsRequest(StoreScopedRequest):
    weeks = serializers.IntegerField(min_value=4, max_value=104, default=26)
    granularity = serializers.ChoiceField(choices=[("week", "week"), ("month", "month")], default="week")


class ProcessPageRequest(StoreScopedRequest):
    """The performance-optimization parameters as flat form fields (the dashboard page's form)."""

    window_days = serializers.IntegerField(min_value=14, max_value=365, default=28)
    extra_weekdays = serializers.MultipleChoiceField(
        choices=[(1, "Monday"), (2, "Tuesday"), (3, "Wednesday"), (4, "Thursday"), (5, "Friday"), (6, "Saturday"), (7, "Sunday")],
        default=[6], required=False, help_text="Days the extra technician(s) work.")
    extra_count = serializers.IntegerField(min_value=0, max_value=5, default=1, help_text="0 for no extra technician.")
    extra_skills = serializers.CharField(default="all", required=False, help_text='"all" or skill codes separated by commas.')
    absent_technicians = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    demand_factor = serializers.FloatField(min_value=0.5, max_value=2.0, default=1.0)

    def validate(self, attrs):
        skills = (attrs.pop("extra_skills", "all") or "all").strip()
        skills = "all" if skills == "all" else [s.strip() for s in skills.split(",") if s.strip()]
        extra = []
        if attrs.get("extra_count", 1) and attrs.get("extra_weekdays"):
            extra.append({"weekdays": sorted(int(d) for d in attrs["extra_weekdays"]), "skills": skills, "count": attrs["extra_count"]})
        scenario = ScenarioSerializer(data={"extra_technicians": extra, "absent_technicians": attrs.pop("absent_technicians", []),
                                            "demand_factor": attrs.pop("demand_factor", 1.0)})
        if not scenario.is_valid():
            raise serializers.ValidationError({"extra_skills" if "extra_technicians" in scenario.errors else "absent_technicians": [str(scenario.errors)]})
        attrs.pop("extra_weekdays", None)
        attrs.pop("extra_count", None)
        attrs["scenario"] = scenario.validated_data
        return attrs
