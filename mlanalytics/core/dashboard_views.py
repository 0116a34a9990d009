"""Shared dashboard pages: home, store switcher, view placeholders, ticket intake (the example of a
declared page), the alert inbox and report subscriptions. Each panel's pages live in its app's views.py."""
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import alerts_api, selectors
from .api_views import TicketIntakeView
from .context_processors import current_stores
from .formatting import format_value
from .models import Alert, ReportSubscription
from .navigation import find_view
from .pages import PAGES, SESSION_STORE_KEY, AnalyticsPage, Chart, Column, Insight, Kpi, Link, Series, Table, page_for
from .roles import ACKNOWLEDGE_ALERTS, ADMIN, SUBSCRIBE_REPORTS, has_capability, role_of
from .scoping import allowed_stores


def _require(request, capability):
    if not has_capability(request.user, capability):
        raise PermissionDenied("Your role does not include this page.")


# --- Home -------------------------------------------------------------------------------------------


def _current_models():
    """The registry's current models as response-style model blocks (for PredictiveInsights)."""
    try:
        from predictive.models import TrainedModel, TrainingRun
    except ImportError:  # the predictive app is always installed; kept defensive for partial deployments
        return [], None, 0
    current = TrainedModel.objects.filter(is_current=True, status=TrainedModel.Status.READY)
    models = [
        {"name": f"{m.kind.replace('_', ' ')} · {m.scope.replace('|', ', ')}", "version": m.version, "method": m.method, "trained_at": m.trained_at.isoformat(),
         "backtest": m.metrics}
        for m in current.order_by("-trained_at", "kind", "scope")[:5]
    ]
    running = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).order_by("-started_at").first()
    training = {"done_steps": running.done_steps, "total_steps": running.total_steps, "current_step": running.current_step} if running else None
    return models, training, current.count()


HOME_KPIS = (
    Kpi("open_tickets", "Open tickets", "int", note="+ {} ready for collection", note_path="ready_for_collection"),
    Kpi("intake.received_today", "Received today", "int", note="usual by now {}", note_path="intake.average_by_now", note_fmt="num1"),
    Kpi("stock_value", "Stock value at cost", "money0"),
    Kpi("alerts.open", "Open alerts", "int", note="{}", note_path="alerts.summary", note_fmt="text"),
)


@login_required
def home(request):
    from .pages import prepare_kpis

    chosen, stores = current_stores(request)
    figures = selectors.home_kpis(request.user, stores)
    intake = figures["intake"]
    # Show the hours the shop works (any intake today or on the usual day, plus now), not 24 empty bars.
    busy = [i for i, r in enumerate(intake["by_hour"]) if r["today"] or r["average"]] + [timezone.localtime().hour]
    hours = intake["by_hour"][max(0, min(busy) - 1): min(24, max(busy) + 2)]
    intake_chart = {
        "id": "intake-today", "kind": "bar", "title": "Tickets received today by hour, against the usual for this weekday",
        "y_fmt": ",.1f", "fmt": "num1", "height": 280, "live": "intake_by_hour", "orientation": "v", "stacked": False,
        "empty": False, "x_label": "Hour", "y_label": "Tickets",
        "series": [
            {"label": "Today", "x": [r["hour"] for r in hours], "y": [r["today"] for r in hours],
             "mode": "bar", "links": None, "lower": None, "upper": None, "text": None},
            {"label": f"Average of the last {intake['weeks_in_average']} same weekdays", "x": [r["hour"] for r in hours],
             "y": [r["average"] for r in hours], "mode": "lines", "links": None, "lower": None, "upper": None, "text": None},
        ],
    }
    stock_alerts = []
    if has_capability(request.user, ACKNOWLEDGE_ALERTS):
        from .alerts import serialize_alert

        stock_alerts = [serialize_alert(a) for a in selectors.visible_alerts(request.user, stores)
                        .filter(kind=Alert.Kind.STOCKOUT_RISK).exclude(state=Alert.State.RESOLVED)
                        .select_related("store").order_by("-fired_at")[:6]]
    models, training, model_count = _current_models() if has_capability(request.user, "view_predictive") else ([], None, 0)
    source = reverse("core-api:home") + (f"?store={chosen.code}" if chosen else "")
    return render(request, "dashboard/home.html", {
        "figures": figures, "kpis": prepare_kpis(HOME_KPIS, figures), "kpi_source": source,
        "statuses": selectors.status_order(), "intake_chart": intake_chart, "stock_alerts": stock_alerts,
        "models": models, "training": training, "model_count": model_count,
    })


