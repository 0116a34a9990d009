"""Dashboard pages of the Workflow Automation panel (SPEC §5), declared with the page machinery
(mlanalytics.core.pages, docs/dashboards.md). One page per workflow endpoint, each calling the endpoint's
own handle(), so the page, the API and the PDF/Excel exports show the same figures:

  Process Automation Controls    overview (GET overview, with the live WorkflowStatus above the figures),
                                 automation (POST repair-automation: triage, what the rules would do, switch
                                 a rule on or off), process (POST performance-optimization), analytics (GET analytics)
  Communication Manager          communication (POST customer-communication: a preview on load, sending on a button)
  Quality Assurance Monitor      quality (POST quality-assurance); ?technician=, ?repair_type= or ?supplier=
                                 opens that one's detail (its own weekly p-chart, rates against the limits,
                                 utilisation and repairs per day from the analytics endpoint)
  Resource Allocation Optimizer  allocation (POST resource-allocation; managers apply the plan)

Every technician, repair type, supplier and store in a table or chart opens its detail. `display_body()`
only re-arranges an answer for charts and tables (counts of its rows, a mapping as rows, the store the page
is scoped to for drill links); every figure shown is one of the response's own or counted from its rows.
The one figure read beside an endpoint is a technician's weekly p-chart (selectors.technician_weekly_quality),
counted exactly as the endpoint counts the technician's row, so the weeks add up to it.
"""
from collections import Counter
from dataclasses import replace
from datetime import datetime

from django.urls import reverse
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers

from mlanalytics.core.formatting import format_value, humanize_key
from mlanalytics.core.pages import (
    Action,
    AnalyticsPage,
    Chart,
    Column,
    Insight,
    Kpi,
    Link,
    RowAction,
    Series,
    Table,
    prepare_chart,
    prepare_table,
    request_fields,
    resolve_path,
    run_endpoint,
)
from mlanalytics.core.roles import APPLY_ALLOCATION, MANAGE_RULES, SEND_MESSAGES, VIEW_INVENTORY, has_capability
from mlanalytics.core.models import Alert
from mlanalytics.core.scoping import resolve_stores
from mlanalytics.core.selectors import status_counts_by_store, status_order

from . import selectors
from .api import views as api
from .models import AutomationRule, Channel, TicketStatus

TICKET_EVENTS = ("ticket_created", "ticket_status")
STATUS_LABELS = dict(TicketStatus.choices)
TRIGGER_LABELS = dict(AutomationRule.Trigger.choices)
CHANNEL_LABELS = dict(Channel.choices)
PRIORITY_ORDER = ("urgent", "high", "normal", "low")
CHART_ROWS = 15  # bars in a ranked chart; the table below holds every row
DEFAULT_EVENT = "ready_for_collection"  # the Communication Manager previews this on load (tickets waiting to be collected)
SIGNALS = {"above_ucl": "Above the UCL: out of control", "below_lcl": "Below the LCL: better than the rest", "": "Within the limits"}


# --- Drill-down links -----------------------------------------------------------------------------------------
# A technician, a repair type or a supplier opens its detail on the Quality Assurance Monitor, for the store the
# clicked page showed (`page_store`; none: all the person's stores), so the detail's limits are those of the row.


def technician_link(key="technician"):
    return Link("workflow:quality", query={"technician": "{" + key + "}", "store": "{page_store}"}, optional=("store",))


def repair_type_link(key="repair_type"):
    return Link("workflow:quality", query={"repair_type": "{" + key + "}", "store": "{page_store}"}, optional=("store",))


def supplier_link(key="supplier"):
    return Link("workflow:quality", query={"supplier": "{" + key + "}", "store": "{page_store}"}, optional=("store",))


def store_link(slug):
    """A store opens the same page for that store alone."""
    return Link(f"workflow:{slug}", query={"store": "{store}"})


def _rows(body, path, **extra):
    """The list at `path` with the page's store (for drill links) and `extra` values on every row."""
    return [{**r, "page_store": body.get("page_store", ""), **extra} for r in resolve_path(body, path) or []]


# --- The panel's page base ----------------------------------------------------------------------------------------


class WorkflowPage(AnalyticsPage):
    """What the workflow pages share: the panel, the store the page is scoped to (for drill links that keep
    it), and pickers: a serializer field taking ticket references, rule ids or an event as free text is
    offered as a choice of the shop's own tickets, rules or events, and a list of fixed choices (statuses,
    triggers, channels) as a multiple choice instead of comma-separated text."""

    panel = "workflow"
    pickers = {}  # form field -> name of a method(stores) returning [(value, label)]
    form_help = {}  # form field -> help text where the serializer's speaks of typing

    def results_context(self, result):
        if result is not None and result.ok:
            # The store the request was scoped to (blank: all the user's stores), so drill links keep it.
            result = replace(result, body={**result.body, "page_store": (result.params or {}).get("store") or ""})
        return super().results_context(result)

    def context(self, request, data, result):
        context = super().context(request, data, result)
        self.offer_choices(context["form_fields"], request, data)
        return context

    def form_stores(self, request, data):
        try:
            return resolve_stores(request.user, data.get("store") or None)
        except (drf_exceptions.NotFound, drf_exceptions.PermissionDenied):
            return resolve_stores(request.user)

    def offer_choices(self, form_fields, request, data):
        fields = request_fields(self.api_view)
        stores = None
        for item in form_fields:
            field = fields.get(item.name)
            if item.name in self.pickers:
                if stores is None:
                    stores = self.form_stores(request, data)
                choices = list(getattr(self, self.pickers[item.name])(stores))
            elif isinstance(field, serializers.ListField) and isinstance(field.child, serializers.ChoiceField):
                names = self.choice_labels.get(item.name, {})
                choices = [(str(k), names.get(str(k)) or (humanize_key(v) if str(v) == str(k) else str(v)))
                           for k, v in field.child.choices.items()]
            else:
                continue
            if isinstance(field, serializers.ListField):
                value = data.get(item.name)
                if value is None:
                    value = field.default() if callable(field.default) else field.default
                item.kind = "multiselect"
                item.value = [str(v) for v in (value if isinstance(value, (list, tuple)) else [])]
                if not field.help_text or item.help == "Separate several values with commas.":
                    item.help = "Choose one or more (Ctrl or ⌘ and click on a computer); none: all of them."
            else:
                item.kind = "select"
                item.value = str(data.get(item.name) or "")
            item.help = self.form_help.get(item.name, item.help)
            known = {value for value, _ in choices}
            # A value asked for by a link or an earlier run stays chosen even when it is not offered (e.g. a closed ticket).
            choices += [(v, v) for v in (item.value if isinstance(item.value, list) else [item.value]) if v and v not in known]
            item.choices = choices

    @staticmethod
    def open_ticket_choices(stores):
        return selectors.ticket_choices(stores, selectors.ACTIVE_STATUSES)

    @staticmethod
    def allocatable_ticket_choices(stores):
        return selectors.ticket_choices(stores, selectors.ALLOCATABLE)

    @staticmethod
    def rule_choices(stores):
        return selectors.rule_choices(stores)

    @staticmethod
    def technician_choices(stores):
        return selectors.technician_choices(stores)

    @staticmethod
    def event_choices(stores):
        return selectors.message_events()


