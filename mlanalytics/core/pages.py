"""Declarative dashboard pages for analytics endpoints.

A page names an `AnalyticsAPIView` and says which parts of its response to show: KPI tiles, charts,
tables, model cards. The page validates its form with the endpoint's own request serializer and
calls the endpoint's own `handle()` (same validation, store scoping, cache and `compute()`), so the
page, the API and the PDF/Excel exports show the same figures. Example (docs/dashboards.md):

    class StockMonitorPage(AnalyticsPage):
        api_view = StockMonitoringView
        panel, slug, title = "inventory", "stock-monitor", "Real-time Stock Monitor"
        kpis = [Kpi("summary.stock_value", "Stock value at cost", "money")]
        charts = [Chart.bar("status_counts", x="status", y="count", title="SKUs by status",
                            drill=Link("inventory:stock-monitor", query={"status": "{status}"}))]
        tables = [Table("rows", "Stock by SKU and store", [Column("sku", "SKU"), Column("on_hand", "On hand", "int")],
                        key=("sku", "store"), live_event="stock")]

    urlpatterns = [*StockMonitorPage.urls()]
"""
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.views import View
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.request import Request

from .errors import DomainError, ModelNotReady
from .formatting import d3_format, format_value, humanize_key, metric_format
from .roles import DOWNLOAD_REPORTS, SUBSCRIBE_REPORTS, has_capability
from .scoping import allowed_stores

SESSION_STORE_KEY = "dashboard_store"
PAGES = {}  # url_name -> page class, filled as page classes are declared


# --- Declarations ---------------------------------------------------------------------------------


def resolve_path(data, dotted, default=None):
    """`data["a"]["b"]` for "a.b"; a missing step gives `default`. An empty path gives `data`."""
    if not dotted:
        return data
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, (list, tuple)) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


_PLACEHOLDER = re.compile(r"\{([\w.]+)\}")


@dataclass(frozen=True)
class Link:
    """Where a click goes: a URL name with positional args and query values, either of which may be
    "{field}" placeholders filled from the clicked row (e.g. Link("inventory:part", args=("{sku}",)))."""

    url_name: str
    args: tuple = ()
    query: dict = field(default_factory=dict)
    optional: tuple = ()  # query keys left out when their placeholder is empty (instead of no link)

    def template(self):
        markers = [f"__ARG{i}__" for i in range(len(self.args))]
        try:
            url = reverse(self.url_name, args=markers)
        except NoReverseMatch:
            return None  # the target page has not landed yet: no link rather than a broken one
        for marker, arg in zip(markers, self.args):
            url = url.replace(marker, arg)
        if self.query:
            url += "?" + "&".join(f"{k}={v}" for k, v in self.query.items())
        return url

    def for_row(self, row, template=None):
        template = template if template is not None else self.template()
        if template is None:
            return None
        if self.optional:
            template = self._without_empty_optional(row, template)
        missing = False

        def fill(match):
            nonlocal missing
            value = resolve_path(row, match.group(1))
            if value in (None, ""):
                missing = True
                return ""
            from urllib.parse import quote

            return quote(str(value), safe="")

        url = _PLACEHOLDER.sub(fill, template)
        return None if missing else url

    def _without_empty_optional(self, row, template):
        """The template minus `key=value` pairs of optional keys whose placeholders are empty for this row."""
        base, _, query = template.partition("?")
        keep = []
        for pair in query.split("&") if query else []:
            key, _, value = pair.partition("=")
            names = _PLACEHOLDER.findall(value)
            if key in self.optional and names and any(resolve_path(row, n) in (None, "") for n in names):
                continue
            keep.append(pair)
        return base + ("?" + "&".join(keep) if keep else "")


@dataclass(frozen=True)
class Column:
    """A table column: the row key (dotted path), its heading, its format and an optional link."""

    key: str
    label: str
    fmt: str = "text"
    link: Link = None
    align: str = ""  # "" picks right for numbers, left otherwise


