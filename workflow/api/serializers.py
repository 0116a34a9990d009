"""Request validation and response shapes of the workflow API."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlanalytics.core.api import StoreScopedRequest
from mlanalytics.core.strict_input import JSONObjectField, JSONObjectListField, StrictJSONTypes
from mlanalytics.core.scoping import resolve_store

from ..models import (
    AutomationRule, Channel, MessageTemplate, OutboxMessage, QAInspection, RuleRun, Skill, TicketStatus,
)
from .. import masking
from ..rules import RuleValidationError, describe, validate_rule

OPEN = [s for s in TicketStatus.values if s not in (TicketStatus.READY, TicketStatus.COLLECTED, TicketStatus.CANCELLED)]


# -- rules ------------------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "nullable": True, "example": "LON1"})
class StoreCodeField(serializers.Field):
    """A store by its code, resolved through the shared scoping helper: an unknown store is a 404 and
    a store outside the user's scope a 403 (not a 400 as a plain related field would answer)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, store):
        return store.code if store else None

    def to_internal_value(self, data):
        if data in (None, ""):
            return None
        if not isinstance(data, str) or len(data) > 40:
            raise serializers.ValidationError("A store code, e.g. LON1.")
        request = self.context.get("request")
        return resolve_store(getattr(request, "user", None), data)


class RuleSerializer(StrictJSONTypes, serializers.ModelSerializer):
    store = StoreCodeField(required=False, help_text="Store code; empty for a rule of every store.")
    trigger_params = JSONObjectField(required=False, help_text='e.g. {"hours": 24} for ticket_idle, {"to": ["ready"]} for status_changed')
    conditions = JSONObjectField(required=False, help_text='e.g. {"all": [{"field": "priority", "op": "in", "value": ["high", "urgent"]}]}')
    actions = JSONObjectListField(help_text='e.g. [{"type": "send_message", "event": "ready_for_collection"}]')
    condition_text = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

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
            validate_rule(merged["trigger"], merged["trigger_params"], merged["conditions"], merged["actions"],
                          attrs["store"] if "store" in attrs else getattr(instance, "store", None))
        except RuleValidationError as exc:
            raise serializers.ValidationError(exc.errors)
        return attrs


class RuleRunSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", default=None, allow_null=True, read_only=True)
    ticket = serializers.CharField(source="ticket.reference", default=None, allow_null=True, read_only=True)
    user = serializers.CharField(source="user.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = RuleRun
        fields = ["id", "at", "rule", "rule_name", "ticket", "trigger", "source", "dry_run", "matched", "actions", "error", "user"]

    def to_representation(self, run):
        data = super().to_representation(run)
        request = self.context.get("request")
        if not masking.shows_contacts(getattr(request, "user", None)):  # e.g. recipients in an older dry run's log
            data["actions"] = masking.mask_payload(data["actions"])
        return data


# -- messages ---------------------------------------------------------------------------------------


class MessageTemplateSerializer(StrictJSONTypes, serializers.ModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = ["id", "code", "event", "channel", "purpose", "subject", "body", "is_active"]

    def validate(self, attrs):
        from ..messaging import template_problem

        for field in ("subject", "body"):
            text = attrs.get(field, getattr(self.instance, field, "") if self.instance else "")
            problem = template_problem(text)
            if problem:
                raise serializers.ValidationError({field: [problem[:1].upper() + problem[1:]]})
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        subject = attrs.get("subject", getattr(self.instance, "subject", "") if self.instance else "")
        if channel == Channel.EMAIL and not (subject or "").strip():
            raise serializers.ValidationError({"subject": ["An email template needs a subject."]})
        return attrs


class TemplatePreviewRequest(StrictJSONTypes, serializers.Serializer):
    ticket = serializers.CharField(required=False, help_text="Ticket reference to render for (default: your most recent ticket).")


class DraftPreviewRequest(TemplatePreviewRequest):
    subject = serializers.CharField(required=False, allow_blank=True, default="")
    body = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.EMAIL)


class OutboxMessageSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", default=None, allow_null=True, read_only=True)
    customer = serializers.CharField(source="customer.name", default=None, allow_null=True, read_only=True)
    template = serializers.CharField(source="template.code", default=None, allow_null=True, read_only=True)

    class Meta:
        model = OutboxMessage
        fields = ["id", "ticket", "customer", "template", "event", "channel", "to_address", "subject", "body", "status",
                  "error", "delivery_log", "attempts", "not_before", "provider_id", "created_at", "sent_at"]


# -- QA ---------------------------------------------------------------------------------------------


class QAInspectionSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", read_only=True)
    inspector = serializers.CharField(source="inspector.username", default=None, allow_null=True, read_only=True)
    technician = serializers.CharField(source="ticket.technician.code", default=None, allow_null=True, read_only=True)
    ticket_status = serializers.CharField(source="ticket.status", read_only=True)

    class Meta:
        model = QAInspection
        fields = ["id", "ticket", "ticket_status", "technician", "inspector", "inspected_at", "passed", "checklist", "defects", "notes"]


class QAInspectionCreate(StrictJSONTypes, serializers.Serializer):
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


class ExtraTechnicianSerializer(StrictJSONTypes, serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7), min_length=1, max_length=7,
                                     help_text="ISO weekdays, 1 = Monday … 6 = Saturday.")
    minutes = serializers.IntegerField(min_value=30, max_value=720, required=False, help_text="Shift minutes (default: opening hours).")
    skills = serializers.JSONField(default="all", help_text='"all" or a list of skill codes')
    count = serializers.IntegerField(min_value=1, max_value=5, default=1)
    efficiency = serializers.FloatField(min_value=0.5, max_value=2.0, required=False,
                                        help_text="Minutes needed per standard minute (default: the store's median measured speed).")

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


class ScenarioSerializer(StrictJSONTypes, serializers.Serializer):
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


# -- response shapes of the seven endpoints (for the OpenAPI schema; the views return the selectors' dicts) --


class WorkflowModelBlock(serializers.Serializer):
    name = serializers.CharField(help_text="repair_time or comeback_risk")
    method = serializers.CharField()
    version = serializers.IntegerField()
    trained_at = serializers.DateTimeField()
    data_window = serializers.DictField(help_text="start, end of the training data")
    n_observations = serializers.IntegerField()
    backtest = serializers.DictField(help_text="Holdout metrics, e.g. mae_minutes; auc, brier, top_decile_lift.")


