"""The dashboards' map: the three panels of SPEC §5, their views and the pages behind each view.

The navigation, the role checks and the "not available yet" placeholders all come from this one
list. A view holds one or more pages (tabs), each named by its URL name (`<panel>:<slug>`). When a
page's URL name cannot be reversed yet (its endpoint has not landed), the view shows an honest
empty state instead of figures. To add a page for an endpoint, declare it in `<app>/views.py` and
route it under the URL name listed here (docs/dashboards.md).
"""
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse

from .roles import (
    ACKNOWLEDGE_ALERTS, IMPORT_DATA, SUBSCRIBE_REPORTS, VIEW_INVENTORY, VIEW_PREDICTIVE, VIEW_WORKFLOW, has_capability,
)


@dataclass(frozen=True)
class PageRef:
    """One page of a view: its URL name, its tab label and the endpoint(s) it shows."""

    url_name: str
    label: str
    endpoints: tuple = ()

    def url(self):
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


@dataclass(frozen=True)
class DashboardView:
    """A view of a panel as named in SPEC §5, e.g. "Real-time Stock Monitor"."""

    slug: str
    title: str
    summary: str
    pages: tuple = ()

    def available_pages(self):
        return [(ref, ref.url()) for ref in self.pages if ref.url()]


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    capability: str
    views: tuple = field(default_factory=tuple)


PANELS = (
    Panel("predictive", "Predictive Analytics", VIEW_PREDICTIVE, (
        DashboardView("cost-optimization", "Cost Optimization",
                      "Where repair costs (parts and labour) can fall, with the saving and its interval.",
                      (PageRef("predictive:cost-optimization", "Cost opportunities", ("POST /api/predictive-analytics/cost-optimization/",)),)),
        DashboardView("demand-forecasting", "Demand Forecasting",
                      "Daily repair intake and per-part demand forecasts with prediction intervals and their backtest.",
                      (PageRef("predictive:repair-demand", "Repair intake", ("POST /api/predictive-analytics/repair-demand-forecast/",)),
                       PageRef("predictive:parts-demand", "Parts demand", ("POST /api/predictive-analytics/inventory-demand-prediction/",)))),
        DashboardView("customer-behavior", "Customer Behavior Insights",
                      "Repeat-visit (BG/NBD) and spend (Gamma-Gamma) models: who is active, lifetime value, at-risk customers.",
                      (PageRef("predictive:customer-behavior", "Customers", ("POST /api/predictive-analytics/customer-behavior-prediction/",)),)),
        DashboardView("business-metrics", "Business Metrics Tracker",
                      "Revenue, gross margin, ticket count and average ticket value with intervals.",
                      (PageRef("predictive:business-metrics", "Business metrics", ("POST /api/predictive-analytics/business-metrics-forecast/",)),)),
        DashboardView("model-performance", "Model Performance",
                      "Every trained model, its data window, backtest metrics over time and drift status.",
                      (PageRef("predictive:model-performance", "Model registry", ("GET /api/predictive-analytics/model-performance/",)),)),
    )),
    Panel("inventory", "Inventory Management", VIEW_INVENTORY, (
        DashboardView("stock-monitor", "Real-time Stock Monitor",
                      "Every SKU per store with its status, days of cover and projected stockout, updated live.",
                      (PageRef("inventory:stock-monitor", "Stock", ("GET /api/inventory-management/stock-monitoring/",)),
                       PageRef("inventory:overview", "Overview", ("GET /api/inventory-management/overview/",)))),
        DashboardView("reorder", "Automated Reorder System",
                      "Reorder points, order quantities and draft purchase orders grouped by supplier.",
                      (PageRef("inventory:reorder", "Reorder suggestions", ("POST /api/inventory-management/reorder-suggestions/",)),
                       PageRef("inventory:demand-forecast", "Stock projection", ("POST /api/inventory-management/demand-forecast/",)))),
        DashboardView("supply-chain", "Supply Chain Optimizer",
                      "Supplier scorecards, the cost-minimising allocation and the inventory cost policy.",
                      (PageRef("inventory:supply-chain", "Suppliers", ("POST /api/inventory-management/supply-chain-optimization/",)),
                       PageRef("inventory:cost-optimization", "Inventory cost", ("POST /api/inventory-management/cost-optimization/",)))),
        DashboardView("performance", "Performance Analytics",
                      "Turnover, GMROI, fill rate, ABC × XYZ and supplier on-time-in-full.",
                      (PageRef("inventory:performance", "Performance", ("GET /api/inventory-management/performance-analytics/",)),)),
    )),
    Panel("workflow", "Workflow Automation", VIEW_WORKFLOW, (
        DashboardView("automation", "Process Automation Controls",
                      "Tickets by status, the rules engine, stage times and what-if simulation.",
                      (PageRef("workflow:overview", "Overview", ("GET /api/workflow-automation/overview/",)),
                       PageRef("workflow:automation", "Rules engine", ("POST /api/workflow-automation/repair-automation/",)),
                       PageRef("workflow:process", "Process", ("POST /api/workflow-automation/performance-optimization/",)),
                       PageRef("workflow:analytics", "Analytics", ("GET /api/workflow-automation/analytics/",)))),
        DashboardView("communication", "Communication Manager",
                      "Customer messages by template, consent and quiet hours, and their delivery status.",
                      (PageRef("workflow:communication", "Messages", ("POST /api/workflow-automation/customer-communication/",)),)),
        DashboardView("quality", "Quality Assurance Monitor",
                      "QA pass and comeback rates with p-chart control limits and out-of-control flags.",
                      (PageRef("workflow:quality", "Quality", ("POST /api/workflow-automation/quality-assurance/",)),)),
        DashboardView("allocation", "Resource Allocation Optimizer",
                      "Optimal assignment of open tickets to technicians by skills, capacity and due dates.",
                      (PageRef("workflow:allocation", "Allocation", ("POST /api/workflow-automation/resource-allocation/",)),)),
    )),
)


