"""Dashboard pages of the Workflow Automation panel (declared with mlanalytics.core.pages): each
page is a form for one endpoint and shows its figures; the same result feeds the PDF and Excel."""
from mlanalytics.core.pages import Action, AnalyticsPage, Chart, Column, Kpi, Link, RowAction, Series, Table
from mlanalytics.core.roles import APPLY_ALLOCATION, MANAGE_RULES, SEND_MESSAGES

from .api import views as api

TICKET_EVENTS = ("ticket_created", "ticket_status")


class OverviewPage(AnalyticsPage):
    api_view = api.OverviewView
    panel, slug, title = "workflow", "overview", "Process Automation Controls"
    intro = "The repair queue now, cycle time and SLA over the last 7 and 30 days, automations and messages today."
    kpis = [Kpi("work_in_progress", "Work in progress", "int"), Kpi("overdue", "Past their promise", "int"),
            Kpi("due_within_sla_risk_hours", "Due within the SLA-risk window", "int"),
            Kpi("sla_compliance.last_7_days.compliance", "SLA met (7 days)", "pct", "30 days:", "sla_compliance.last_30_days.compliance"),
            Kpi("cycle_time_hours.last_7_days.median", "Median cycle time (h, 7 days)", "num1", "p90:", "cycle_time_hours.last_7_days.p90"),
            Kpi("rules.active", "Active rules", "int"), Kpi("automations_today.matched", "Automations today", "int"),
            Kpi("open_alerts.total", "Open alerts", "int")]
    charts = [Chart.bar("status_counts", x="label", y="count", title="Open tickets by status", y_fmt="int")]
    tables = [Table("per_store", "Work in progress by store", (Column("store", "Store"), Column("wip", "In progress", "int"))),
              Table("messages_today", "Messages today by status", (Column("name", "Status"), Column("value", "Messages", "int")))]
    refresh_on = TICKET_EVENTS + ("alert",)


class AutomationPage(AnalyticsPage):
    api_view = api.RepairAutomationView
    panel, slug, title = "workflow", "automation", "Rules engine"
    intro = ("Triage of the open tickets (predicted repair time, ready time, priority score) and what the rules "
             "would do now. Nothing changes until a manager runs them for real.")
    method = "POST"
    form_exclude = ("dry_run", "tickets", "rules")
    actions = [Action("run", "Run the rules for real", MANAGE_RULES, data={"dry_run": False},
                      confirm="Run the rules and store the triage for these tickets?")]
    kpis = [Kpi("summary.tickets", "Tickets", "int"), Kpi("summary.sla_at_risk", "SLA at risk", "int"),
            Kpi("summary.rules_matched", "Rules matched", "int")]
    tables = [
        Table("actions", "What the rules do", (Column("ticket", "Ticket"), Column("store", "Store"), Column("rule", "Rule"),
                                               Column("action", "Action"), Column("result", "Result"), Column("detail", "Detail"))),
        Table("tickets", "Triage", (Column("ticket", "Ticket"), Column("store", "Store"), Column("status", "Status"),
                                    Column("priority", "Priority"), Column("triage.priority_score", "Score", "num1"),
                                    Column("triage.predicted_minutes", "Repair (min)", "int"),
                                    Column("triage.predicted_completion_at", "Predicted ready", "datetime"),
                                    Column("promised_at", "Promised", "datetime"), Column("triage.sla_at_risk", "SLA at risk", "bool"))),
        Table("rules", "Automation rules", (Column("name", "Rule"), Column("trigger", "Trigger"), Column("store", "Store"),
                                            Column("condition", "When"), Column("actions", "Does"), Column("enabled", "On", "bool"),
                                            Column("fired_last_7_days", "Fired (7 days)", "int")),
              row_actions=(RowAction("Switch on", Link("workflow-api:rule-enable", args=("{id}",)), MANAGE_RULES),
                           RowAction("Switch off", Link("workflow-api:rule-disable", args=("{id}",)), MANAGE_RULES))),
    ]
    refresh_on = TICKET_EVENTS