class WorkflowEnvelope(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    data_window = serializers.DictField(help_text="start, end (ISO) and what the figures cover")


class AssumedParameters(serializers.Serializer):
    source = serializers.CharField(help_text="Where the values come from: settings chosen by the shop.")
    assumed = serializers.BooleanField(help_text="Always true: hand-set, not learned from data.")


class PriorityScoreParametersBlock(AssumedParameters):
    weights = serializers.DictField(child=serializers.FloatField(), help_text="priority, sla_pressure, age, comeback")
    priority_levels = serializers.DictField(child=serializers.FloatField())
    sla_pressure_hours = serializers.FloatField()
    age_full_hours = serializers.FloatField()
    unknown_sla_pressure = serializers.FloatField()


class OverviewResponse(WorkflowEnvelope):
    stores = serializers.ListField(child=serializers.CharField())
    tickets_by_status = serializers.DictField(child=serializers.IntegerField())
    work_in_progress = serializers.IntegerField()
    overdue = serializers.IntegerField()
    due_within_sla_risk_hours = serializers.IntegerField()
    per_store = serializers.ListField(child=serializers.DictField(), help_text="store, wip, by_status")
    cycle_time_hours = serializers.DictField(help_text="last_7_days / last_30_days: median, p90, mean, n")
    sla_compliance = serializers.DictField(help_text="last_7_days / last_30_days: tickets, compliance")
    rules = serializers.DictField(child=serializers.IntegerField(), help_text="active, total")
    automations_today = serializers.DictField(child=serializers.IntegerField(), help_text="runs, matched, errors")
    messages_today = serializers.DictField(child=serializers.IntegerField(), help_text="by status")
    open_alerts = serializers.DictField(help_text="total, by_kind")


class TriageBlock(serializers.Serializer):
    predicted_minutes = serializers.IntegerField()
    predicted_completion_at = serializers.DateTimeField(allow_null=True)
    priority_score = serializers.FloatField()
    slack_hours = serializers.FloatField(allow_null=True)
    hours_to_promise = serializers.FloatField(allow_null=True)
    sla_at_risk = serializers.BooleanField()
    predicted_late = serializers.BooleanField()


class TriagedTicket(serializers.Serializer):
    ticket = serializers.CharField()
    store = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    promised_at = serializers.DateTimeField(allow_null=True)
    triage = TriageBlock(allow_null=True)
    rules = serializers.ListField(child=serializers.DictField(),
                                  help_text="Each rule whose trigger fired: rule, name, matched, condition, actions (what was or would be done), error")


class PlannedAction(serializers.Serializer):
    ticket = serializers.CharField()
    store = serializers.CharField()
    rule_id = serializers.IntegerField()
    rule = serializers.CharField()
    action = serializers.CharField()
    result = serializers.CharField(help_text="e.g. would set / set, would send / queued, skipped")
    detail = serializers.CharField()


class RepairAutomationResponse(WorkflowEnvelope):
    dry_run = serializers.BooleanField()
    triggers = serializers.ListField(child=serializers.CharField())
    summary = serializers.DictField(help_text="tickets, rules_matched, actions (by type:result), sla_at_risk")
    tickets = TriagedTicket(many=True)
    actions = PlannedAction(many=True)
    rules = serializers.ListField(child=serializers.DictField(), help_text="The stores' rules with fired_last_7_days")
    parameters = serializers.DictField(help_text="priority_score: the hand-set weights of the score (assumed)")
    model = WorkflowModelBlock(allow_null=True)


class MessageRow(serializers.Serializer):
    ticket = serializers.CharField()
    store = serializers.CharField()
    template = serializers.CharField()
    channel = serializers.CharField()
    to = serializers.CharField(help_text="Masked for roles that may not message customers.")
    subject = serializers.CharField()
    body = serializers.CharField()
    status = serializers.CharField(help_text="queued, held, suppressed, duplicate, not_applicable; after delivery sent, recorded "
                                             "(no real delivery configured), failed, dead")
    reason = serializers.CharField()
    message_id = serializers.IntegerField(required=False)
    duplicate = serializers.BooleanField(required=False)
    not_before = serializers.DateTimeField(required=False, allow_null=True)


class CustomerCommunicationResponse(WorkflowEnvelope):
    mode = serializers.CharField()
    event = serializers.CharField()
    tickets = serializers.IntegerField()
    summary = serializers.DictField(child=serializers.IntegerField(), help_text="messages by status")
    messages = MessageRow(many=True)


class ChartRow(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    n = serializers.IntegerField()
    x = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    pass_rate = serializers.FloatField(required=False, allow_null=True, help_text="QA rows: 1 − rate")
    lcl = serializers.FloatField()
    ucl = serializers.FloatField()
    signal = serializers.CharField(help_text="above_ucl, below_lcl or empty")
    out_of_control = serializers.BooleanField()
    store = serializers.CharField(required=False, allow_null=True)


class ChartSection(serializers.Serializer):
    centre = serializers.FloatField(allow_null=True)
    rows = ChartRow(many=True)
    excluded_technicians = serializers.ListField(child=serializers.CharField(), required=False)


class QualitySection(serializers.Serializer):
    n = serializers.IntegerField()
    x = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    by_technician = ChartSection()
    by_repair_type = ChartSection()
    by_supplier = ChartSection()


class QASection(QualitySection):
    pass_rate = serializers.FloatField(allow_null=True)
    weekly = serializers.ListField(child=serializers.DictField(), help_text="week, n, x, rate, lcl, ucl, signal")


class OutOfControlFlag(serializers.Serializer):
    metric = serializers.CharField(help_text="qa_fail_rate or comeback_rate")
    dimension = serializers.CharField(help_text="technician, repair_type or supplier")
    key = serializers.CharField()
    label = serializers.CharField()
    store = serializers.CharField(allow_null=True)
    n = serializers.IntegerField()
    x = serializers.IntegerField()
    p = serializers.FloatField()
    ucl = serializers.FloatField()
    centre = serializers.FloatField()


class ComebackRiskBlock(serializers.Serializer):
    summary = serializers.DictField(help_text="repairs, mean_risk, expected_comebacks, base_rate, above_twice_base_rate")
    highest = serializers.ListField(child=serializers.DictField(), help_text="ticket, technician, repair_type, supplier, completed_at, risk")
    by_technician = serializers.ListField(child=serializers.DictField(), help_text="technician, store, repairs, mean_risk, lift")


class QualityAssuranceResponse(WorkflowEnvelope):
    method = serializers.CharField()
    z = serializers.FloatField()
    min_subgroup = serializers.IntegerField()
    qa = QASection()
    comebacks = QualitySection()
    out_of_control = OutOfControlFlag(many=True)
    comeback_risk = ComebackRiskBlock()
    open_alerts = serializers.ListField(child=serializers.DictField())
    model = WorkflowModelBlock(allow_null=True)


class AllocationAssignment(serializers.Serializer):
    store = serializers.CharField()
    ticket = serializers.CharField()
    status = serializers.CharField()
    priority = serializers.CharField()
    repair_type = serializers.CharField()
    technician = serializers.CharField()
    technician_name = serializers.CharField()
    day = serializers.IntegerField()
    minutes = serializers.IntegerField()
    weight = serializers.FloatField()
    priority_score = serializers.FloatField(allow_null=True)
    expected_start = serializers.DateTimeField()
    expected_completion = serializers.DateTimeField()
    promised_at = serializers.DateTimeField(allow_null=True)
    late = serializers.BooleanField()
    currently_assigned_to = serializers.CharField(allow_null=True)


class UnassignedTicket(serializers.Serializer):
    store = serializers.CharField()
    ticket = serializers.CharField()
    priority = serializers.CharField()
    reason_code = serializers.CharField(help_text="no_skilled_technician, no_capacity, capacity_used_by_higher_value_work, waiting_for_parts, solver_failed")
    reason = serializers.CharField()


class TechnicianLoad(serializers.Serializer):
    store = serializers.CharField()
    technician = serializers.CharField()
    name = serializers.CharField()
    skills = serializers.ListField(child=serializers.CharField())
    available_minutes = serializers.IntegerField()
    committed_minutes = serializers.IntegerField()
    planned_minutes = serializers.IntegerField()
    utilisation = serializers.FloatField(allow_null=True)


class StoreAllocation(serializers.Serializer):
    store = serializers.CharField()
    solver_status = serializers.CharField()
    objective = serializers.FloatField()
    greedy_objective = serializers.FloatField()
    mip_gap = serializers.FloatField(allow_null=True)
    variables = serializers.IntegerField()
    assigned = serializers.IntegerField()
    unassigned = serializers.IntegerField()
    utilisation = serializers.FloatField(allow_null=True)


class AllocationParametersBlock(AssumedParameters):
    priority_weights = serializers.DictField(child=serializers.FloatField())
    job_weight = serializers.CharField()
    day_discount = serializers.FloatField()
    late_penalty = serializers.FloatField()
    minute_cost = serializers.FloatField()
    floor_share = serializers.FloatField()
    priority_score = PriorityScoreParametersBlock()


class ResourceAllocationResponse(WorkflowEnvelope):
    method = serializers.CharField()
    at = serializers.DateTimeField()
    stores = StoreAllocation(many=True)
    assignments = AllocationAssignment(many=True)
    unassigned = UnassignedTicket(many=True)
    technicians = TechnicianLoad(many=True)
    summary = serializers.DictField(help_text="assigned, unassigned, utilisation, objective, greedy_objective, all_optimal")
    parameters = AllocationParametersBlock()
    model = WorkflowModelBlock(allow_null=True)
    applied = serializers.BooleanField()
    applied_assignments = serializers.IntegerField(required=False)


class SimulatedStore(serializers.Serializer):
    store = serializers.CharField()
    technicians = serializers.IntegerField()
    refused = serializers.CharField(required=False, help_text="Why the store could not be simulated (an input could not be measured).")
    tickets_compared = serializers.IntegerField(required=False)
    jobs_simulated = serializers.IntegerField(required=False)
    inputs = serializers.DictField(required=False, help_text="rework_share, quality_check_working_minutes, technician_speed: each value with its source")
    rework_share = serializers.FloatField(required=False, allow_null=True)
    measured = serializers.DictField(required=False, help_text="tickets, median_hours, mean_hours, p90_hours, sla_compliance")
    simulated_baseline = serializers.DictField(required=False, help_text="the same, plus unserved (no skilled technician)")
    baseline_error_pct = serializers.DictField(required=False)
    baseline_within_tolerance = serializers.BooleanField(required=False)
    tolerance_pct = serializers.FloatField(required=False)
    scenario = serializers.DictField(required=False, help_text="cycle time and SLA compliance with the changed capacity, unserved")
    trusted = serializers.BooleanField(help_text="False when the baseline misses the tolerance or a store was refused")
    untrusted_reason = serializers.CharField(required=False, allow_null=True)
    change = serializers.DictField(required=False, help_text="scenario − baseline: mean_hours, sla_compliance")
    simulated_utilisation = serializers.DictField(required=False)


class SimulationBlock(serializers.Serializer):
    method = serializers.CharField()
    tolerance = serializers.CharField()
    stores = SimulatedStore(many=True)


class PerformanceOptimizationResponse(WorkflowEnvelope):
    scenario = serializers.DictField(help_text="the scenario asked for, with a description")
    stages = serializers.ListField(child=serializers.DictField(), help_text="stage, visits, median/p90/mean hours (wall and working), share")
    bottleneck = serializers.DictField(allow_null=True)
    littles_law = serializers.DictField(allow_null=True, help_text="wip, throughput_per_day, cycle_time_days, ratio")
    utilisation = serializers.FloatField(allow_null=True)
    technicians = serializers.ListField(child=serializers.DictField(), help_text="repairs, repairs_per_day, labour and shift minutes, utilisation")
    in_repair_to_ready_by_repair_type = serializers.ListField(child=serializers.DictField())
    simulation = SimulationBlock()


class AnalyticsPeriod(serializers.Serializer):
    period = serializers.DateField()
    intake = serializers.IntegerField()
    completed = serializers.IntegerField()
    median_cycle_hours = serializers.FloatField(allow_null=True)
    mean_cycle_hours = serializers.FloatField(allow_null=True)
    sla_compliance = serializers.FloatField(allow_null=True)
    first_time_fix_rate = serializers.FloatField(allow_null=True)
    automations = serializers.IntegerField()
    messages_sent = serializers.IntegerField()


class WorkflowAnalyticsResponse(WorkflowEnvelope):
    definitions = serializers.DictField(child=serializers.CharField())
    totals = serializers.DictField()
    over_time = AnalyticsPeriod(many=True)
    technicians = serializers.ListField(child=serializers.DictField())
