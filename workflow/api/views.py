"""The workflow API: the seven analytics endpoints of SPEC §4 and the REST resources behind them
(automation rules, rule runs, message templates, the outbox, QA inspections). Views stay thin:
validate, resolve the user's stores, call a selector or a service, respond."""
from datetime import datetime, timezone as dt_timezone

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from mlanalytics.core import audit, roles
from mlanalytics.core.alerts import serialize_alert
from mlanalytics.core.api import AnalyticsAPIView, HasCapability
from mlanalytics.core.openapi import error_response
from mlanalytics.core.models import Alert, Store
from mlanalytics.core.strict_input import StrictCursorPagination
from mlanalytics.core.roles import has_capability
from mlanalytics.core.scoping import allowed_stores, resolve_store, scope_queryset, sees_all_stores

from .. import masking, messaging, rules, selectors, services, training
from ..models import AutomationRule, MessageTemplate, OutboxMessage, QAInspection, RepairTicket, RuleRun, Technician, TicketStatus
from . import serializers as s

ERRORS = {
    400: error_response("Invalid parameters; the body names each field at fault."),
    403: error_response("Your role may not do this, or the store or ticket is not yours."),
    404: error_response("Unknown store, ticket or rule."),
}


def responses(serializer):
    return {200: serializer, **ERRORS}


def resolve_tickets(user, references, stores=None):
    """Tickets by reference, in the user's scope: unknown -> 404, another user's store -> 403."""
    references = list(dict.fromkeys(r.strip() for r in references if r and r.strip()))
    found = {t.reference: t for t in RepairTicket.objects.filter(reference__in=references).select_related(
        "store", "customer", "repair_type", "device_model", "technician")}
    missing = [r for r in references if r not in found]
    if missing:
        raise NotFound(f"Unknown ticket(s): {', '.join(missing[:20])}.")
    allowed = set(allowed_stores(user).values_list("pk", flat=True))
    forbidden = [r for r, t in found.items() if t.store_id not in allowed]
    if forbidden:
        raise PermissionDenied(f"You do not have access to ticket(s) {', '.join(forbidden[:20])}.")
    if stores is not None:
        wanted = {st.pk for st in stores}
        elsewhere = [r for r, t in found.items() if t.store_id not in wanted]
        if elsewhere:
            raise ValidationError({"tickets": [f"{', '.join(elsewhere[:20])} belong to another store than the one asked for."]})
    return [found[r] for r in references]


def require(user, capability, message):
    if not has_capability(user, capability):
        raise PermissionDenied(message)


class WorkflowAnalyticsView(AnalyticsAPIView):
    """Base of the seven endpoints: VIEW_WORKFLOW to read; results cached per data version and time bucket."""

    capability = roles.VIEW_WORKFLOW
    cache_bucket_seconds = 300

    def handle(self, request, data):
        response = super().handle(request, data)
        if not masking.shows_contacts(request.user):  # every answer, as the API, a page or an export reads it
            response.data = masking.mask_payload(response.data)
        return response

    def validate(self, request, data):
        params = super().validate(request, data)
        # "Now" in buckets, so a cached answer slides forward with time as well as with new data.
        bucket = self.cache_bucket_seconds
        now = timezone.now().timestamp()
        params["as_of"] = datetime.fromtimestamp(now - now % bucket, tz=dt_timezone.utc) if bucket else timezone.now()
        return params


@extend_schema(parameters=[s.StoreScopedRequest], responses=responses(s.OverviewResponse), tags=["workflow-automation"],
               summary="Tickets by status, WIP, cycle time, SLA compliance (7/30 days), rules, automations and messages today, open alerts")
class OverviewView(WorkflowAnalyticsView):
    http_method_names = ["get", "head", "options"]
    request_serializer = s.StoreScopedRequest
    cache_domains = ("tickets", "rules", "rule_runs", "messages", "alerts")
    cache_bucket_seconds = 60

    def compute(self, params, stores, request):
        return selectors.overview(stores, now=params["as_of"])


@extend_schema(request=s.RepairAutomationRequest, responses=responses(s.RepairAutomationResponse), tags=["workflow-automation"],
               summary="Run the rules engine on open tickets (dry run by default), with triage")