@login_required
@require_POST
def switch_store(request):
    """Remember the chosen store in the session (empty: all of the user's stores)."""
    code = request.POST.get("store", "").strip()
    if code and not allowed_stores(request.user).filter(code=code).exists():
        messages.error(request, f"You do not have access to store {code}.")
    else:
        request.session[SESSION_STORE_KEY] = code
    target = request.POST.get("next") or reverse("dashboard-home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("dashboard-home")
    # A page URL may carry ?store=OLD; drop it so the switch takes effect.
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(target)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("store", "page")])
    return HttpResponseRedirect(urlunsplit(("", "", parts.path, query, "")))


@login_required
def view_placeholder(request, panel, view):
    """A view of SPEC §5 whose endpoint has not landed yet: says so, shows no figures."""
    panel_obj, view_obj = find_view(panel, view)
    if view_obj is None:
        raise Http404("No such dashboard view.")
    _require(request, panel_obj.capability)
    pages = view_obj.available_pages()
    if pages:
        return redirect(pages[0][1])
    return render(request, "dashboard/view_placeholder.html", {"panel": panel_obj, "dash_view": view_obj})


# --- The example page declared with the page machinery ------------------------------------------------


class TicketIntakePage(AnalyticsPage):
    """Tickets received per day against the same-weekday baseline (GET /api/core/ticket-intake/)."""

    api_view = TicketIntakeView
    slug = "intake"
    url_name = "dashboard-intake"
    title = "Ticket intake"
    intro = ("Tickets received per day, against the mean of the same weekday over the previous eight weeks "
             "with its 95 % band. Click a store or a device category to narrow the view.")
    insights = (
        Insight("summary.expected_tomorrow", "Expected intake the day after the window", "num1",
                lower_path="summary.expected_tomorrow_lower", upper_path="summary.expected_tomorrow_upper",
                note="Same-weekday baseline; its accuracy over the window shown is measured below."),
    )
    kpis = (
        Kpi("summary.received", "Tickets received", "int"),
        Kpi("summary.per_day", "Per day", "num1"),
        Kpi("summary.days_above_band", "Days above the band", "int"),
        Kpi("model.backtest.band_coverage", "Band coverage (target 95 %)", "pct"),
    )
    charts = (
        Chart("timeseries", "Tickets received per day", (
            Series("daily", "date", "expected", "Expected (same weekday)", lower="lower", upper="upper",
                   band="95 % band (mean ± 1.96 sd)"),
            Series("daily", "date", "received", "Received", mode="lines+markers"),
        ), y_label="Tickets", y_fmt="int"),
        Chart.bar("by_store", "store", "received", "Tickets by store", label="Tickets", y_fmt="int",
                  drill=Link("dashboard-intake", query={"store": "{store}"})),
        Chart.bar("by_category", "category", "received", "Tickets by device category", label="Tickets", y_fmt="int",
                  drill=Link("dashboard-intake", query={"category": "{category}"})),
        Chart.heatmap("by_weekday_hour", "hour", "weekday", "per_week", "Tickets per week by weekday and hour", y_fmt="num1"),
    )
    tables = (
        Table("by_store", "By store", (
            Column("store", "Store", link=Link("dashboard-intake", query={"store": "{store}"})),
            Column("store_name", "Name"), Column("received", "Tickets", "int"), Column("per_day", "Per day", "num1"),
        ), key=("store",)),
        Table("daily", "Day by day", (
            Column("date", "Day", "date"), Column("received", "Received", "int"), Column("expected", "Expected", "num1"),
            Column("lower", "Band low", "num1"), Column("upper", "Band high", "num1"),
        ), key=("date",), pdf_rows=62),
    )
    empty_text = "No tickets were received in this window. Pick a longer window or another store."
    period_window = {"days": "days", "end": "end"}  # a subscription's period sets the days shown

    def is_empty(self, body):
        return not body["summary"]["received"]  # a row of zero days is still nothing to report


