"""Charts for the PDF as vector SVG, drawn with matplotlib from the same prepared chart specs that
static/js/charts.js draws with Plotly (Plotly's own static export would need a browser)."""
import io
from datetime import date

import matplotlib
from matplotlib.figure import Figure

from mlanalytics.core.formatting import canonical, format_money

TEAL, BLUE, GREY, AMBER = "#008080", "#ADD8E6", "#36454F", "#C77700"
PALETTE = [TEAL, "#4A90A4", AMBER, "#7B5EA7", "#5B8C3A", "#B5495B", GREY]
STYLE = {
    "svg.fonttype": "none",  # keep text as text: sharp, searchable, small
    # Titles, labels and categories are the shop's own text (part, supplier, technician names): draw "$…$" as
    # written, never as mathtext (an unbalanced or unknown command made the PDF export fail).
    "text.parse_math": False,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.size": 8,
    "axes.edgecolor": "#8a99a6",
    "axes.labelcolor": GREY,
    "xtick.color": GREY,
    "ytick.color": GREY,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _dates(values):
    out = []
    for v in values:
        try:
            out.append(date.fromisoformat(str(v)[:10]))
        except ValueError:
            return None
    return out


def _num(values):
    return [float("nan") if v is None else v for v in values]


def chart_svg(spec, width_in=7.0, height_in=2.8):
    """An SVG document (str) of the chart, or "" when it has no data."""
    if spec.get("empty"):
        return ""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_subplot(1, 1, 1)
        kind = spec["kind"]
        if kind == "heatmap":
            _heatmap(fig, ax, spec)
        elif kind == "bar":
            _bars(ax, spec)
        else:
            _lines(ax, spec)
        _format_value_axis(ax, spec)
        if spec.get("y_label"):
            ax.set_ylabel(spec["y_label"])
        if spec.get("x_label"):
            ax.set_xlabel(spec["x_label"])
        ax.set_title(spec.get("title", ""), loc="left", color=GREY, fontsize=9, fontweight="bold")
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.find("<svg"):]  # drop the XML prolog/doctype so it can sit inline in HTML


TICK_FORMATS = {  # the page's value format on the PDF's value axis, as on screen (0.8 -> 80 %, 1200 -> £1,200)
    "pct": lambda v: f"{v * 100:,.0f} %",
    "money": lambda v: format_money(v, 2),
    "money0": lambda v: format_money(v, 0),
    "int": lambda v: f"{v:,.0f}",
}


def _format_value_axis(ax, spec):
    """Ticks of the value axis (the colour bar of a heatmap) in the chart's format."""
    from matplotlib.ticker import FuncFormatter

    tick = TICK_FORMATS.get(canonical(spec.get("fmt")))
    if tick is None:
        return
    formatter = FuncFormatter(lambda value, _: tick(value))
    if spec["kind"] == "heatmap":
        if getattr(ax, "_value_colorbar", None) is not None:
            ax._value_colorbar.ax.yaxis.set_major_formatter(formatter)
    elif spec["kind"] == "bar" and spec.get("orientation") == "h":
        ax.xaxis.set_major_formatter(formatter)
    else:
        ax.yaxis.set_major_formatter(formatter)


def _lines(ax, spec):
    for i, series in enumerate(spec["series"]):
        xs = _dates(series["x"]) or series["x"]
        color = PALETTE[i % len(PALETTE)]
        if series.get("lower") and series.get("upper"):
            ax.fill_between(xs, _num(series["lower"]), _num(series["upper"]), color=BLUE, alpha=0.55, linewidth=0,
                            label=series.get("band_label") or f"{series['label']} band")
        # As on screen: a scatter chart (e.g. ADI against CV²) is points unless its series says otherwise.
        mode = series.get("mode") or ("markers" if spec["kind"] == "scatter" else "lines")
        style, size = _style(mode)
        ax.plot(xs, _num(series["y"]), style, color=color, markersize=size, linewidth=1.3, label=series["label"])
    if len(spec["series"]) > 1 or any(s.get("lower") for s in spec["series"]):
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    ax.figure.autofmt_xdate() if _dates(spec["series"][0]["x"]) else None


def _style(mode, marker="o"):
    """A matplotlib format string and marker size for a series mode (markers | lines | lines+markers)."""
    if mode == "markers":
        return marker, 4.0
    if "markers" in mode:
        return f"-{marker}", 2.5
    return "-", 2.5


def _bars(ax, spec):
    series = spec["series"]
    categories = []
    for s in series:
        for x in s["x"]:
            if x not in categories:
                categories.append(x)
    bar_series = [s for s in series if (s.get("mode") or "bar") == "bar"]
    n = max(1, len(bar_series))
    width = 0.8 / (1 if spec.get("stacked") else n)
    bottom = [0.0] * len(categories)
    horizontal = spec.get("orientation") == "h"
    for i, s in enumerate(series):
        values = dict(zip(s["x"], _num(s["y"])))
        heights = [values.get(c, 0) or 0 for c in categories]
        slot = bar_series.index(s) if s in bar_series else 0
        positions = [j + (0 if spec.get("stacked") else (slot - (n - 1) / 2) * width) for j in range(len(categories))]
        color = PALETTE[i % len(PALETTE)]
        if (s.get("mode") or "bar") != "bar":  # a reference over the bars, drawn as declared (points and/or a line)
            style, size = _style(s["mode"], marker="D")
            centres = list(range(len(categories)))
            (ax.plot(heights, centres, style, color=GREY, markersize=size, label=s["label"]) if horizontal
             else ax.plot(centres, heights, style, color=GREY, markersize=size, label=s["label"]))
            continue
        if horizontal:
            ax.barh(positions, heights, height=width, left=bottom if spec.get("stacked") else None, color=color, label=s["label"])
        else:
            ax.bar(positions, heights, width=width, bottom=bottom if spec.get("stacked") else None, color=color, label=s["label"])
        if spec.get("stacked"):
            bottom = [b + h for b, h in zip(bottom, heights)]
    ticks = range(len(categories))
    labels = [str(c) for c in categories]
    if horizontal:
        ax.set_yticks(list(ticks), labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(list(ticks), labels, rotation=45 if len(categories) > 8 else 0, ha="right" if len(categories) > 8 else "center")
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=7)


def _heatmap(fig, ax, spec):
    data = spec["heatmap"]
    z = [[float("nan") if v is None else v for v in row] for row in data["z"]]
    image = ax.imshow(z, aspect="auto", cmap="GnBu")
    ax.set_xticks(range(len(data["x"])), data["x"], rotation=45 if len(data["x"]) > 8 else 0, ha="right" if len(data["x"]) > 8 else "center")
    ax.set_yticks(range(len(data["y"])), data["y"])
    ax._value_colorbar = fig.colorbar(image, ax=ax, fraction=0.03)