class RepairAutomationView(WorkflowAnalyticsView):
    http_method_names = ["post", "options"]
    request_serializer = s.RepairAutomationRequest
    cache_domains = ()  # every run is logged, so it is never served from the cache

    def compute(self, params, stores, request):
        if not params["dry_run"]:
            require(request.user, roles.MANAGE_RULES, "Only managers and admins may run the rules for real; use dry_run.")
        if params.get("tickets"):
            tickets = resolve_tickets(request.user, params["tickets"], stores)
        else:
            tickets = selectors.open_tickets(stores, statuses=params.get("statuses"), limit=params["limit"])
        if params.get("rules"):
            known = set(AutomationRule.objects.filter(pk__in=params["rules"]).values_list("pk", flat=True))
            unknown = sorted(set(params["rules"]) - known)
            if unknown:
                raise NotFound(f"Unknown rule(s): {', '.join(map(str, unknown))}.")
        now = timezone.now()
        triage, record = selectors.triage(tickets, now=now)
        if not params["dry_run"]:
            services.apply_triage(triage)
        outcomes = rules.run_on_demand(tickets, triage, triggers=params["triggers"], rule_ids=params.get("rules"),
                                       dry_run=params["dry_run"], user=request.user, now=now)
        rows, matched, actions = [], 0, {}
        for t in tickets:
            entry = triage.get(t.pk)
            results = outcomes.get(t.pk, [])
            for r in results:
                if r.get("matched") and r.get("actions"):
                    matched += 1
                    for a in r["actions"]:
                        key = f"{a.get('type', '?')}:{a.get('result')}"
                        actions[key] = actions.get(key, 0) + 1
            rows.append({
                "ticket": t.reference, "store": t.store.code, "status": t.status, "priority": t.priority,
                "promised_at": t.promised_at.isoformat() if t.promised_at else None,
                "triage": selectors.serialize_triage(entry) if entry else None, "rules": results,
            })
        rows.sort(key=lambda r: -((r["triage"] or {}).get("priority_score") or 0))
        planned = []
        for row in rows:
            for outcome in row["rules"]:
                for done in outcome.get("actions", []) if outcome.get("matched") else []:
                    detail = done.get("reason") or done.get("priority") or done.get("technician") or done.get("status") or done.get("title") or ""
                    if done.get("messages"):
                        detail = ", ".join(f"{m['channel']}: {m.get('would') or m.get('status')}" for m in done["messages"])
                    planned.append({"ticket": row["ticket"], "store": row["store"], "rule_id": outcome["rule"], "rule": outcome["name"],
                                    "action": done.get("type"), "result": done.get("result"), "detail": detail})
        return {
            "data_window": {"start": None, "end": now.isoformat(), "note": "open tickets as of now"},
            "dry_run": params["dry_run"], "triggers": params["triggers"],
            "summary": {"tickets": len(rows), "rules_matched": matched, "actions": actions,
                        "sla_at_risk": sum(1 for r in rows if (r["triage"] or {}).get("sla_at_risk"))},
            "tickets": rows,
            "actions": planned,
            "rules": selectors.rules_summary(stores, now),
            "parameters": {"priority_score": selectors.priority_parameters_block()},
            "model": training.model_block(record),
        }


@extend_schema(request=s.CustomerCommunicationRequest, responses=responses(s.CustomerCommunicationResponse), tags=["workflow-automation"],
               summary="Preview or send a template's message for one ticket or a batch (consent, quiet hours, de-duplication)")