class ProcessPage(AnalyticsPage):
    api_view = api.PerformanceOptimizationPageView
    panel, slug, title = "workflow", "process", "Process performance and what-if"
    intro = ("Time in each stage from the status history, the bottleneck, Little's law, technician utilisation, and a "
             "simulation of the repair queue with changed capacity.")
    method = "POST"
    kpis = [Kpi("bottleneck.stage", "Bottleneck", "text", "share of cycle time:", "bottleneck.share_of_cycle_time", "pct"),
            Kpi("littles_law.ratio", "Little's law L / λW", "num2", "WIP", "littles_law.wip", "num1"),
            Kpi("utilisation", "Technician utilisation", "pct")]
    charts = [
        Chart.bar("stages", x="stage", y=["median_working_hours", "p90_working_hours"], title="Time in stage (working hours)"),
        Chart.bar("simulation.stores", x="store", y=["measured.mean_hours", "simulated_baseline.mean_hours", "scenario.mean_hours"],
                  title="Mean cycle time (h): measured, simulated today, simulated with the change"),
    ]
    tables = [
        Table("simulation.stores", "What-if simulation by store", (
            Column("store", "Store"), Column("tickets_compared", "Tickets", "int"), Column("measured.mean_hours", "Measured (h)", "num1"),
            Column("simulated_baseline.mean_hours", "Simulated (h)", "num1"), Column("baseline_error_pct.mean_hours", "Error %", "num2"),
            Column("scenario.mean_hours", "With change (h)", "num1"), Column("change.mean_hours", "Change (h)", "num2"),
            Column("simulated_baseline.sla_compliance", "SLA today", "pct"), Column("scenario.sla_compliance", "SLA with change", "pct"))),
        Table("stages", "Time in stage", (Column("stage", "Stage"), Column("visits", "Visits", "int"), Column("median_hours", "Median (h)", "num2"),
                                          Column("p90_hours", "p90 (h)", "num2"), Column("median_working_hours", "Median working (h)", "num2"),
                                          Column("share_of_cycle_time", "Share of cycle", "pct"))),
        Table("technicians", "Technicians", (Column("technician", "Technician"), Column("store", "Store"), Column("repairs", "Repairs", "int"),
                                             Column("repairs_per_day", "Per day worked", "num2"), Column("utilisation", "Utilisation", "pct"))),
        Table("in_repair_to_ready_by_repair_type", "In repair → ready by repair type", (
            Column("repair_type", "Repair type"), Column("n", "Repairs", "int"), Column("median", "Median (h)", "num2"),
            Column("p90", "p90 (h)", "num2"), Column("median_working_hours", "Median working (h)", "num2"))),
    ]


class AnalyticsOverTimePage(AnalyticsPage):
    api_view = api.AnalyticsView
    panel, slug, title = "workflow", "analytics", "Workflow analytics"
    kpis = [Kpi("totals.completed", "Repairs completed", "int"), Kpi("totals.median_cycle_hours", "Median cycle time (h)", "num1"),
            Kpi("totals.sla_compliance", "SLA met", "pct"), Kpi("totals.first_time_fix_rate", "First-time fix", "pct"),
            Kpi("totals.automations", "Automations", "int")]
    charts = [
        Chart("timeseries", "Throughput", (Series("over_time", "period", "intake", "Intake"), Series("over_time", "period", "completed", "Completed")), y_fmt="int"),
        Chart.timeseries("over_time", "period", "median_cycle_hours", "Median cycle time (hours)"),
        Chart("timeseries", "SLA compliance and first-time fix", (Series("over_time", "period", "sla_compliance", "SLA met"),
                                                                 Series("over_time", "period", "first_time_fix_rate", "First-time fix")), y_fmt="pct"),
    ]
    tables = [Table("technicians", "Technician productivity", (
        Column("technician", "Technician"), Column("store", "Store"), Column("repairs", "Repairs", "int"),
        Column("repairs_per_day", "Per day worked", "num2"), Column("labour_minutes", "Labour minutes", "int"),
        Column("utilisation", "Utilisation", "pct")))]


class CommunicationPage(AnalyticsPage):
    api_view = api.CustomerCommunicationView
    panel, slug, title = "workflow", "communication", "Communication Manager"
    intro = "Preview a message for one ticket or a batch, then send it: consent, quiet hours and duplicates are checked."
    method = "POST"
    compute_on_load = False
    form_exclude = ("mode",)
    actions = [Action("send", "Send to customers", SEND_MESSAGES, data={"mode": "send"}, confirm="Send these messages now?")]
    tables = [Table("messages", "Messages", (Column("ticket", "Ticket"), Column("template", "Template"), Column("channel", "Channel"),
                                             Column("to", "To"), Column("subject", "Subject"), Column("status", "Status"),
                                             Column("reason", "Why"), Column("body", "Text"))),
              Table("summary", "By status", (Column("name", "Status"), Column("value", "Messages", "int")))]