# --- Alert inbox ------------------------------------------------------------------------------------


SNOOZE_CHOICES = ((60, "1 hour"), (240, "4 hours"), (24 * 60, "1 day"), (7 * 24 * 60, "1 week"))


@login_required
def alerts_inbox(request):
    _require(request, ACKNOWLEDGE_ALERTS)
    chosen, _ = current_stores(request)
    params = {
        "state": request.GET.get("state", "open"),
        "kind": request.GET.get("kind", ""),
        "store": request.GET.get("store", chosen.code if chosen else ""),
    }
    filter_form = alerts_api.AlertFilter(data={k: v for k, v in params.items() if v and v != "all"})
    errors = {}
    if filter_form.is_valid():
        try:
            alerts = alerts_api.filtered_alerts(request.user, filter_form.validated_data)
        except Exception as exc:  # NotFound / PermissionDenied for a store: said in words beside the filter
            errors["store"] = [str(getattr(exc, "detail", exc))]
            alerts = Alert.objects.none()
    else:
        errors = {k: [str(m) for m in v] for k, v in filter_form.errors.items()}
        alerts = Alert.objects.none()
    page = Paginator(alerts, 25).get_page(request.GET.get("page"))
    rows = [{"alert": a, "history": alerts_api.alert_history(a)} for a in page.object_list]
    return render(request, "dashboard/alerts.html", {
        "rows": rows, "page_obj": page, "params": params, "errors": errors,
        "states": [("open", "Open"), *Alert.State.choices, ("all", "All")],
        "kinds": Alert.Kind.choices, "snooze_choices": SNOOZE_CHOICES,
        "focus": request.GET.get("focus", ""), "now": timezone.now(),
        "query": "&".join(f"{k}={v}" for k, v in params.items() if v),
    })


@login_required
@require_POST
def alert_action(request, pk, action):
    _require(request, ACKNOWLEDGE_ALERTS)
    alert = get_object_or_404(selectors.visible_alerts(request.user), pk=pk)
    if action == "acknowledge":
        alerts_api.acknowledge_alert(alert, request.user)
        messages.success(request, f"Acknowledged: {alert.title}")
    elif action == "resolve":
        alerts_api.resolve_alert(alert, request.user)
        messages.success(request, f"Resolved: {alert.title}")
    elif action == "snooze":
        try:
            minutes = int(request.POST.get("minutes", "60"))
        except ValueError:
            minutes = 0
        if minutes not in dict(SNOOZE_CHOICES):
            messages.error(request, "Choose how long to snooze for from the list.")
        else:
            alerts_api.snooze_alert(alert, request.user, timezone.now() + timedelta(minutes=minutes))
            messages.success(request, f"Snoozed for {dict(SNOOZE_CHOICES)[minutes]}: {alert.title}")
    else:
        raise Http404("Unknown action.")
    target = request.POST.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("dashboard-alerts")
    return HttpResponseRedirect(target)


# --- Report subscriptions ---------------------------------------------------------------------------


def _required_params(page_cls):
    """Request fields the page cannot be computed without (no default), other than the store: a view that
    needs one (e.g. the Communication Manager's event) is subscribable only with it in its settings."""
    from .pages import request_fields

    return [name for name, f in request_fields(page_cls.api_view).items()
            if f.required and name != "store" and name not in page_cls.form_exclude]