class CustomerCommunicationView(WorkflowAnalyticsView):
    http_method_names = ["post", "options"]
    request_serializer = s.CustomerCommunicationRequest
    # A preview stores nothing, so it is cached like the overview: per data version (the tickets and their
    # customers, the templates and the outbox it de-duplicates against, the stored triage the delay message
    # quotes) and per minute, planned as of the start of that minute (quiet hours begin and end on a minute,
    # so the minute decides "held" exactly). Sending is never cached.
    cache_domains = ("tickets", "customers", "messages", "triage")
    cache_bucket_seconds = 60

    def validate(self, request, data):
        params = super().validate(request, data)
        # Contact data is masked for roles that may not message customers (workflow.masking): in the rendered
        # text too, so it is part of the answer, and of its cache key.
        params["addresses_shown"] = masking.shows_contacts(request.user)
        return params

    def is_cacheable(self, params):
        return params["mode"] == "preview"

    def compute(self, params, stores, request):
        if params["mode"] == "send":
            require(request.user, roles.SEND_MESSAGES, "Your role may not send customer messages; use mode=preview.")
        templates = messaging.templates_for(event=params["event"], channels=params.get("channels"))
        if not templates:
            raise ValidationError({"channels": [f"No active {' or '.join(params.get('channels') or [])} template for '{params['event']}'."]})
        if params.get("ticket"):
            tickets = resolve_tickets(request.user, [params["ticket"]], stores)
        else:
            statuses = params.get("statuses") or [messaging.EVENT_STATUS[params["event"]]]
            tickets = list(RepairTicket.objects.filter(store__in=stores, status__in=statuses).select_related(
                "store", "customer", "repair_type", "device_model", "technician").order_by("-received_at")[: params["limit"]])
        now = params["as_of"] if params["mode"] == "preview" else timezone.now()
        rows, queued_ids = [], []
        with transaction.atomic():
            for ticket in tickets:
                for template in templates:
                    plan = messaging.plan_message(ticket, template, now=now,
                                                  mask_contacts=not params["addresses_shown"])
                    row = {"ticket": ticket.reference, "store": ticket.store.code, "template": template.code, "channel": template.channel,
                           "to": plan.to_address, "subject": plan.subject, "body": plan.body, "status": plan.status, "reason": plan.reason}
                    if params["mode"] == "send" and plan.status not in messaging.NOT_STORED:
                        message, created = messaging.queue_planned(plan, user=request.user)
                        row.update({"message_id": message.pk, "status": message.status, "duplicate": not created,
                                    "not_before": message.not_before.isoformat() if message.not_before else None})
                        if created and message.status == OutboxMessage.Status.QUEUED and message.not_before is None:
                            queued_ids.append(message.pk)
                    rows.append(row)
            # Delivery is a background job after the commit: a slow mail server never holds up this answer.
            messaging.deliver_after_commit(queued_ids)
        if queued_ids:
            # Where the job has already run (it may, e.g. when jobs run eagerly) say how it went; otherwise "queued".
            done = {m.pk: m for m in OutboxMessage.objects.filter(pk__in=queued_ids).exclude(status=OutboxMessage.Status.QUEUED)}
            for row in rows:
                message = done.get(row.get("message_id"))
                if message is not None:
                    row.update({"status": message.status, "error": message.error, "provider_id": message.provider_id})
        if params["mode"] == "send":
            audit.record(request.user, "messages.send", None, object_type="workflow.outboxmessage",
                         changes={"event": params["event"], "messages": [r["message_id"] for r in rows if r.get("message_id")]})
        counts = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return {
            "data_window": {"start": None, "end": now.isoformat()},
            "mode": params["mode"], "event": params["event"], "tickets": len(tickets), "summary": counts, "messages": rows,
        }


@extend_schema(request=s.QualityAssuranceRequest, responses=responses(s.QualityAssuranceResponse), tags=["workflow-automation"],
               summary="QA pass and comeback rates by technician, repair type and supplier with p-chart limits; comeback risk")
class QualityAssuranceView(WorkflowAnalyticsView):
    http_method_names = ["post", "options"]
    request_serializer = s.QualityAssuranceRequest
    cache_domains = ("tickets", "qa", "models", "alerts")
    cache_bucket_seconds = 3600

    def compute(self, params, stores, request):
        body = selectors.qa_report(stores, window_days=params["window_days"], z=params["z"], min_n=params["min_subgroup"],
                                   recent_days=params["recent_days"], top=params["top"], now=params["as_of"])
        # Store-less alerts (repair types, suppliers) come from the charts over every store: they are shown
        # only when the scope asked for is every store, so a single-store user never sees other stores' figures.
        # The flags in `out_of_control` are always computed over the asked scope alone.
        scope = Q(store__in=stores)
        if covers_every_store(stores):
            scope |= Q(store__isnull=True)
        alerts = Alert.objects.filter(kind=Alert.Kind.QA_OUT_OF_CONTROL).exclude(state=Alert.State.RESOLVED).filter(scope)
        body["open_alerts"] = [serialize_alert(a) for a in alerts.select_related("store")[:50]]
        return body