class QualityPage(AnalyticsPage):
    api_view = api.QualityAssuranceView
    panel, slug, title = "workflow", "quality", "Quality Assurance Monitor"
    intro = "QA failure and comeback rates on p-charts (3σ limits); red rows are out of control."
    method = "POST"
    kpis = [Kpi("qa.pass_rate", "QA pass rate", "pct"), Kpi("comebacks.rate", "Comeback rate (90 days)", "pct"),
            Kpi("comeback_risk.summary.expected_comebacks", "Expected comebacks (recent repairs)", "num1")]
    charts = [
        Chart("timeseries", "QA failures per week with control limits",
              (Series("qa.weekly", "week", "rate", "Failure rate", lower="lcl", upper="ucl"),), y_fmt="pct"),
        Chart("bar", "QA failure rate by technician vs upper control limit",
              (Series("qa.by_technician.rows", "key", "rate", "Failure rate"), Series("qa.by_technician.rows", "key", "ucl", "UCL", mode="markers")),
              y_fmt="pct"),
    ]
    tables = [
        Table("out_of_control", "Out of control", (Column("metric", "Metric"), Column("dimension", "By"), Column("label", "Who / what"),
                                                   Column("store", "Store"), Column("n", "n", "int"), Column("p", "Rate", "pct"),
                                                   Column("ucl", "UCL", "pct"), Column("centre", "Centre", "pct"))),
        Table("qa.by_technician.rows", "QA by technician", (Column("label", "Technician"), Column("store", "Store"), Column("n", "Inspections", "int"),
                                                           Column("rate", "Failure rate", "pct"), Column("lcl", "LCL", "pct"),
                                                           Column("ucl", "UCL", "pct"), Column("signal", "Signal"))),
        Table("comebacks.by_technician.rows", "Comebacks by technician", (Column("label", "Technician"), Column("store", "Store"),
                                                                         Column("n", "Repairs", "int"), Column("rate", "Comeback rate", "pct"),
                                                                         Column("ucl", "UCL", "pct"), Column("signal", "Signal"))),
        Table("qa.by_repair_type.rows", "QA by repair type", (Column("label", "Repair type"), Column("n", "Inspections", "int"),
                                                             Column("rate", "Failure rate", "pct"), Column("ucl", "UCL", "pct"), Column("signal", "Signal"))),
        Table("qa.by_supplier.rows", "QA by parts supplier", (Column("label", "Supplier"), Column("n", "Inspections", "int"),
                                                             Column("rate", "Failure rate", "pct"), Column("ucl", "UCL", "pct"), Column("signal", "Signal"))),
        Table("comeback_risk.highest", "Recent repairs most likely to come back", (
            Column("ticket", "Ticket"), Column("technician", "Technician"), Column("repair_type", "Repair type"),
            Column("supplier", "Supplier"), Column("completed_at", "Ready", "datetime"), Column("risk", "Risk", "pct"))),
    ]


class AllocationPage(AnalyticsPage):
    api_view = api.ResourceAllocationView
    panel, slug, title = "workflow", "allocation", "Resource Allocation Optimizer"
    intro = "Open tickets assigned to technicians by integer programming: skills, shift minutes left, priority and promises."
    method = "POST"
    form_exclude = ("apply", "tickets")
    actions = [Action("apply", "Apply these assignments", APPLY_ALLOCATION, data={"apply": True},
                      confirm="Assign the tickets as planned? Technicians are told at once.")]
    kpis = [Kpi("summary.assigned", "Assigned", "int"), Kpi("summary.unassigned", "Unassigned", "int"),
            Kpi("summary.utilisation", "Planned utilisation", "pct"),
            Kpi("summary.objective", "Plan value", "num1", "obvious rule:", "summary.greedy_objective", "num1")]
    charts = [Chart.bar("technicians", x="technician", y=["committed_minutes", "planned_minutes", "available_minutes"],
                        title="Minutes per technician over the horizon", y_fmt="int")]
    tables = [
        Table("assignments", "Assignments", (Column("store", "Store"), Column("technician_name", "Technician"), Column("ticket", "Ticket"),
                                             Column("priority", "Priority"), Column("repair_type", "Repair type"), Column("minutes", "Minutes", "int"),
                                             Column("expected_start", "Start", "datetime"), Column("expected_completion", "Done", "datetime"),
                                             Column("promised_at", "Promised", "datetime"), Column("late", "Late", "bool"))),
        Table("unassigned", "Not assigned", (Column("store", "Store"), Column("ticket", "Ticket"), Column("priority", "Priority"),
                                             Column("reason", "Why"))),
        Table("stores", "Solver", (Column("store", "Store"), Column("solver_status", "Status"), Column("objective", "Value", "num2"),
                                   Column("greedy_objective", "Obvious rule", "num2"), Column("mip_gap", "Gap", "num2"),
                                   Column("utilisation", "Utilisation", "pct"))),
    ]
    refresh_on = TICKET_EVENTS