def find_view(panel_key, view_slug):
    for panel in PANELS:
        if panel.key == panel_key:
            for view in panel.views:
                if view.slug == view_slug:
                    return panel, view
    return None, None


def view_of_page(url_name):
    """(panel, view) holding the page with this URL name, or (None, None)."""
    for panel in PANELS:
        for view in panel.views:
            if any(ref.url_name == url_name for ref in view.pages):
                return panel, view
    return None, None


def view_url(panel, view):
    """The first available page of the view, else its placeholder page."""
    pages = view.available_pages()
    if pages:
        return pages[0][1]
    return reverse("dashboard-view", args=[panel.key, view.slug])


def menu_for(user, current_path=""):
    """The navigation a user may see: panels their role allows, each view with its URL."""
    menu = []
    for panel in PANELS:
        if not has_capability(user, panel.capability):
            continue
        items = []
        for view in panel.views:
            url = view_url(panel, view)
            page_urls = [u for _, u in view.available_pages()] + [reverse("dashboard-view", args=[panel.key, view.slug])]
            items.append({
                "title": view.title, "url": url,
                "available": bool(view.available_pages()),
                "active": any(current_path.startswith(u) for u in page_urls),
            })
        menu.append({"key": panel.key, "title": panel.title, "views": items,
                     "active": any(i["active"] for i in items)})
    extras = [{"title": "Ticket intake", "url": reverse("dashboard-intake")}] if has_capability(user, VIEW_WORKFLOW) else []
    if has_capability(user, ACKNOWLEDGE_ALERTS):
        extras.append({"title": "Alerts", "url": reverse("dashboard-alerts")})
    if has_capability(user, SUBSCRIBE_REPORTS):
        extras.append({"title": "Report subscriptions", "url": reverse("dashboard-subscriptions")})
    if has_capability(user, IMPORT_DATA):
        extras.append({"title": "Import data", "url": reverse("dashboard-import")})
    for item in extras:
        item["active"] = current_path.startswith(item["url"])
    return {"panels": menu, "extras": extras}