@extend_schema(request=s.ResourceAllocationRequest, responses=responses(s.ResourceAllocationResponse), tags=["workflow-automation"],
               summary="Assign open tickets to technicians by integer programming; apply (managers) makes the assignments")
class ResourceAllocationView(WorkflowAnalyticsView):
    http_method_names = ["post", "options"]
    request_serializer = s.ResourceAllocationRequest
    cache_domains = ("tickets", "models", "catalogue")
    cache_bucket_seconds = 300

    def is_cacheable(self, params):
        return not params["apply"]

    def compute(self, params, stores, request):
        if params["apply"]:
            require(request.user, roles.APPLY_ALLOCATION, "Only managers and admins may apply technician assignments.")
        references = None
        if params.get("tickets"):
            references = {t.reference for t in resolve_tickets(request.user, params["tickets"], stores)}
        # The same "now" bucket as the plan the manager was shown, so apply makes exactly that plan.
        at = params["as_of"]
        body = selectors.allocation_plan(stores, horizon_days=params["horizon_days"], include_assigned=params["include_assigned"],
                                         at=at, references=references)
        pairs = body.pop("_apply")
        body["applied"] = False
        if params["apply"]:
            done = services.apply_allocation(pairs, user=request.user)
            body["applied"] = True
            body["applied_assignments"] = len(done)
        return body


@extend_schema(request=s.PerformanceOptimizationRequest, responses=responses(s.PerformanceOptimizationResponse), tags=["workflow-automation"],
               summary="Time in stage, bottleneck, utilisation, Little's law, and a what-if queue simulation (SimPy)")
class PerformanceOptimizationView(WorkflowAnalyticsView):
    http_method_names = ["post", "options"]
    request_serializer = s.PerformanceOptimizationRequest
    cache_domains = ("tickets", "catalogue")
    cache_bucket_seconds = 3600

    def compute(self, params, stores, request):
        scenario = params.get("scenario")
        if scenario is not None:
            scenario = {k: v for k, v in scenario.items()}
            absent = scenario.get("absent_technicians") or []
            known = set(Technician.objects.filter(store__in=stores, code__in=absent).values_list("code", flat=True))
            unknown = [c for c in absent if c not in known]
            if unknown:
                raise ValidationError({"scenario": {"absent_technicians": [f"No technician {', '.join(unknown)} at the chosen store(s)."]}})
            ids = dict(Technician.objects.filter(code__in=absent).values_list("code", "pk"))
            scenario["absent_technicians"] = [ids[c] for c in absent]
            scenario["absent_technician_codes"] = absent
        body = selectors.process_performance(stores, window_days=params["window_days"], scenario=scenario, now=params["as_of"])
        if scenario is not None and scenario.get("absent_technician_codes"):
            body["scenario"]["absent_technicians"] = scenario["absent_technician_codes"]
            body["scenario"].pop("absent_technician_codes", None)
        return body


@extend_schema(exclude=True)
class PerformanceOptimizationPageView(PerformanceOptimizationView):
    """The same endpoint with flat parameters, for the dashboard form (not routed in the API)."""

    request_serializer = s.ProcessPageRequest


@extend_schema(parameters=[s.AnalyticsRequest], responses=responses(s.WorkflowAnalyticsResponse), tags=["workflow-automation"],
               summary="Throughput, cycle time and SLA compliance over time, first-time fix, technician utilisation, automation and message counts")
class AnalyticsView(WorkflowAnalyticsView):
    http_method_names = ["get", "head", "options"]
    request_serializer = s.AnalyticsRequest
    cache_domains = ("tickets", "qa", "rules", "messages")
    cache_bucket_seconds = 3600

    def compute(self, params, stores, request):
        return selectors.workflow_analytics(stores, weeks=params["weeks"], granularity=params["granularity"], now=params["as_of"])


# -- REST resources -------------------------------------------------------------------------------