# --- Process Automation Controls ---------------------------------------------------------------------------------


class OverviewPage(WorkflowPage):
    api_view = api.OverviewView
    slug, title = "overview", "Process Automation Controls"
    intro = ("The repair queue now (tickets by status update live as work moves), work in progress by store, cycle time and "
             "SLA over the last 7 and 30 days, automations and messages today. Click a store for its own figures; the Rules "
             "engine tab shows what the automations would do to each open ticket.")
    template_name = "workflow/overview.html"
    kpis = [Kpi("work_in_progress", "Work in progress", "int", note="received to quality check"),
            Kpi("overdue", "Past their promise", "int"),
            Kpi("due_within_sla_risk_hours", "Due within the SLA-risk window", "int"),
            Kpi("sla_compliance.last_7_days.compliance", "SLA met (7 days)", "pct", "30 days:", "sla_compliance.last_30_days.compliance"),
            Kpi("cycle_time_hours.last_7_days.median", "Median cycle time (h, 7 days)", "num1", "p90:", "cycle_time_hours.last_7_days.p90"),
            Kpi("rules.active", "Active rules", "int", note="of {}", note_path="rules.total"),
            Kpi("automations_today.matched", "Automations today", "int", note="{} rule runs", note_path="automations_today.runs"),
            Kpi("open_alerts.total", "Open alerts", "int")]
    charts = [
        Chart.bar("display.store_status", "store", "count", "Work in progress by store and status", group="status_label",
                  stacked=True, y_fmt="int", height=300, drill=store_link("overview")),
        Chart("bar", "Cycle time, received to ready (hours)", (
            Series("display.cycle", "period", "median", "Median"), Series("display.cycle", "period", "p90", "90th percentile"),
        ), y_fmt="num1", height=300, note="Repairs that became ready in the period; wall-clock hours."),
    ]
    tables = [
        Table("display.per_store", "Work in progress by store", (
            Column("store", "Store", link=store_link("overview")), Column("wip", "In progress", "int"),
            *(Column(f"by_status.{s}", STATUS_LABELS[s], "int") for s in selectors.ACTIVE_STATUSES))),
        Table("messages_today", "Messages today by status", (Column("name", "Status"), Column("value", "Messages", "int")),
              empty="No customer messages yet today: the rules send them as tickets move (Communication Manager previews them)."),
        Table("display.alerts", "Open alerts by kind", (Column("kind", "Kind"), Column("count", "Open", "int")),
              empty="No open alerts for these stores."),
    ]
    refresh_on = TICKET_EVENTS + ("alert",)
    empty_text = "No tickets in these stores yet: book repairs in, or choose another store."

    @classmethod
    def display_body(cls, body):
        per_store = [{**r, "by_status": {s: (r.get("by_status") or {}).get(s, 0) for s in selectors.ACTIVE_STATUSES}}
                     for r in _rows(body, "per_store")]
        cycle = body.get("cycle_time_hours") or {}
        kinds = dict(Alert.Kind.choices)
        alerts = (body.get("open_alerts") or {}).get("by_kind") or {}
        return {**body, "display": {
            "per_store": per_store,
            "store_status": [{"store": r["store"], "status": s, "status_label": STATUS_LABELS[s], "count": (r.get("by_status") or {}).get(s, 0)}
                             for s in selectors.ACTIVE_STATUSES for r in per_store],
            "cycle": [{"period": label, "median": (cycle.get(key) or {}).get("median"), "p90": (cycle.get(key) or {}).get("p90")}
                      for key, label in (("last_7_days", "Last 7 days"), ("last_30_days", "Last 30 days"))],
            "alerts": [{"kind": kinds.get(k, humanize_key(k)), "count": n} for k, n in alerts.items()],
        }}

    def context(self, request, data, result):
        context = super().context(request, data, result)
        if result is not None and result.ok:  # WorkflowStatus: tickets by status, kept live by ticket events
            context["status_counts"] = status_counts_by_store(self.form_stores(request, data))
            context["statuses"] = status_order()
        return context