@dataclass(frozen=True)
class Table:
    """A table of the list at `path` in the response. `key` names the fields that identify a row for
    live updates from `live_event` (e.g. ("sku", "store") updated by "stock" events)."""

    path: str
    title: str
    columns: tuple
    key: tuple = ()
    live_event: str = ""
    empty: str = "Nothing to show for these settings."
    pdf_rows: int = 60
    page_rows: int = 500
    sheet: str = ""
    row_actions: tuple = ()
    # Where the row buttons go: after this many columns (e.g. 2: right after the columns naming the row, so a
    # to-do list wider than the screen shows its buttons without scrolling); -1: the last column.
    actions_after: int = -1
    # A row whose value at `row_flag` (a dotted key) is true is highlighted (class "row-flagged") and, so the
    # flag is not told by colour alone, its first cell starts with a badge saying `row_flag_label`
    # (e.g. row_flag="out_of_control", row_flag_label="Out of control").
    row_flag: str = ""
    row_flag_label: str = ""


@dataclass(frozen=True)
class RowAction:
    """A button on each row that POSTs JSON to a REST URL (e.g. acknowledge, order once, enable rule).
    `link` builds the URL from the row; `data` is the JSON body (values may be "{field}" placeholders)."""

    label: str
    link: Link
    capability: str
    data: dict = field(default_factory=dict)
    confirm: str = ""
    # Values the person enters beside the button, added to the JSON body: (name, input type, label),
    # e.g. ("until", "date", "Snooze until") for a "Snooze until…" button. The button asks for them first.
    inputs: tuple = ()