class NewestFirstPagination(StrictCursorPagination):
    """Logs (QA inspections, rule runs, the outbox) page by cursor, newest first: no COUNT over the
    whole table, and stable pages while new rows arrive. `limit` sets the page size."""

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = ("-id",)


class InspectionPages(NewestFirstPagination):
    ordering = ("-inspected_at", "-id")


class RunPages(NewestFirstPagination):
    ordering = ("-at", "-id")


class MessagePages(NewestFirstPagination):
    ordering = ("-created_at", "-id")


class ActionCapability(permissions.BasePermission):
    """Read actions need the view's `read_capability`; the others `write_capability`."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        write = request.method not in permissions.SAFE_METHODS and getattr(view, "action", None) not in getattr(view, "read_actions", ())
        capability = view.write_capability if write else view.read_capability
        return has_capability(request.user, capability)


def covers_every_store(stores):
    """Whether `stores` (resolved for a request) is every active store."""
    return not Store.objects.filter(is_active=True).exclude(pk__in=[st.pk for st in stores]).exists()


def user_sees_every_store(user):
    return sees_all_stores(user) or not Store.objects.filter(is_active=True).exclude(pk__in=allowed_stores(user)).exists()


def scoped(queryset, user, field):
    """scope_queryset, skipping the join when the user may see every store anyway."""
    return queryset if user_sees_every_store(user) else scope_queryset(queryset, user, field)


@extend_schema_view(
    list=extend_schema(summary="Automation rules (filters: trigger, enabled, store)", tags=["workflow-automation: rules"]),
    retrieve=extend_schema(tags=["workflow-automation: rules"]),
    create=extend_schema(summary="Create a rule (validated: trigger, conditions, actions)", tags=["workflow-automation: rules"]),
    update=extend_schema(tags=["workflow-automation: rules"]),
    partial_update=extend_schema(tags=["workflow-automation: rules"]),
    destroy=extend_schema(tags=["workflow-automation: rules"]),
)
class RuleViewSet(viewsets.ModelViewSet):
    """Automation rules. Everyone with the workflow view reads them; managers and admins change them."""

    serializer_class = s.RuleSerializer
    permission_classes = [permissions.IsAuthenticated, ActionCapability]
    read_capability, write_capability = roles.VIEW_WORKFLOW, roles.MANAGE_RULES
    read_actions = ("runs",)
    filterset_fields = ["trigger", "enabled"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no query
            return AutomationRule.objects.none()
        rules_ = AutomationRule.objects.select_related("store", "created_by")
        if not sees_all_stores(self.request.user):
            rules_ = rules_.filter(Q(store__isnull=True) | Q(store__in=allowed_stores(self.request.user)))
        store = self.request.query_params.get("store")
        if store:
            rules_ = rules_.filter(Q(store__isnull=True) | Q(store=resolve_store(self.request.user, store)))
        return rules_.order_by("order", "id")

    def _check_store(self, store):
        if store is None:
            if not user_sees_every_store(self.request.user):
                raise PermissionDenied("A rule for every store needs access to every store; choose one of your stores.")
        else:
            resolve_store(self.request.user, store)

    def perform_create(self, serializer):
        self._check_store(serializer.validated_data.get("store"))
        serializer.instance = services.save_rule(AutomationRule(), dict(serializer.validated_data), user=self.request.user)

    def perform_update(self, serializer):
        self._check_store(serializer.instance.store)
        if "store" in serializer.validated_data:
            self._check_store(serializer.validated_data["store"])
        serializer.instance = services.save_rule(serializer.instance, dict(serializer.validated_data), user=self.request.user)

    def perform_destroy(self, instance):
        self._check_store(instance.store)
        services.delete_rule(instance, user=self.request.user)

    @extend_schema(request=None, responses=s.RuleSerializer, tags=["workflow-automation: rules"], summary="Switch a rule on")
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        rule = self.get_object()
        self._check_store(rule.store)
        return Response(self.get_serializer(services.set_rule_enabled(rule, True, user=request.user)).data)

    @extend_schema(request=None, responses=s.RuleSerializer, tags=["workflow-automation: rules"], summary="Switch a rule off")
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        rule = self.get_object()
        self._check_store(rule.store)
        return Response(self.get_serializer(services.set_rule_enabled(rule, False, user=request.user)).data)

    @extend_schema(responses=s.RuleRunSerializer(many=True), tags=["workflow-automation: rules"], summary="The rule's run log")
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        rule = self.get_object()
        runs_ = scope_queryset(RuleRun.objects.filter(rule=rule).select_related("rule", "ticket", "user"), request.user, "ticket__store")
        page = self.paginate_queryset(runs_.order_by("-at"))
        return self.get_paginated_response(s.RuleRunSerializer(page, many=True, context={"request": request}).data)


@extend_schema(tags=["workflow-automation: rules"], summary="The log of rule runs (filters: rule, trigger, dry_run, matched, source)")
class RuleRunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.RuleRunSerializer
    pagination_class = RunPages
    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = roles.VIEW_WORKFLOW
    filterset_fields = ["rule", "trigger", "dry_run", "matched", "source"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no query
            return RuleRun.objects.none()
        runs_ = RuleRun.objects.select_related("rule", "ticket", "user").order_by("-at")
        if not sees_all_stores(self.request.user):
            runs_ = runs_.filter(Q(ticket__store__in=allowed_stores(self.request.user)) | Q(ticket__isnull=True))
        return runs_


@extend_schema_view(
    list=extend_schema(tags=["workflow-automation: messages"], summary="Message templates (Django template syntax)"),
    retrieve=extend_schema(tags=["workflow-automation: messages"]),
    create=extend_schema(tags=["workflow-automation: messages"]),
    update=extend_schema(tags=["workflow-automation: messages"]),
    partial_update=extend_schema(tags=["workflow-automation: messages"]),
    destroy=extend_schema(tags=["workflow-automation: messages"]),
)
class MessageTemplateViewSet(viewsets.ModelViewSet):
    """Message templates. They are used by every store: everyone with the workflow view reads and previews
    them; changing them needs `manage_rules` and access to every store (as a rule of every store does)."""

    serializer_class = s.MessageTemplateSerializer
    permission_classes = [permissions.IsAuthenticated, ActionCapability]
    read_capability, write_capability = roles.VIEW_WORKFLOW, roles.MANAGE_RULES
    read_actions = ("preview", "preview_draft")
    queryset = MessageTemplate.objects.all().order_by("event", "channel", "code")
    filterset_fields = ["event", "channel", "purpose", "is_active"]

    def check_permissions(self, request):
        super().check_permissions(request)
        writes = request.method not in permissions.SAFE_METHODS and self.action not in self.read_actions
        if writes and not user_sees_every_store(request.user):
            self.permission_denied(request, message="Message templates are used by every store: changing them needs "
                                                    "access to every store.")

    def perform_create(self, serializer):
        serializer.instance = services.save_template(MessageTemplate(), dict(serializer.validated_data), user=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.save_template(serializer.instance, dict(serializer.validated_data), user=self.request.user)

    def perform_destroy(self, instance):
        services.delete_template(instance, user=self.request.user)

    def _sample_ticket(self, reference):
        if reference:
            return resolve_tickets(self.request.user, [reference])[0]
        ticket = scope_queryset(RepairTicket.objects.select_related("store", "customer", "repair_type", "device_model", "technician"),
                                self.request.user).order_by("-received_at").first()
        if ticket is None:
            raise NotFound("No ticket to preview with; give a ticket reference.")
        return ticket

    def _preview(self, template_or_text, channel, ticket):
        """The rendered text, with the customer's contact data masked for people who may not message customers.
        A template that cannot be rendered (or breaks a cap) is a 400 naming subject or body."""
        subject, body, missing = messaging.render(template_or_text, ticket, preview=True,
                                                  mask_contacts=not masking.shows_contacts(self.request.user))
        return {"ticket": ticket.reference, "channel": channel, "subject": subject if channel == "email" else "",
                "body": body, "missing_variables": missing, "characters": len(body),
                "sms_segments": (len(body) + 152) // 153 if channel == "sms" and len(body) > 160 else (1 if channel == "sms" else None)}

    @extend_schema(request=s.TemplatePreviewRequest, responses={200: OpenApiResponse(description="Rendered subject and body")},
                   tags=["workflow-automation: messages"], summary="Preview a template rendered for a ticket")
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        template = self.get_object()
        params = s.TemplatePreviewRequest(data=request.data)
        params.is_valid(raise_exception=True)
        ticket = self._sample_ticket(params.validated_data.get("ticket"))
        body = self._preview(template, template.channel, ticket)
        plan = messaging.plan_message(ticket, template, mask_contacts=not masking.shows_contacts(request.user))
        body.update({"template": template.code, "would": plan.status, "reason": plan.reason, "to": plan.to_address})
        return Response(body)

    @extend_schema(request=s.DraftPreviewRequest, responses={200: OpenApiResponse(description="Rendered subject and body")},
                   tags=["workflow-automation: messages"], summary="Preview unsaved template text for a ticket",
                   operation_id="workflow_automation_message_templates_preview_draft")
    @action(detail=False, methods=["post"], url_path="preview")
    def preview_draft(self, request):
        params = s.DraftPreviewRequest(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        messaging.check_template_syntax(data.get("subject", ""), data["body"])
        ticket = self._sample_ticket(data.get("ticket"))
        return Response(self._preview({"subject": data.get("subject", ""), "body": data["body"]}, data["channel"], ticket))


@extend_schema(tags=["workflow-automation: messages"], summary="The outbox of customer messages (filters: status, channel, event, ticket)")
class OutboxViewSet(viewsets.ReadOnlyModelViewSet):
    """Who was sent what: for the people who message customers (staff, managers, admins)."""

    serializer_class = s.OutboxMessageSerializer
    pagination_class = MessagePages
    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = roles.SEND_MESSAGES
    filterset_fields = ["status", "channel", "event"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no query
            return OutboxMessage.objects.none()
        messages = OutboxMessage.objects.select_related("ticket", "customer", "template").order_by("-created_at")
        ticket = self.request.query_params.get("ticket")
        if ticket:
            messages = messages.filter(ticket__reference=ticket)
        return scoped(messages, self.request.user, "ticket__store")


@extend_schema_view(
    list=extend_schema(tags=["workflow-automation: QA"], summary="QA inspections (filters: passed, ticket, technician, store)"),
    retrieve=extend_schema(tags=["workflow-automation: QA"]),
    create=extend_schema(request=s.QAInspectionCreate, responses={201: s.QAInspectionSerializer}, tags=["workflow-automation: QA"],
                         summary="Record a QA inspection of a ticket in quality check (moves it to ready, or back to repair)"),
)
class QAInspectionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.QAInspectionSerializer
    pagination_class = InspectionPages
    permission_classes = [permissions.IsAuthenticated, ActionCapability]
    read_capability, write_capability = roles.VIEW_WORKFLOW, roles.RECORD_QA
    filterset_fields = ["passed"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no query
            return QAInspection.objects.none()
        inspections = QAInspection.objects.select_related("ticket", "ticket__technician", "inspector").order_by("-inspected_at")
        params = self.request.query_params
        if params.get("ticket"):
            inspections = inspections.filter(ticket__reference=params["ticket"])
        if params.get("technician"):
            inspections = inspections.filter(ticket__technician__code=params["technician"])
        if params.get("store"):
            inspections = inspections.filter(ticket__store=resolve_store(self.request.user, params["store"]))
        return scoped(inspections, self.request.user, "ticket__store")

    def create(self, request, *args, **kwargs):
        params = s.QAInspectionCreate(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        ticket = resolve_tickets(request.user, [data["ticket"]])[0]
        if ticket.status != TicketStatus.QUALITY_CHECK:
            return Response({"ticket": [f"QA is recorded for tickets in quality_check; {ticket.reference} is {ticket.status}."]},
                            status=status.HTTP_409_CONFLICT)
        inspection = services.record_qa(ticket, passed=data["passed"], checklist=data["checklist"], defects=data["defects"],
                                        notes=data["notes"], user=request.user)
        inspection = QAInspection.objects.select_related("ticket", "ticket__technician", "inspector").get(pk=inspection.pk)
        return Response(s.QAInspectionSerializer(inspection).data, status=status.HTTP_201_CREATED)