def subscribable_pages(user, params=None, view=""):
    """(url_name, title) of the declared pages this user may open and download, and can compute unattended:
    those needing a parameter without a default appear only when `params` (from "Subscribe to this view"
    on `view`) carry it."""
    page_for("")  # make sure every app's pages are declared
    pages = []
    for name, cls in PAGES.items():
        if cls.required_capability() and not has_capability(user, cls.required_capability()):
            continue
        carried = params if name == view else {}
        if any(field not in (carried or {}) for field in _required_params(cls)):
            continue
        pages.append((name, cls.title))
    return sorted(pages, key=lambda item: item[1])


def carried_params(page_cls, query):
    """The settings a "Subscribe to this view" link carries (the page's query string), as the page's form
    reads them, without the store (a field of its own) and the window the period sets."""
    from django.http import QueryDict

    from .pages import query_data

    if page_cls is None or not query:
        return {}
    data = query_data(page_cls.api_view, QueryDict(query), exclude=page_cls.form_exclude)
    for name in ("store", *page_cls.period_window):
        data.pop(name, None)
    return data


class SubscriptionForm(forms.Form):
    view = forms.ChoiceField(label="Report (dashboard view)")
    store = forms.ChoiceField(label="Store", required=False)
    period = forms.ChoiceField(choices=ReportSubscription.Period.choices)
    format = forms.ChoiceField(choices=ReportSubscription.Format.choices)
    skip_when_empty = forms.BooleanField(required=False, initial=True, label="Skip sending when there is nothing to report")
    params = forms.CharField(required=False, widget=forms.HiddenInput)  # the view's settings, as a query string

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        source = self.data if self.is_bound else self.initial
        self.carried_view = source.get("view", "")
        self.carried_query = source.get("params", "") or ""
        page_cls = page_for(self.carried_view) if self.carried_view else None
        self.carried = carried_params(page_cls, self.carried_query)
        self.fields["view"].choices = subscribable_pages(user, self.carried, self.carried_view)
        self.fields["store"].choices = [("", "All my stores")] + [(s.code, f"{s.code} · {s.name}") for s in allowed_stores(user)]

    def carried_settings(self):
        """The carried settings in words for the form ("Status: low, critical · Rows: 500")."""
        from .formatting import humanize_key

        page_cls = page_for(self.carried_view)
        labels = getattr(page_cls, "form_labels", {}) if page_cls else {}
        return " · ".join(f"{labels.get(k) or humanize_key(k)}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                          for k, v in self.carried.items())

    def clean(self):
        data = super().clean()
        store = allowed_stores(self.user).filter(code=data.get("store")).first() if data.get("store") else None
        data["store_obj"] = store
        # The carried settings belong to the view they came from; another view starts from its defaults.
        data["params_obj"] = self.carried if data.get("view") == self.carried_view else {}
        page_cls = page_for(data.get("view")) if data.get("view") else None
        if page_cls is not None and data["params_obj"]:
            from rest_framework import serializers as drf_serializers

            check = page_cls.api_view.request_serializer(data={**data["params_obj"], **({"store": store.code} if store else {})},
                                                         context={"form_input": True})
            try:
                check.is_valid(raise_exception=True)
            except drf_serializers.ValidationError:
                raise forms.ValidationError("The view's settings are no longer valid: open the view again, correct them and "
                                            "use “Subscribe to this view”.")
        if ReportSubscription.objects.filter(user=self.user, view=data.get("view"), store=store,
                                             period=data.get("period"), format=data.get("format")).exists():
            raise forms.ValidationError("You already subscribe to this report for this store, period and format.")
        if not self.user.email:
            raise forms.ValidationError("Your account has no email address; ask an admin to add one first.")
        return data


@login_required
def subscriptions(request):
    _require(request, SUBSCRIBE_REPORTS)
    initial = {}
    if request.method != "POST" and request.GET.get("view"):  # from a page's "Subscribe to this view"
        from django.http import QueryDict

        carried = QueryDict(request.GET.get("params", ""))
        initial = {"view": request.GET["view"], "params": request.GET.get("params", ""),
                   "store": carried.get("store") or (request.session.get(SESSION_STORE_KEY) or "")}
    form = SubscriptionForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        sub = ReportSubscription.objects.create(
            user=request.user, view=form.cleaned_data["view"], store=form.cleaned_data["store_obj"],
            params=form.cleaned_data["params_obj"],
            period=form.cleaned_data["period"], format=form.cleaned_data["format"],
            skip_when_empty=form.cleaned_data["skip_when_empty"],
        )
        from . import audit

        audit.record(request.user, "subscription.create", sub)
        messages.success(request, "Subscribed. The first report goes out at the next scheduled run (within 5 minutes "
                                  "once its period has begun); “Send now” sends one at once.")
        return redirect("dashboard-subscriptions")
    from mlanalytics.exports.subscriptions import describe_period_window

    titles = dict(subscribable_pages(request.user))
    subs = []
    for s in request.user.report_subscriptions.select_related("store"):
        page_cls = page_for(s.view)
        subs.append({"sub": s, "title": titles.get(s.view) or (page_cls.title if page_cls else s.view),
                     "settings": "; ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in (s.params or {}).items()),
                     "window": describe_period_window(page_cls, s.period) if page_cls else "",
                     "sending": s.last_status.startswith("queued")})
    windows = sorted({cls.title for _, cls in PAGES.items() if cls.period_window})
    return render(request, "dashboard/subscriptions.html", {"form": form, "subs": subs, "windowed_titles": windows})


@login_required
def subscription_action(request, pk, action):
    _require(request, SUBSCRIBE_REPORTS)
    sub = get_object_or_404(ReportSubscription, pk=pk, user=request.user)
    if action == "status":  # polled by the page while a "Send now" is in the queue
        from django.http import JsonResponse

        return JsonResponse({"status": sub.last_status, "sending": sub.last_status.startswith("queued"),
                             "last_sent_at": sub.last_sent_at.isoformat() if sub.last_sent_at else None,
                             "last_sent_text": format_value(sub.last_sent_at, "datetime")})
    if request.method != "POST":
        from django.http import HttpResponseNotAllowed

        return HttpResponseNotAllowed(["POST"])
    from . import audit

    if action == "delete":
        audit.record(request.user, "subscription.delete", sub)
        sub.delete()
        messages.success(request, "Subscription removed.")
    elif action == "toggle":
        sub.is_active = not sub.is_active
        sub.save(update_fields=["is_active"])
        audit.record(request.user, "subscription.toggle", sub, changes={"is_active": sub.is_active})
        messages.success(request, "Subscription " + ("resumed." if sub.is_active else "paused."))
    elif action == "send":
        from . import jobs

        # Rendering a PDF can take a while: the job runs in the background and the status column follows it.
        sub.last_status = f"queued {format_value(timezone.now(), 'datetime')}: preparing and emailing the report"
        sub.save(update_fields=["last_status"])
        jobs.enqueue("mlanalytics.exports.subscriptions.send_subscription_now", sub.pk)
        audit.record(request.user, "subscription.send_now", sub)
        messages.success(request, "Queued: the report is being prepared and emailed. Its status below changes when it has gone.")
    else:
        raise Http404("Unknown action.")
    return redirect("dashboard-subscriptions")


# --- Live activity simulation (admins) -----------------------------------------------------------------


@login_required
@require_POST
def start_simulation(request):
    """Start simulate_activity inside the app's own job runner, so its live events reach browsers even
    on the embedded in-memory channel layer (a separate process could not reach it)."""
    if role_of(request.user) != ADMIN:
        raise PermissionDenied("Only admins can start the activity simulation.")
    from . import jobs

    try:
        rate = min(5.0, max(0.2, float(request.POST.get("rate", "1"))))
        duration = min(600, max(10, int(request.POST.get("duration", "120"))))
    except ValueError:
        messages.error(request, "Rate and duration must be numbers.")
        return redirect("dashboard-home")
    chosen, _ = current_stores(request)
    jobs.enqueue("mlanalytics.core.simulation.run_simulation", rate=rate, duration=duration,
                 store_codes=[chosen.code] if chosen else None)
    messages.success(request, f"Simulating {rate:g} events a second for {duration} s. Watch the figures move.")
    return redirect("dashboard-home")