@dataclass(frozen=True)
class Series:
    """One trace of a chart: values at `path`, `x`, `y`, optional interval `lower`/`upper`.
    `group` splits the rows into one trace per value of that field (e.g. one line per store)."""

    path: str
    x: str
    y: str
    label: str = ""
    lower: str = ""
    upper: str = ""
    mode: str = ""  # line | bar | markers | lines+markers (default by chart kind)
    group: str = ""
    text: str = ""
    # Legend label of the lower/upper band, as the declaration states its level ("{field}" filled from the
    # response, e.g. "{interval} % prediction interval"); without one the legend says "<label> band" and
    # claims no level it does not know.
    band: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart drawn client-side by static/js/charts.js (and as SVG by the PDF export).

    kind: timeseries | bar | heatmap | scatter. A click on a point opens `drill` filled from its row.
    A series' `mode` is honoured by every kind: in a bar chart "markers" draws points, "lines" a line.
    """

    kind: str
    title: str
    series: tuple = ()
    x_label: str = ""
    y_label: str = ""
    y_fmt: str = "num1"
    drill: Link = None
    orientation: str = "v"
    stacked: bool = False
    height: int = 320
    # heatmap: rows at `path` in long form (x, y, z), or z as a matrix with x/y label lists
    path: str = ""
    x: str = ""
    y: str = ""
    z: str = ""
    live: str = ""  # name of a live reducer in charts.js (RealTimeChart), e.g. "status_counts"
    note: str = ""

    @classmethod
    def timeseries(cls, path, x, y, title, *, label="", lower="", upper="", group="", band="", **kw):
        return cls("timeseries", title, (Series(path, x, y, label or humanize_key(y), lower, upper, group=group, band=band),), **kw)

    @classmethod
    def bar(cls, path, x, y, title, *, label="", group="", **kw):
        ys = y if isinstance(y, (list, tuple)) else (y,)
        return cls("bar", title, tuple(Series(path, x, one, label if len(ys) == 1 and label else humanize_key(one), group=group) for one in ys), **kw)

    @classmethod
    def heatmap(cls, path, x, y, z, title, **kw):
        return cls("heatmap", title, path=path, x=x, y=y, z=z, **kw)


@dataclass(frozen=True)
class Kpi:
    """A KPI tile (PerformanceMetrics): the value at `path`, its label and format; `note` is a second
    line, with `note_path` for a figure in it (e.g. "vs 12.4 average")."""

    path: str
    label: str
    fmt: str = "int"
    note: str = ""
    note_path: str = ""
    note_fmt: str = ""
    key: str = ""  # a stable id for live refreshes (defaults to the path)


@dataclass(frozen=True)
class Insight:
    """An MLInsightsCard: a prediction at `path` with the measured accuracy of the model at `model_path`."""

    path: str
    label: str
    fmt: str = "num1"
    model_path: str = "model"
    note: str = ""
    lower_path: str = ""
    upper_path: str = ""


@dataclass(frozen=True)
class Action:
    """A button that calls the endpoint with extra parameters (e.g. {"create_purchase_orders": True}),
    shown only to roles with `capability`. The result is rendered by the same page."""

    name: str
    label: str
    capability: str
    data: dict = field(default_factory=dict)
    confirm: str = ""
    style: str = "primary"


# --- Calling the endpoint -------------------------------------------------------------------------


@dataclass
class EndpointResult:
    body: dict = None
    params: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)  # field -> [messages]
    message: str = ""  # an error for the whole request, in words
    status: int = 200
    not_ready: bool = False
    seconds: float = 0.0
    cache: str = ""  # the endpoint's X-Cache: hit | miss | none (not cacheable)

    @property
    def ok(self):
        return self.body is not None


def _messages(detail):
    if isinstance(detail, dict):
        return {key: _flat(value) for key, value in detail.items()}
    return {"non_field_errors": _flat(detail)}


def _flat(value):
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out.extend(_flat(item))
        return out
    if isinstance(value, dict):
        return [f"{humanize_key(k)}: {' '.join(_flat(v))}" for k, v in value.items()]
    return [str(value)]


def run_endpoint(api_view, request, data, method="GET"):
    """Call an AnalyticsAPIView as the API would for this user and data; errors come back in words."""
    drf_request = Request(request)
    drf_request.user = request.user
    view = api_view()
    view.request, view.args, view.kwargs, view.format_kwarg, view.headers = drf_request, (), {}, None, {}
    started = time.perf_counter()
    result = EndpointResult()
    try:
        response = view.handle(drf_request, data)
        result.body = response.data
        result.status = response.status_code
        result.cache = response.headers.get("X-Cache", "")
    except drf_exceptions.ValidationError as exc:
        result.errors, result.status = _messages(exc.detail), 400
        result.message = "Please correct the fields marked below."
    except drf_exceptions.NotFound as exc:
        result.message, result.status = str(exc.detail), 404
    except drf_exceptions.PermissionDenied as exc:
        result.message, result.status = str(exc.detail), 403
    except ModelNotReady as exc:
        result.message, result.status, result.not_ready = exc.message, exc.status_code, True
    except DomainError as exc:
        result.status = exc.status_code
        if exc.field:
            result.errors = {exc.field: [exc.message]}
            result.message = "Please correct the fields marked below."
        else:
            result.message = exc.message
    except drf_exceptions.APIException as exc:
        result.message, result.status = str(exc.detail), exc.status_code
    result.seconds = time.perf_counter() - started
    if result.ok:
        try:
            result.params = view.validate(drf_request, data)
        except Exception:  # only used to label the report; the call itself succeeded
            result.params = dict(data)
    return result


# --- The form, built from the endpoint's request serializer ----------------------------------------


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # text | number | date | datetime-local | checkbox | select | multiselect | store
    value: object = ""
    required: bool = False
    help: str = ""
    choices: list = field(default_factory=list)  # [(value, label)]
    min: object = None
    max: object = None
    step: str = ""
    errors: list = field(default_factory=list)

    @property
    def values(self):
        return [str(v) for v in self.value] if isinstance(self.value, (list, tuple)) else [str(self.value)]


def _is_list_field(f):
    return isinstance(f, (serializers.ListField, serializers.MultipleChoiceField))


def request_fields(api_view):
    return api_view.request_serializer().fields


def query_data(api_view, querydict, exclude=()):
    """A QueryDict -> the dict the serializer validates: lists for list fields, blanks dropped so
    defaults apply (a required field left blank still says "This field is required.")."""
    data = {}
    for name, f in request_fields(api_view).items():
        if name in exclude or f.read_only:
            continue
        if _is_list_field(f):
            values = [v for raw in querydict.getlist(name) for v in raw.split(",") if v.strip()]
            if values:
                data[name] = [v.strip() for v in values]
        elif name in querydict:
            value = querydict.get(name)
            if value == "" and not f.required:
                continue
            data[name] = value
        elif isinstance(f, serializers.BooleanField) and "submitted" in querydict:
            # Browsers send nothing for an unticked box: on a submitted form that means False, not the default.
            data[name] = False
    return data


def _initial(f):
    if f.default is not serializers.empty:
        return f.default() if callable(f.default) else f.default
    if f.initial not in (None, serializers.empty) and f.initial != "":
        return f.initial() if callable(f.initial) else f.initial
    return ""


def _choice_label(value, label, names):
    """A choice the serializer names by its key alone ("week") reads as words ("Week")."""
    return names.get(value) or (humanize_key(label) if label == value else label)


def build_form(api_view, data, errors, user, exclude=(), labels=None, choice_labels=None):
    """FormFields for the serializer's fields, with the submitted values and their errors.
    `choice_labels` maps a field to {choice value: label} for choices that need better words."""
    fields = []
    labels = labels or {}
    choice_labels = choice_labels or {}
    for name, f in request_fields(api_view).items():
        if name in exclude or f.read_only:
            continue
        label = labels.get(name) or (str(f.label) if f.label else humanize_key(name))
        value = data.get(name, _initial(f))
        item = FormField(name, label, "text", value, bool(f.required), str(f.help_text or ""), errors=errors.get(name, []))
        if name == "store":
            item.kind = "store"
            item.choices = ([] if f.required else [("", "All my stores")]) + [
                (s.code, f"{s.code} · {s.name}") for s in allowed_stores(user)
            ]
        elif isinstance(f, serializers.MultipleChoiceField):
            names = choice_labels.get(name, {})
            item.kind = "multiselect"
            item.choices = [(str(k), _choice_label(str(k), str(v), names)) for k, v in f.choices.items()]
        elif isinstance(f, serializers.ChoiceField):
            names = choice_labels.get(name, {})
            item.kind = "select"
            item.choices = ([] if f.required else [("", "Any")]) + [
                (str(k), _choice_label(str(k), str(v), names)) for k, v in f.choices.items()
            ]
        elif isinstance(f, serializers.BooleanField):
            item.kind = "checkbox"
            item.value = str(value).lower() in ("true", "1", "on", "yes")
        elif isinstance(f, serializers.IntegerField):
            item.kind, item.min, item.max, item.step = "number", f.min_value, f.max_value, "1"
        elif isinstance(f, (serializers.FloatField, serializers.DecimalField)):
            item.kind, item.min, item.max, item.step = "number", f.min_value, f.max_value, "any"
        elif isinstance(f, serializers.DateTimeField):
            item.kind = "datetime-local"
        elif isinstance(f, serializers.DateField):
            item.kind = "date"
        elif isinstance(f, serializers.ListField):
            item.kind = "text"
            item.value = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value
            item.help = item.help or "Separate several values with commas."
        fields.append(item)
    return fields


# --- Shaping the response for templates, charts and exports ----------------------------------------


def prepare_table(table, body, limit=None, user=None):
    rows = resolve_path(body, table.path) or []
    if isinstance(rows, dict):  # a mapping of name -> value shows as a two-column table
        rows = [{"name": k, "value": v} for k, v in rows.items()]
    templates = {c.key: c.link.template() if c.link else None for c in table.columns}
    shown = rows[: limit or table.page_rows]
    prepared = []
    for row in shown:
        cells = []
        for column in table.columns:
            value = resolve_path(row, column.key)
            link = column.link.for_row(row, templates[column.key]) if column.link else None
            numeric = column.fmt not in ("text", "status", "date", "datetime", "bool")
            cells.append({
                "key": column.key, "label": column.label, "value": value, "text": format_value(value, column.fmt), "fmt": column.fmt,
                "link": link, "align": column.align or ("num" if numeric else ""),
                "status": str(value).lower() if column.fmt == "status" and value is not None else "",
            })
        actions = []
        for action in table.row_actions:
            if user is None or not has_capability(user, action.capability):
                continue
            url = action.link.for_row(row)
            if url:
                body_data = {k: (_fill(v, row) if isinstance(v, str) else v) for k, v in action.data.items()}
                actions.append({"label": action.label, "url": url, "body": json.dumps(body_data), "confirm": action.confirm,
                                "inputs": [{"name": n, "type": t, "label": lbl} for n, t, lbl in action.inputs]})
        prepared.append({
            "key": "|".join(str(resolve_path(row, k, "")) for k in table.key) if table.key else "",
            "cells": cells, "row": row, "actions": actions,
            "flagged": bool(resolve_path(row, table.row_flag)) if table.row_flag else False,
        })
    return {"spec": table, "rows": prepared, "total": len(rows), "shown": len(shown),
            "all_rows": rows}


def _fill(text, row):
    """'{sku}' -> the row's sku (a whole-placeholder keeps the value's type); other text is filled in."""
    whole = _PLACEHOLDER.fullmatch(text)
    if whole:
        return resolve_path(row, whole.group(1))
    return _PLACEHOLDER.sub(lambda m: str(resolve_path(row, m.group(1), "")), text)


def _column(rows, key):
    return [resolve_path(r, key) for r in rows]


def _number_or_none(value):
    from .formatting import as_number

    number = as_number(value)
    return None if number is None or number != number else number


def prepare_chart(chart, body, index=0):
    """Column-oriented chart data (x, y, interval, click targets) for Plotly and for matplotlib."""
    y_fmt, y_prefix, y_suffix = d3_format(chart.y_fmt)
    spec = {
        "id": f"chart-{index}", "kind": chart.kind, "title": chart.title, "x_label": chart.x_label,
        "y_label": chart.y_label, "y_fmt": y_fmt, "y_prefix": y_prefix, "y_suffix": y_suffix, "fmt": chart.y_fmt,
        "orientation": chart.orientation, "stacked": chart.stacked, "height": chart.height,
        "live": chart.live, "note": chart.note, "series": [], "empty": True, "drillable": chart.drill is not None,
    }
    template = chart.drill.template() if chart.drill else None
    if chart.kind == "heatmap":
        rows = resolve_path(body, chart.path) or []
        xs, ys = [], []
        for r in rows:
            if resolve_path(r, chart.x) not in xs:
                xs.append(resolve_path(r, chart.x))
            if resolve_path(r, chart.y) not in ys:
                ys.append(resolve_path(r, chart.y))
        z = [[None for _ in xs] for _ in ys]
        links = [[None for _ in xs] for _ in ys]
        for r in rows:
            i, j = ys.index(resolve_path(r, chart.y)), xs.index(resolve_path(r, chart.x))
            z[i][j] = _number_or_none(resolve_path(r, chart.z))
            links[i][j] = chart.drill.for_row(r, template) if chart.drill else None
        spec["heatmap"] = {"x": [str(v) for v in xs], "y": [str(v) for v in ys], "z": z, "links": links}
        spec["empty"] = not rows
        return spec
    for series in chart.series:
        rows = resolve_path(body, series.path) or []
        groups = {}
        if series.group:
            for r in rows:
                groups.setdefault(str(resolve_path(r, series.group)), []).append(r)
        else:
            groups[series.label or humanize_key(series.y)] = rows
        for label, group_rows in groups.items():
            spec["series"].append({
                "label": label,
                "x": [str(v) if v is not None else None for v in _column(group_rows, series.x)],
                "y": [_number_or_none(v) for v in _column(group_rows, series.y)],
                "lower": [_number_or_none(v) for v in _column(group_rows, series.lower)] if series.lower else None,
                "upper": [_number_or_none(v) for v in _column(group_rows, series.upper)] if series.upper else None,
                "text": [str(v) for v in _column(group_rows, series.text)] if series.text else None,
                "mode": series.mode,
                "field": series.y,  # the response field drawn, for live reducers that take it from events
                "band_label": (_fill(series.band, body) if series.band else f"{label} band") if series.lower else None,
                "links": [chart.drill.for_row(r, template) for r in group_rows] if chart.drill else None,
            })
            if group_rows:
                spec["empty"] = False
    return spec


def prepare_kpis(kpis, body):
    tiles = []
    for kpi in kpis:
        value = resolve_path(body, kpi.path)
        note_value = resolve_path(body, kpi.note_path) if kpi.note_path else None
        note = kpi.note
        if kpi.note_path:
            note = note.replace("{}", format_value(note_value, kpi.note_fmt or kpi.fmt)) if "{}" in note else (
                f"{note} {format_value(note_value, kpi.note_fmt or kpi.fmt)}".strip())
        tiles.append({"key": kpi.key or kpi.path, "path": kpi.path, "label": kpi.label, "value": value,
                      "text": format_value(value, kpi.fmt), "fmt": kpi.fmt, "note": note,
                      "note_path": kpi.note_path, "note_fmt": kpi.note_fmt or kpi.fmt,
                      "note_template": (kpi.note if "{}" in kpi.note else f"{kpi.note} {{}}".strip()) if kpi.note_path else ""})
    return tiles


def model_summary(model):
    """The model block of a response as rows a card, a PDF and a sheet can all show."""
    if not isinstance(model, dict):
        return None
    metrics = model.get("backtest") or model.get("metrics") or {}
    flat = []
    if isinstance(metrics, dict):
        for name, value in metrics.items():
            if isinstance(value, (dict, list)):
                continue
            fmt = metric_format(name, value)
            flat.append({"name": humanize_key(name), "value": value, "text": format_value(value, fmt), "fmt": fmt})
    return {
        "name": model.get("name") or model.get("kind") or "model", "version": model.get("version"),
        "method": model.get("method", ""), "trained_at": model.get("trained_at"),
        "trained_at_text": format_value(model.get("trained_at"), "datetime") if model.get("trained_at") else "computed on request",
        "metrics": flat, "raw": model,
    }


def prepare_insights(insights, body):
    cards = []
    for insight in insights:
        value = resolve_path(body, insight.path)
        if value is None:
            continue
        lower = resolve_path(body, insight.lower_path) if insight.lower_path else None
        upper = resolve_path(body, insight.upper_path) if insight.upper_path else None
        cards.append({
            "label": insight.label, "value": value, "text": format_value(value, insight.fmt), "note": insight.note,
            "interval": (f"{format_value(lower, insight.fmt)} – {format_value(upper, insight.fmt)}"
                         if lower is not None and upper is not None else ""),
            "model": model_summary(resolve_path(body, insight.model_path)),
        })
    return cards


def _looks_like_date(value):
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None


def _window_value(value):
    """A date or an ISO time in a data window as words ("25 Nov 2026 12:06"); anything else as it is."""
    if _looks_like_date(value):
        return format_value(value, "date")
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return format_value(value, "datetime")
    return value


def describe_window(window):
    """A data_window (dict or text) as words: '1 Jan 2024 – 31 Mar 2024 (91 days)'."""
    if not window:
        return ""
    if isinstance(window, dict):
        start = window.get("start") or window.get("from")
        end = window.get("end") or window.get("to")
        text = ""
        if start or end:
            text = f"{format_value(start, 'date')} – {format_value(end, 'date')}"
        extra = [f"{humanize_key(k)} {_window_value(v)}" for k, v in window.items()
                 if k not in ("start", "end", "from", "to") and not isinstance(v, (dict, list))]
        return "; ".join([t for t in [text, *extra] if t])
    return str(window)


# --- The page view ----------------------------------------------------------------------------------


class AnalyticsPage(View):
    """A dashboard page for one analytics endpoint. Subclasses only declare; see the module docstring."""

    api_view = None
    panel = ""  # "predictive" | "inventory" | "workflow" ("" for shared pages)
    slug = ""
    url_name = ""  # default "<panel>:<slug>"
    title = ""
    intro = ""
    capability = None  # default: the endpoint's capability
    method = "GET"  # how the page calls the endpoint's handle(); POST endpoints take their params the same way
    compute_on_load = True  # False: show the form first and compute only when it is submitted
    kpis = ()
    insights = ()
    charts = ()
    tables = ()
    actions = ()
    form_exclude = ()  # serializer fields that are action flags, not form inputs
    form_labels = {}
    choice_labels = {}  # form field -> {choice value: label}
    refresh_on = ()  # live events after which the results are re-fetched (throttled)
    # Report subscriptions: parameters that follow the subscription's period (daily: yesterday, weekly: the 7
    # days to yesterday, monthly: last month), name -> "days" | "weeks" | "end" | "start", e.g.
    # {"days": "days", "end": "end"}; clamped to the field's limits (mlanalytics.exports.subscriptions).
    period_window = {}
    empty_text = "There is nothing to show for these settings yet."
    extra_template = ""  # an optional partial rendered under the results (page-specific controls)
    template_name = "dashboard/analytics_page.html"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.api_view is not None and cls.slug:
            if not cls.url_name:
                cls.url_name = f"{cls.panel}:{cls.slug}" if cls.panel else cls.slug
            PAGES[cls.url_name] = cls

    # URL wiring -------------------------------------------------------------------------------------
    @classmethod
    def urls(cls):
        """The page, its exports and its results fragment: add `*MyPage.urls()` to the app's urlpatterns."""
        name = cls.url_name.split(":")[-1]
        return [
            path(f"{cls.slug}/", cls.as_view(), name=name),
            path(f"{cls.slug}/export.<str:fmt>", cls.as_view(export=True), name=f"{name}-export"),
        ]

    export = False

    @classmethod
    def required_capability(cls):
        return cls.capability or getattr(cls.api_view, "capability", None)

    @classmethod
    def export_url_name(cls):
        return f"{cls.url_name}-export"

    # Request handling ------------------------------------------------------------------------------
    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        capability = self.required_capability()
        if capability and not has_capability(request.user, capability):
            raise DjangoPermissionDenied("Your role does not include this page.")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, fmt=None):
        submitted = "submitted" in request.GET or bool(self._param_keys(request.GET))
        data = self.form_data(request, request.GET)
        result = None
        if self.compute_on_load or submitted or self.export:
            result = run_endpoint(self.api_view, request, data, self.method)
        if self.export:
            return self.export_response(request, fmt, data, result)
        if request.GET.get("fragment") == "results":
            response = HttpResponse(render_to_string("dashboard/_results.html", self.context(request, data, result), request))
        else:
            status = result.status if result is not None and result.status in (400, 403, 404, 409) else 200
            response = render(request, self.template_name, self.context(request, data, result), status=status)
        return self.with_timing(response, result)

    @staticmethod
    def with_timing(response, result):
        """Server-Timing `compute`: the endpoint's share of the response and whether its cache answered."""
        if result is not None:
            response.headers["Server-Timing"] = f'compute;dur={result.seconds * 1000:.1f};desc="{result.cache or "none"}"'
        return response

    def post(self, request, fmt=None):
        action = next((a for a in self.actions if a.name == request.POST.get("action")), None)
        if action is None:
            raise Http404("Unknown action.")
        if not has_capability(request.user, action.capability):
            raise DjangoPermissionDenied(f"Your role does not allow: {action.label}.")
        data = {**self.form_data(request, request.POST), **action.data}
        result = run_endpoint(self.api_view, request, data, "POST")
        context = self.context(request, data, result)
        context["action_done"] = action if result.ok else None
        return self.with_timing(render(request, self.template_name, context, status=200 if result.ok else result.status), result)

    def _param_keys(self, querydict):
        names = set(request_fields(self.api_view)) - set(self.form_exclude)
        return [k for k in querydict if k in names]

    def form_data(self, request, querydict):
        """The endpoint parameters from the form, with the store switcher's store as the default."""
        data = query_data(self.api_view, querydict, exclude=self.form_exclude)
        fields = request_fields(self.api_view)
        if "store" in fields and "store" not in querydict:
            chosen = request.session.get(SESSION_STORE_KEY)
            if chosen:
                data["store"] = chosen
        return data

    # Context ----------------------------------------------------------------------------------------
    @classmethod
    def display_body(cls, body):
        """The response as this page renders it (page, PDF, Excel, subscriptions). A page may override it
        to add derived views of the same figures under keys of its own (a mapping as rows, two methods
        side by side); it must not change or invent figures. Default: the response itself."""
        return body

    def results_context(self, result):
        if result is None or not result.ok:
            return {}
        body = self.display_body(result.body)
        tables = [prepare_table(t, body, user=self.request.user) for t in self.tables]
        charts = [prepare_chart(c, body, i) for i, c in enumerate(self.charts)]
        kpis = prepare_kpis(self.kpis, body)
        return {
            "body": body, "tables": tables, "charts": charts, "kpis": kpis,
            "insights": prepare_insights(self.insights, body),
            "model": model_summary(body.get("model")) if isinstance(body, dict) else None,
            "data_window": describe_window(body.get("data_window")),
            "generated_at": body.get("generated_at"),
            "is_empty": self.is_empty(body),
        }

    def is_empty(self, body):
        """True when the response has no rows in any table and no chart points (subscriptions can skip it)."""
        tables_empty = all(not resolve_path(body, t.path) for t in self.tables)
        charts_empty = all(prepare_chart(c, body).get("empty", True) for c in self.charts)
        return tables_empty and charts_empty

    def context(self, request, data, result):
        from .navigation import view_of_page

        panel, view = view_of_page(self.url_name)
        errors = result.errors if result is not None else {}
        query = urlencode({k: (",".join(v) if isinstance(v, list) else v) for k, v in data.items()})
        export_links = []
        if has_capability(request.user, DOWNLOAD_REPORTS):
            for fmt, label in (("pdf", "PDF"), ("xlsx", "Excel")):
                try:
                    url = reverse(self.export_url_name(), kwargs={"fmt": fmt})
                    export_links.append({"fmt": fmt, "label": label, "url": f"{url}?{query}" if query else url})
                except NoReverseMatch:
                    pass
        subscribe_url = ""
        if has_capability(request.user, SUBSCRIBE_REPORTS):
            try:  # "Subscribe to this view": the subscription form with this page and its current settings
                subscribe_url = reverse("dashboard-subscriptions") + "?" + urlencode({"view": self.url_name, "params": query})
            except NoReverseMatch:
                pass
        return {
            "page": self, "panel": panel, "dash_view": view, "subscribe_url": subscribe_url,
            "tabs": [{"label": ref.label, "url": url, "active": ref.url_name == self.url_name}
                     for ref, url in view.available_pages()] if view else [],
            "form_fields": build_form(self.api_view, data, errors, request.user, self.form_exclude, self.form_labels,
                                      self.choice_labels),
            "result": result, "errors": errors,
            "non_field_errors": errors.get("non_field_errors", []) + errors.get("detail", []),
            "actions": [a for a in self.actions if has_capability(request.user, a.capability)],
            "export_links": export_links,
            "fragment_url": f"{request.path}?{query + '&' if query else ''}fragment=results",
            "refresh_on": ",".join(self.refresh_on),
            "live_tables": [t.live_event for t in self.tables if t.live_event],
            **self.results_context(result),
        }

    # Exports ------------------------------------------------------------------------------------------
    def report(self, request, data, result):
        """The page's result as a Report (mlanalytics.exports) for PDF and Excel."""
        from mlanalytics.exports.report import build_report

        return build_report(self, request.user, data, result)

    def export_response(self, request, fmt, data, result):
        from mlanalytics.exports import render_report

        if not has_capability(request.user, DOWNLOAD_REPORTS):
            raise DjangoPermissionDenied("Your role does not include report downloads.")
        if fmt not in ("pdf", "xlsx"):
            raise Http404("Exports are PDF or Excel (xlsx).")
        if not result.ok:
            return JsonResponse({"errors": result.errors, "detail": result.message}, status=result.status)
        content, content_type, filename = render_report(self.report(request, data, result), fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Content-Length"] = str(len(content))
        return response


def page_for(url_name):
    """The page class routed under `url_name` (imports the URLconf so every app's pages are declared)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (loading the URLconf imports every page module)
    return PAGES.get(url_name)


def run_page_as(page_cls, user, params, rf_path="/"):
    """Compute a page for `user` outside a request (subscriptions): returns (page, data, result, request)."""
    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest, QueryDict

    request = HttpRequest()
    request.method, request.path = "GET", rf_path
    request.GET = QueryDict(urlencode(params or {}, doseq=True))
    request.META["SERVER_NAME"], request.META["SERVER_PORT"] = "localhost", "80"
    request.user = user
    request.session = SessionBase()
    page = page_cls()
    page.request = request
    data = query_data(page_cls.api_view, request.GET, exclude=page_cls.form_exclude)
    return page, data, run_endpoint(page_cls.api_view, request, data, page_cls.method), request


def now_text():
    return format_value(timezone.now(), "datetime")