class AutomationPage(WorkflowPage):
    api_view = api.RepairAutomationView
    slug, title = "automation", "Rules engine"
    intro = ("Triage of the open tickets — predicted repair time (model, with its measured error), predicted ready time "
             "against the promise, priority score — and what the rules would do now. Nothing changes until a manager runs "
             "them for real. Click a ticket's bar to preview the delay message to its customer, a rule for its actions alone.")
    method = "POST"
    form_exclude = ("dry_run",)
    form_labels = {"tickets": "Only these tickets", "statuses": "Only tickets in these statuses", "triggers": "Rules with these triggers",
                   "rules": "Only these rules", "limit": "Tickets at most"}
    choice_labels = {"statuses": STATUS_LABELS, "triggers": TRIGGER_LABELS}
    pickers = {"tickets": "open_ticket_choices", "rules": "rule_choices"}
    actions = [Action("run", "Run the rules for real", MANAGE_RULES, data={"dry_run": False},
                      confirm="Run the rules and store the triage for these tickets?")]
    insights = (
        Insight("display.lead.predicted_minutes", "Most urgent ticket: predicted repair time (minutes)", "int",
                note="The ticket at the top of the triage table (highest priority score); its predicted ready time is there too."),
        Insight("display.queue_hours", "Predicted repair work in the open queue (hours)", "num1",
                note="Sum of the predicted repair minutes of the tickets below. MAE: mean absolute error on held-out repairs."),
    )
    kpis = [Kpi("summary.tickets", "Open tickets triaged", "int"),
            Kpi("summary.sla_at_risk", "SLA at risk", "int", note="{} predicted to miss the promise", note_path="display.predicted_late"),
            Kpi("summary.rules_matched", "Rules matched", "int", note="{} actions", note_path="display.action_count")]
    charts = [
        Chart.bar("display.slack", "ticket", "slack_hours", "Predicted ready against the promise (hours of slack)", label="Slack (h)",
                  orientation="h", y_fmt="num1", height=420,
                  drill=Link("workflow:communication", query={"ticket": "{ticket}", "event": "sla_delay", "store": "{store}"}),
                  note="Promised time minus predicted ready time; below zero: predicted late. Tightest first."),
        Chart.bar("display.score_bands", "band", "tickets", "Priority score distribution", label="Tickets", y_fmt="int", height=300,
                  x_label="Priority score (0–100)"),
        Chart.bar("display.rule_actions", "rule", "count", "What the rules would do, per rule", group="action", stacked=True,
                  orientation="h", y_fmt="int", height=320, drill=Link("workflow:automation", query={"rules": "{rule_id}", "store": "{page_store}"},
                                                                     optional=("store",))),
    ]
    tables = [
        Table("display.actions", "What the rules do", (
            Column("ticket", "Ticket"), Column("store", "Store", link=store_link("automation")),
            Column("rule", "Rule", link=Link("workflow:automation", query={"rules": "{rule_id}", "store": "{page_store}"}, optional=("store",))),
            Column("action", "Action"), Column("result", "Result"), Column("detail", "Detail")),
            empty="No rule matches these tickets now. Choose other triggers or rules above, or look again as tickets age."),
        Table("display.tickets", "Triage", (
            Column("ticket", "Ticket"), Column("store", "Store", link=store_link("automation")), Column("status_label", "Status"),
            Column("priority", "Priority"), Column("triage.priority_score", "Score", "num1"),
            Column("triage.predicted_minutes", "Repair (min)", "int"), Column("triage.predicted_completion_at", "Predicted ready", "datetime"),
            Column("promised_at", "Promised", "datetime"), Column("triage.slack_hours", "Slack (h)", "num1"),
            Column("triage.sla_at_risk", "SLA at risk", "bool")),
            row_flag="triage.sla_at_risk", row_flag_label="At risk",
            empty="No open tickets in these stores: nothing to triage."),
        Table("display.rules", "Automation rules", (
            Column("name", "Rule", link=Link("workflow:automation", query={"rules": "{id}", "store": "{page_store}"}, optional=("store",))),
            Column("trigger_label", "Trigger"), Column("store", "Store"), Column("condition", "When"), Column("actions", "Does"),
            Column("enabled", "On", "bool"), Column("fired_last_7_days", "Fired (7 days)", "int")),
            # One button per rule: the switch it needs (a rule that is on can only be switched off, and the reverse).
            row_actions=(RowAction("Switch on", Link("workflow-api:rule-enable", args=("{enable_id}",)), MANAGE_RULES),
                         RowAction("Switch off", Link("workflow-api:rule-disable", args=("{disable_id}",)), MANAGE_RULES,
                                   confirm="Switch this rule off? It stops acting on tickets until switched on again.")),
            actions_after=0, empty="No automation rules apply to these stores."),
    ]
    refresh_on = TICKET_EVENTS
    empty_text = "No open tickets and no rules for these settings: choose another store or fewer filters."

    @classmethod
    def display_body(cls, body):
        tickets = _rows(body, "tickets")
        for t in tickets:
            t["status_label"] = STATUS_LABELS.get(t.get("status"), t.get("status"))
        triaged = [t for t in tickets if t.get("triage")]
        slack = sorted((t for t in triaged if t["triage"].get("slack_hours") is not None), key=lambda t: t["triage"]["slack_hours"])
        bands = Counter(min(int(t["triage"]["priority_score"] // 10) * 10, 90) for t in triaged if t["triage"].get("priority_score") is not None)
        actions = _rows(body, "actions")
        per_rule = Counter((a.get("rule"), a.get("rule_id"), f"{humanize_key(a.get('action') or '?')} ({a.get('result')})") for a in actions)
        minutes = [t["triage"]["predicted_minutes"] for t in triaged if t["triage"].get("predicted_minutes") is not None]
        return {**body, "display": {
            "tickets": tickets, "actions": actions,
            "lead": triaged[0]["triage"] if triaged else None,
            "queue_hours": round(sum(minutes) / 60, 1) if minutes else None,
            "predicted_late": sum(1 for t in triaged if t["triage"].get("predicted_late")),
            "action_count": len(actions),
            "slack": [{"ticket": t["ticket"], "store": t["store"], "slack_hours": t["triage"]["slack_hours"]} for t in slack[:CHART_ROWS]],
            "score_bands": [{"band": f"{b}–{b + 10}", "tickets": bands.get(b, 0)} for b in range(0, 100, 10)] if bands else [],
            "rule_actions": [{"rule": rule, "rule_id": rule_id, "action": action, "count": n, "page_store": body.get("page_store", "")}
                             for (rule, rule_id, action), n in sorted(per_rule.items(), key=lambda kv: -kv[1])],
            "rules": [{**r, "trigger_label": TRIGGER_LABELS.get(r.get("trigger"), r.get("trigger")), "store": r.get("store") or "every store",
                       "enable_id": None if r.get("enabled") else r["id"], "disable_id": r["id"] if r.get("enabled") else None}
                      for r in _rows(body, "rules")],
        }}


class ProcessPage(WorkflowPage):
    api_view = api.PerformanceOptimizationPageView
    slug, title = "process", "Process performance and what-if"
    intro = ("Time in each stage from the status history, the bottleneck, Little's law, technician utilisation, and a "
             "simulation of the repair queue with changed capacity (set it in Settings). Click a technician for their "
             "quality and productivity, a store for its own figures.")
    method = "POST"
    form_labels = {"window_days": "Days of history", "extra_weekdays": "Extra technician on", "extra_count": "Extra technicians",
                   "extra_skills": "Their skills", "absent_technicians": "Without these technicians", "demand_factor": "Intake × (what-if)"}
    pickers = {"absent_technicians": "technician_choices"}
    form_help = {"absent_technicians": "What if they were away (Ctrl or ⌘ and click for several on a computer)."}
    kpis = [Kpi("display.bottleneck", "Bottleneck", "text", "share of cycle time:", "bottleneck.share_of_cycle_time", "pct"),
            Kpi("littles_law.ratio", "Little's law L / λW", "num2", "WIP", "littles_law.wip", "num1"),
            Kpi("utilisation", "Technician utilisation", "pct")]
    charts = [
        Chart("bar", "Time in stage (working hours)", (
            Series("display.stages", "stage_label", "median_working_hours", "Median"),
            Series("display.stages", "stage_label", "p90_working_hours", "90th percentile"),
        ), y_fmt="num1"),
        Chart("bar", "Mean cycle time (h): measured, simulated today, simulated with the change", (
            Series("display.stores", "store", "measured.mean_hours", "Measured"),
            Series("display.stores", "store", "simulated_baseline.mean_hours", "Simulated today"),
            Series("display.stores", "store", "scenario.mean_hours", "Simulated with the change"),
        ), y_fmt="num1", drill=store_link("process")),
        Chart.bar("display.technicians", "label", "utilisation", "Technician utilisation over the window", label="Utilisation",
                  orientation="h", y_fmt="pct", height=380, drill=technician_link(),
                  note="Labour minutes of repairs finished ÷ shift minutes."),
    ]
    tables = [
        Table("display.stores", "What-if simulation by store", (
            Column("store", "Store", link=store_link("process")), Column("tickets_compared", "Tickets", "int"),
            Column("measured.mean_hours", "Measured (h)", "num1"),
            Column("simulated_baseline.mean_hours", "Simulated (h)", "num1"), Column("baseline_error_pct.mean_hours", "Error %", "num2"),
            Column("scenario.mean_hours", "With change (h)", "num1"), Column("change.mean_hours", "Change (h)", "num2"),
            Column("simulated_baseline.sla_compliance", "SLA today", "pct"), Column("scenario.sla_compliance", "SLA with change", "pct"))),
        Table("display.stages", "Time in stage", (
            Column("stage_label", "Stage"), Column("visits", "Visits", "int"), Column("median_hours", "Median (h)", "num2"),
                                          Column("p90_hours", "p90 (h)", "num2"), Column("median_working_hours", "Median working (h)", "num2"),
                                          Column("share_of_cycle_time", "Share of cycle", "pct"))),
        Table("display.technicians", "Technicians", (
            Column("label", "Technician", link=technician_link()), Column("store", "Store", link=store_link("process")),
            Column("repairs", "Repairs", "int"), Column("repairs_per_day", "Per day worked", "num2"), Column("utilisation", "Utilisation", "pct"))),
        Table("display.by_repair_type", "In repair → ready by repair type", (
            Column("repair_type", "Repair type", link=repair_type_link()), Column("n", "Repairs", "int"), Column("median", "Median (h)", "num2"),
            Column("p90", "p90 (h)", "num2"), Column("median_working_hours", "Median working (h)", "num2"))),
    ]
    empty_text = "No repairs moved through the stages in this window: choose a longer window or another store."

    @classmethod
    def display_body(cls, body):
        technicians = [{**t, "label": f"{t.get('name')} ({t.get('technician')})"} for t in _rows(body, "technicians")]
        technicians.sort(key=lambda t: -(t.get("utilisation") or 0))
        bottleneck = (body.get("bottleneck") or {}).get("stage")
        return {**body, "display": {
            "bottleneck": STATUS_LABELS.get(bottleneck, bottleneck),
            "stages": [{**st, "stage_label": STATUS_LABELS.get(st.get("stage"), st.get("stage"))} for st in body.get("stages") or []],
            "stores": _rows(body, "simulation.stores"), "technicians": technicians,
            "by_repair_type": _rows(body, "in_repair_to_ready_by_repair_type"),
        }}


class AnalyticsOverTimePage(WorkflowPage):
    api_view = api.AnalyticsView
    slug, title = "analytics", "Workflow analytics"
    intro = ("How the workshop performs week by week (or month by month): tickets in and repairs out, cycle time, SLA "
             "compliance and first-time fix, automations and messages sent; and each technician's repairs and utilisation "
             "over the window. Click a technician for their quality and productivity, a store for its own figures.")
    form_labels = {"weeks": "Weeks of history", "granularity": "Per"}
    kpis = [Kpi("totals.completed", "Repairs completed", "int", note="{} tickets in", note_path="totals.intake"),
            Kpi("totals.median_cycle_hours", "Median cycle time (h)", "num1"),
            Kpi("totals.sla_compliance", "SLA met", "pct"), Kpi("totals.first_time_fix_rate", "First-time fix", "pct"),
            Kpi("totals.automations", "Automations", "int")]
    charts = [
        Chart("timeseries", "Throughput: tickets in and repairs completed", (
            Series("over_time", "period", "intake", "Tickets in"), Series("over_time", "period", "completed", "Completed")), y_fmt="int"),
        Chart.timeseries("over_time", "period", "median_cycle_hours", "Median cycle time (hours)", label="Median cycle time"),
        Chart("timeseries", "SLA compliance and first-time fix", (
            Series("over_time", "period", "sla_compliance", "SLA met"),
            Series("over_time", "period", "first_time_fix_rate", "First-time fix")), y_fmt="pct"),
        Chart("timeseries", "Automations and messages sent", (Series("over_time", "period", "automations", "Automations"),
                                                             Series("over_time", "period", "messages_sent", "Messages sent")), y_fmt="int"),
        Chart.bar("display.technicians", "label", "repairs_per_day", "Repairs per day worked, by technician", label="Repairs per day",
                  orientation="h", y_fmt="num2", height=380, drill=technician_link()),
    ]
    tables = [Table("display.technicians", "Technician productivity", (
        Column("label", "Technician", link=technician_link()), Column("store", "Store", link=store_link("analytics")),
        Column("repairs", "Repairs", "int"), Column("days_worked", "Days worked", "int"),
        Column("repairs_per_day", "Per day worked", "num2"), Column("labour_minutes", "Labour minutes", "int"),
        Column("utilisation", "Utilisation", "pct")), empty="No active technicians in these stores.")]
    empty_text = "No tickets in this window: choose more weeks of history or another store."

    @classmethod
    def display_body(cls, body):
        technicians = [{**t, "label": f"{t.get('name')} ({t.get('technician')})"} for t in _rows(body, "technicians")]
        technicians.sort(key=lambda t: -(t.get("repairs_per_day") or 0))
        return {**body, "display": {"technicians": technicians}}


# --- Communication Manager --------------------------------------------------------------------------------------


class CommunicationPage(WorkflowPage):
    api_view = api.CustomerCommunicationView
    slug, title = "communication", "Communication Manager"
    intro = ("What telling customers about an event would do now, ticket by ticket: which messages would go, which wait for "
             "quiet hours to end, which are suppressed (no consent or no address) and which were sent already. It opens on "
             "tickets ready to collect; choose another event, one ticket or statuses, then send.")
    method = "POST"
    form_exclude = ("mode",)
    form_labels = {"event": "Event", "ticket": "One ticket (reference)", "statuses": "Tickets in these statuses", "channels": "Channels",
                   "limit": "Tickets at most"}
    choice_labels = {"statuses": STATUS_LABELS}
    pickers = {"event": "event_choices"}
    form_help = {"event": "Events that have an active message template.", "ticket": "One ticket reference, e.g. LON1-0001234."}
    actions = [Action("send", "Send to customers", SEND_MESSAGES, data={"mode": "send"}, confirm="Send these messages now?")]
    kpis = [Kpi("tickets", "Tickets", "int", note="{} messages planned", note_path="display.planned"),
            Kpi("display.counts.queued", "Go now", "int"), Kpi("display.counts.held", "Held for quiet hours", "int"),
            Kpi("display.counts.suppressed", "Suppressed", "int", note="no consent or no address"),
            Kpi("display.counts.duplicate", "Already sent or queued", "int")]
    charts = [
        Chart.bar("display.by_status_channel", "status_label", "count", "Messages by status and channel", group="channel",
                  stacked=True, y_fmt="int", height=300),
        Chart.bar("display.reasons", "reason", "count", "Why a message does not go now", label="Messages", orientation="h",
                  y_fmt="int", height=300, note="Suppressed for consent or a missing address, held for quiet hours, or a duplicate."),
    ]
    tables = [
        Table("display.messages", "Messages", (
            Column("ticket", "Ticket", link=Link("workflow:communication", query={"ticket": "{ticket}", "event": "{event}", "store": "{store}"})),
            Column("store", "Store"), Column("template", "Template"), Column("channel", "Channel"), Column("to", "To"),
            Column("subject", "Subject"), Column("status", "Status"), Column("reason", "Why"), Column("body", "Text")),
            empty="No ticket is waiting for this message. Choose another event, statuses or one ticket above."),
        Table("summary", "By status", (Column("name", "Status"), Column("value", "Messages", "int"))),
    ]
    empty_text = "No ticket matches this event now: choose another event, statuses or one ticket in Settings."

    def form_data(self, request, querydict):
        data = super().form_data(request, querydict)
        if "event" not in data:  # open on a preview: tickets ready to collect (or the first event with a template)
            events = [event for event, _ in selectors.message_events()]
            default = DEFAULT_EVENT if DEFAULT_EVENT in events else (events[0] if events else None)
            if default:
                data["event"] = default
        return data

    @classmethod
    def display_body(cls, body):
        messages = _rows(body, "messages", event=body.get("event"))
        counts = {status: 0 for status in ("queued", "held", "suppressed", "duplicate", "not_applicable")}
        counts.update(body.get("summary") or {})
        by_status_channel = Counter((m.get("status"), m.get("channel")) for m in messages)
        reasons = Counter(_reason_group(m) for m in messages if m.get("status") not in ("queued", "sent"))
        return {**body, "display": {
            "messages": messages, "counts": counts, "planned": len(messages),
            "by_status_channel": [{"status": s, "status_label": humanize_key(s), "channel": CHANNEL_LABELS.get(c, c), "count": n}
                                  for (s, c), n in sorted(by_status_channel.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))],
            "reasons": [{"reason": r, "count": n} for r, n in reasons.most_common()],
        }}


def _reason_group(message):
    """A message's reason in words that group: quiet hours without their end time, the rest as the endpoint says."""
    status = message.get("status")
    if status == "held":
        return "Held: quiet hours"
    if status == "duplicate":
        return "Already sent or queued"
    return f"{humanize_key(status or '?')}: {message.get('reason') or 'no reason given'}"


# --- Quality Assurance Monitor ------------------------------------------------------------------------------------


def _signal(row, min_n):
    if row is None:
        return "–"
    if not row.get("judged", True):
        return f"Too few to judge (fewer than {min_n})"
    return SIGNALS.get(row.get("signal") or "", row.get("signal"))


def _qa_rows(body, path, metric):
    """p-chart rows with the signal in words and the scope's centre line on each (for the charts and tables)."""
    centre = resolve_path(body, path.rsplit(".", 1)[0] + ".centre")
    min_n = body.get("min_subgroup")
    return [{**r, "centre": centre, "signal_text": _signal(r, min_n), "metric": metric} for r in _rows(body, path)]


class QualityPage(WorkflowPage):
    api_view = api.QualityAssuranceView
    slug, title = "quality", "Quality Assurance Monitor"
    intro = ("QA failure and comeback rates on p-charts: each technician, repair type and parts supplier against control "
             "limits of ±3 standard errors around the centre line. Rows in red are out of control (above the upper limit) — "
             "look at that work first. Click a technician, repair type or supplier for their own chart and figures.")
    template_name = "workflow/quality.html"
    method = "POST"
    form_labels = {"window_days": "Days of history", "z": "Limit width (σ)", "min_subgroup": "Judge from (items)",
                   "recent_days": "Score repairs of the last (days)", "top": "Riskiest repairs listed"}
    insights = (
        Insight("comeback_risk.summary.expected_comebacks", "Comebacks expected from recent repairs", "num1",
                note="Sum of each recent repair's predicted chance of coming back within 90 days. AUC: how well the model "
                     "ranks repairs that came back above those that did not (0.5 = chance), on held-out repairs."),
        Insight("comeback_risk.highest.0.risk", "Highest comeback risk of a recent repair", "pct",
                note="The first repair in the table \"Recent repairs most likely to come back\"."),
    )
    kpis = [Kpi("qa.pass_rate", "QA pass rate", "pct", note="{} inspections", note_path="qa.n", note_fmt="int"),
            Kpi("comebacks.rate", "Comeback rate (90 days)", "pct", note="{} repairs followed up", note_path="comebacks.n", note_fmt="int"),
            Kpi("display.out_of_control_count", "Out of control", "int", note="technicians, repair types or suppliers above the UCL"),
            Kpi("comeback_risk.summary.repairs", "Recent repairs scored", "int")]
    charts = [
        Chart("timeseries", "p-chart: share of QA inspections failed, week by week", (
            Series("display.weekly", "week", "centre", "Centre line p̄", lower="lcl", upper="ucl", band="Control limits LCL–UCL (±{display.z}σ)"),
            Series("display.weekly", "week", "rate", "Observed proportion failed", mode="lines+markers"),
            Series("display.weekly", "week", "above_ucl", "Week above the UCL", mode="markers"),
        ), y_fmt="pct", note="Limits widen in weeks with fewer inspections (exact binomial limits with the tails of p̄ ± 3σ)."),
        Chart("bar", "QA failure rate by technician against their upper control limit", (
            Series("display.qa_technicians", "label", "rate", "Failure rate"),
            Series("display.qa_technicians", "label", "ucl", "UCL", mode="markers"),
        ), orientation="h", y_fmt="pct", height=400, drill=technician_link("key")),
        Chart("bar", "Comeback rate by technician against their upper control limit", (
            Series("display.comeback_technicians", "label", "rate", "Comeback rate"),
            Series("display.comeback_technicians", "label", "ucl", "UCL", mode="markers"),
        ), orientation="h", y_fmt="pct", height=400, drill=technician_link("key")),
    ]
    tables = [
        Table("display.out_of_control", "Out of control", (
            # The query key is the flag's own dimension: technician=…, repair_type=… or supplier=… opens its detail.
            Column("label", "Who / what",
                   link=Link("workflow:quality", query={"{dimension}": "{key}", "store": "{page_store}"}, optional=("store",))),
            Column("metric_label", "Metric"), Column("dimension_label", "By"), Column("store", "Store"), Column("n", "n", "int"),
            Column("p", "Rate", "pct"), Column("ucl", "UCL", "pct"), Column("centre", "Centre", "pct")),
            row_flag="flagged", row_flag_label="Out of control",
            empty="Nothing is out of control: every technician, repair type and supplier is within its limits."),
        Table("display.qa_technicians", "QA by technician", (
            Column("label", "Technician", link=technician_link("key")), Column("store", "Store", link=store_link("quality")),
            Column("n", "Inspections", "int"), Column("x", "Failed", "int"), Column("rate", "Failure rate", "pct"),
            Column("lcl", "LCL", "pct"), Column("ucl", "UCL", "pct"), Column("signal_text", "Signal")),
            row_flag="out_of_control", row_flag_label="Out of control"),
        Table("display.comeback_technicians", "Comebacks by technician", (
            Column("label", "Technician", link=technician_link("key")), Column("store", "Store", link=store_link("quality")),
            Column("n", "Repairs", "int"), Column("x", "Came back", "int"), Column("rate", "Comeback rate", "pct"),
            Column("ucl", "UCL", "pct"), Column("signal_text", "Signal")),
            row_flag="out_of_control", row_flag_label="Out of control"),
        Table("display.qa_repair_types", "QA by repair type", (
            Column("label", "Repair type", link=repair_type_link("key")), Column("n", "Inspections", "int"),
            Column("rate", "Failure rate", "pct"), Column("ucl", "UCL", "pct"), Column("signal_text", "Signal")),
            row_flag="out_of_control", row_flag_label="Out of control"),
        Table("display.qa_suppliers", "QA by parts supplier", (
            Column("label", "Supplier", link=supplier_link("key")), Column("n", "Inspections", "int"),
            Column("rate", "Failure rate", "pct"), Column("ucl", "UCL", "pct"), Column("signal_text", "Signal")),
            row_flag="out_of_control", row_flag_label="Out of control"),
        Table("display.highest_risk", "Recent repairs most likely to come back", (
            Column("ticket", "Ticket"), Column("technician", "Technician", link=technician_link()),
            Column("repair_type", "Repair type", link=repair_type_link()), Column("supplier", "Supplier", link=supplier_link("supplier_key")),
            Column("completed_at", "Ready", "datetime"), Column("risk", "Risk", "pct")),
            empty="No recent repairs to score: train the comeback-risk model or choose a longer scoring window."),
    ]
    empty_text = "No QA inspections or finished repairs in this window: choose a longer window or another store."

    @classmethod
    def display_body(cls, body):
        centre = resolve_path(body, "qa.by_technician.centre")
        z = body.get("z")
        weekly = [{**w, "centre": centre, "above_ucl": w.get("rate") if w.get("signal") == "above_ucl" else None}
                  for w in resolve_path(body, "qa.weekly") or []]
        flags = [{**f, "page_store": body.get("page_store", ""), "flagged": True,
                  "metric_label": {"qa_fail_rate": "QA failure rate", "comeback_rate": "Comeback rate"}.get(f.get("metric"), f.get("metric")),
                  "dimension_label": humanize_key(f.get("dimension") or "")} for f in body.get("out_of_control") or []]
        return {**body, "display": {
            "z": f"{z:g}" if isinstance(z, (int, float)) else z,
            "weekly": weekly, "out_of_control": flags, "out_of_control_count": len(flags),
            "qa_technicians": _qa_rows(body, "qa.by_technician.rows", "qa_fail_rate"),
            "comeback_technicians": _qa_rows(body, "comebacks.by_technician.rows", "comeback_rate"),
            "qa_repair_types": _qa_rows(body, "qa.by_repair_type.rows", "qa_fail_rate"),
            "qa_suppliers": _qa_rows(body, "qa.by_supplier.rows", "qa_fail_rate"),
            "highest_risk": _risk_rows(body),
        }}

    def context(self, request, data, result):
        context = super().context(request, data, result)
        if result is None or not result.ok:
            return context
        for param, build, back in (("technician", technician_detail, "Back to every technician"),
                                   ("repair_type", repair_type_detail, "Back to every repair type"),
                                   ("supplier", supplier_quality_detail, "Back to every supplier")):
            code = request.GET.get(param, "").strip()
            if code:
                context["detail"] = {**build(request, result, code), "clear_url": _without(request, param), "clear_text": back}
                break
        return context


def _without(request, *names):
    """This page's URL without the given query parameters (the way back from a detail)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _tile(key, label, value, fmt, note=""):
    """A PerformanceMetrics tile for a detail card."""
    return {"key": f"detail-{key}", "path": "", "label": label, "text": format_value(value, fmt), "fmt": fmt, "note": note}


def _find(rows, key):
    return next((r for r in rows or [] if str(r.get("key", "")).lower() == key.lower()), None)


def _subgroup_rows(body, dimension, code):
    """(QA row, comeback row) of one technician, repair type or supplier in a quality-assurance answer."""
    return (_find(resolve_path(body, f"qa.by_{dimension}.rows"), code),
            _find(resolve_path(body, f"comebacks.by_{dimension}.rows"), code))


def _rate_tiles(prefix, qa_row, comeback_row, body):
    """QA failure and comeback rate tiles of one technician, repair type or supplier, against their limits."""
    min_n = body.get("min_subgroup")
    tiles = []
    for name, row, label, items, bad in (("qa", qa_row, "QA failure rate", "inspections", "failed"),
                                         ("comeback", comeback_row, "Comeback rate (90 days)", "repairs", "came back")):
        if row is None:
            tiles.append(_tile(f"{prefix}-{name}", label, None, "pct", note=f"no {items} in this window"))
            continue
        tiles.append(_tile(f"{prefix}-{name}", label, row.get("rate"), "pct",
                           note=f"{row.get('x')} of {row.get('n')} {items} {bad}; UCL {format_value(row.get('ucl'), 'pct')} · "
                                f"{_signal(row, min_n)}"))
    return tiles


def _risk_table(body, field, code, empty):
    rows = [r for r in _risk_rows(body) if str(r.get(field, "")).lower() == code.lower()]
    return prepare_table(Table("rows", "Its recent repairs among the most likely to come back", (
        Column("ticket", "Ticket"), Column("technician", "Technician", link=technician_link()),
        Column("repair_type", "Repair type", link=repair_type_link()), Column("supplier", "Supplier", link=supplier_link("supplier_key")),
        Column("completed_at", "Ready", "datetime"), Column("risk", "Risk", "pct")), empty=empty), {"rows": rows})


def _risk_rows(body):
    """The riskiest recent repairs; "none" (a repair that used no part) is no supplier to open."""
    return [{**r, "supplier_key": r.get("supplier") if r.get("supplier") not in (None, "", "none") else None}
            for r in _rows(body, "comeback_risk.highest")]


def _window(body):
    window = body.get("data_window") or {}
    return datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])


def technician_detail(request, result, code):
    """One technician: their own weekly p-chart of QA failures (around the scope's centre line), their QA and
    comeback rates against the limits of the between-technicians charts, and their utilisation and repairs per
    day from the analytics endpoint over the same weeks."""
    body = result.body
    qa_row, comeback_row = _subgroup_rows(body, "technician", code)
    found = qa_row or comeback_row
    if found is None:
        return {"heading": f"Technician {code}",
                "missing": f"No technician {code} in these results: they had no inspections or finished repairs in this window at "
                           f"the stores shown. Choose their store or All my stores, or a longer window."}
    code = found["key"]
    store = (result.params or {}).get("store") or ""
    stores = resolve_stores(request.user, store or None)
    start, end = _window(body)
    centre = resolve_path(body, "qa.by_technician.centre")
    weekly = selectors.technician_weekly_quality(stores, code, start, end, z=body.get("z") or 3.0, centre=centre)
    weekly = [{**w, "above_ucl": w["rate"] if w.get("signal") == "above_ucl" else None} for w in weekly]
    weeks = max(4, min(104, round((end - start).days / 7)))
    analytics = run_endpoint(api.AnalyticsView, request, {"store": store, "weeks": weeks} if store else {"weeks": weeks})
    productivity = next((t for t in (analytics.body or {}).get("technicians") or [] if t.get("technician") == code), None) if analytics.ok else None
    tiles = _rate_tiles("technician", qa_row, comeback_row, body)
    if productivity is not None:
        tiles += [
            _tile("utilisation", "Utilisation", productivity.get("utilisation"), "pct",
                  note=f"labour ÷ shift minutes, last {weeks} weeks"),
            _tile("per-day", "Repairs per day worked", productivity.get("repairs_per_day"), "num2",
                  note=f"{productivity.get('repairs')} repairs in {productivity.get('days_worked')} days worked"),
        ]
    else:
        tiles.append(_tile("utilisation", "Utilisation", None, "pct", note=analytics.message or "not an active technician now"))
    z = f"{body.get('z'):g}" if isinstance(body.get("z"), (int, float)) else body.get("z")
    charts = [
        prepare_chart(Chart("timeseries", "Their p-chart: share of QA inspections failed, week by week", (
            Series("weekly", "week", "centre", "Centre line p̄ (every technician shown)", lower="lcl", upper="ucl",
                   band=f"Control limits LCL–UCL (±{z}σ)"),
            Series("weekly", "week", "rate", "Observed proportion failed", mode="lines+markers"),
            Series("weekly", "week", "above_ucl", "Week above the UCL", mode="markers"),
        ), y_fmt="pct", note="Their inspections each week; limits from the number inspected that week."), {"weekly": weekly}, 90),
        prepare_chart(Chart("timeseries", "Repairs they completed each week", (
            Series("weekly", "week", "completed", "Repairs completed", mode="lines+markers"),), y_fmt="int", height=260),
            {"weekly": weekly}, 91),
    ]
    return {
        "heading": f"Technician {found['label']}" + (f" · {found['store']}" if found.get("store") else ""),
        "intro": f"Over {format_value(start, 'date')} – {format_value(end, 'date')}; the limits are those of every technician "
                 f"at {store or 'your stores'}.",
        "tiles": tiles, "charts": charts,
        "table": _risk_table(body, "technician", code, "None of their recent repairs is among the riskiest listed."),
    }


def repair_type_detail(request, result, code):
    """One repair type: its QA failure and comeback rates against the limits, and its riskiest recent repairs."""
    body = result.body
    qa_row, comeback_row = _subgroup_rows(body, "repair_type", code)
    found = qa_row or comeback_row
    if found is None:
        return {"heading": f"Repair type {code}",
                "missing": f"No repair type {code} in these results: no inspections or finished repairs of it in this window."}
    excluded = resolve_path(body, "qa.by_repair_type.excluded_technicians") or []
    return {
        "heading": f"Repair type {found['label']}",
        "intro": ("Work of out-of-control technicians (" + ", ".join(excluded) + ") is left out of this chart, so one person's "
                  "problem is not blamed on the repair type.") if excluded else "",
        "tiles": _rate_tiles("repair-type", qa_row, comeback_row, body),
        "links": [{"url": _page_url("workflow:process", request), "text": "Time from repair to ready, by repair type (Process)"}],
        "table": _risk_table(body, "repair_type", found["key"], "None of its recent repairs is among the riskiest listed."),
    }


def supplier_quality_detail(request, result, code):
    """One parts supplier: the QA failure and comeback rates of repairs using its parts, against the limits."""
    body = result.body
    qa_row, comeback_row = _subgroup_rows(body, "supplier", code)
    found = qa_row or comeback_row
    if found is None:
        return {"heading": f"Supplier {code}",
                "missing": f"No supplier {code} in these results: no inspected repair used its parts in this window."}
    links = []
    if has_capability(request.user, VIEW_INVENTORY):
        scorecard = Link("inventory:supply-chain", query={"supplier": "{key}"}).for_row(found)
        if scorecard:
            links.append({"url": scorecard, "text": "Its supplier scorecard (Supply Chain Optimizer)"})
    return {
        "heading": f"Supplier {found['label']}",
        "tiles": _rate_tiles("supplier", qa_row, comeback_row, body), "links": links,
        "table": _risk_table(body, "supplier", found["key"], "None of the riskiest recent repairs used its parts."),
    }


def _page_url(url_name, request):
    """Another workflow page for the store this one shows."""
    store = request.GET.get("store")
    return reverse(url_name) + (f"?store={store}" if store else "")


# --- Resource Allocation Optimizer -------------------------------------------------------------------------------


class AllocationPage(WorkflowPage):
    api_view = api.ResourceAllocationView
    slug, title = "allocation", "Resource Allocation Optimizer"
    intro = ("Open tickets assigned to technicians by integer programming — skills, shift minutes left, priority and promises, "
             "with each ticket's repair time predicted for each technician by the repair-time model. Managers apply the plan; "
             "technicians are told at once. Click a technician for their quality and productivity.")
    method = "POST"
    form_exclude = ("apply",)
    form_labels = {"horizon_days": "Days ahead", "include_assigned": "Re-plan tickets already assigned (not started)",
                   "tickets": "Only these tickets"}
    pickers = {"tickets": "allocatable_ticket_choices"}
    actions = [Action("apply", "Apply these assignments", APPLY_ALLOCATION, data={"apply": True},
                      confirm="Assign the tickets as planned? Technicians are told at once.")]
    insights = (
        Insight("display.planned_hours", "Predicted repair work planned (hours)", "num1",
                note="Sum of the predicted minutes of the assignments below, each for the technician it goes to. "
                     "MAE: mean absolute error of the repair-time model on held-out repairs."),
    )
    kpis = [Kpi("summary.assigned", "Assigned", "int"), Kpi("summary.unassigned", "Unassigned", "int"),
            Kpi("display.late", "Planned to finish late", "int"),
            Kpi("summary.utilisation", "Planned utilisation", "pct"),
            Kpi("summary.objective", "Plan value", "num1", "obvious rule:", "summary.greedy_objective", "num1")]
    charts = [
        Chart("bar", "Minutes per technician over the horizon", (
            Series("display.technicians", "label", "committed_minutes", "Already on their bench"),
            Series("display.technicians", "label", "planned_minutes", "Planned now"),
            Series("display.technicians", "label", "available_minutes", "Available"),
        ), orientation="h", y_fmt="int", height=420, drill=technician_link()),
        Chart.bar("display.by_priority", "label", "tickets", "Tickets planned per technician, by priority", group="priority",
                  stacked=True, orientation="h", y_fmt="int", height=380, drill=technician_link()),
    ]
    tables = [
        Table("display.assignments", "Assignments", (
            Column("store", "Store", link=store_link("allocation")),
            Column("technician_name", "Technician", link=technician_link()), Column("ticket", "Ticket"),
            Column("priority", "Priority"), Column("repair_type", "Repair type", link=repair_type_link()),
            Column("minutes", "Minutes", "int"), Column("expected_start", "Start", "datetime"),
            Column("expected_completion", "Done", "datetime"), Column("promised_at", "Promised", "datetime"), Column("late", "Late", "bool")),
            row_flag="late", row_flag_label="Late",
            empty="Nothing to assign: no open ticket is waiting for a technician in these stores."),
        Table("unassigned", "Not assigned", (Column("store", "Store"), Column("ticket", "Ticket"), Column("priority", "Priority"),
                                             Column("reason", "Why")),
              empty="Every ticket that can be planned is assigned."),
        Table("display.stores", "Solver", (
            Column("store", "Store", link=store_link("allocation")), Column("solver_status", "Status"),
            Column("objective", "Value", "num2"), Column("greedy_objective", "Obvious rule", "num2"), Column("mip_gap", "Gap", "num2"),
            Column("utilisation", "Utilisation", "pct"))),
    ]
    refresh_on = TICKET_EVENTS
    empty_text = "No open tickets and no technicians on shift in these stores: choose another store or more days ahead."

    @classmethod
    def display_body(cls, body):
        technicians = [{**t, "label": f"{t.get('name')} ({t.get('technician')})"} for t in _rows(body, "technicians")]
        assignments = _rows(body, "assignments")
        names = {t["technician"]: t["label"] for t in technicians}
        per = Counter((a.get("technician"), a.get("priority")) for a in assignments)
        minutes = [a.get("minutes") for a in assignments if a.get("minutes") is not None]
        return {**body, "display": {
            "technicians": technicians, "assignments": assignments, "stores": _rows(body, "stores"),
            "late": sum(1 for a in assignments if a.get("late")),
            "planned_hours": round(sum(minutes) / 60, 1) if minutes else None,
            "by_priority": [{"technician": tech, "label": names.get(tech, tech), "priority": priority, "tickets": per[(tech, priority)],
                             "page_store": body.get("page_store", "")}
                            for priority in PRIORITY_ORDER for tech in names if per.get((tech, priority))],
        }}
