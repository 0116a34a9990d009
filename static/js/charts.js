/* Chart builders: Plotly figures from the column-oriented specs prepared by mlanalytics.core.pages
 * (prepare_chart). One builder per kind; a click on a point with a link opens its detail (drill-down).
 * Live reducers (RealTimeChart) change a spec in place when an event arrives and redraw it. */
(function () {
  "use strict";
  var MLA = (window.MLA = window.MLA || {});
  var TEAL = "#008080", BLUE = "#ADD8E6", GREY = "#36454F";
  var PALETTE = [TEAL, "#4A90A4", "#C77700", "#7B5EA7", "#5B8C3A", "#B5495B", GREY];
  var FONT = '"SF Pro Text", -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';

  function small() { return window.matchMedia("(max-width: 700px)").matches; }

  // d3-format has no currency of its own: money axes carry the shop's currency as a prefix or suffix
  // (y_prefix / y_suffix from formatting.d3_format: "£" before, " kr." after).
  function numberFormat(spec) {
    return { prefix: spec.y_prefix || "", format: spec.y_fmt || "", suffix: spec.y_suffix || "" };
  }
  function hoverValue(spec, axis) {
    var nf = numberFormat(spec);
    return nf.prefix + "%{" + axis + (nf.format ? ":" + nf.format : "") + "}" + nf.suffix;
  }

  function baseLayout(spec) {
    var phone = small();
    return {
      font: { family: FONT, color: GREY, size: phone ? 11 : 12 },
      margin: { l: phone ? 44 : 56, r: 12, t: 12, b: phone ? 40 : 48, autoexpand: true },
      height: spec.height || 320,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      showlegend: (spec.series || []).length > 1 || (spec.series || []).some(function (s) { return s.lower; }),
      // Above the plot, left-aligned: the margin grows to fit it (autoexpand), so it never sits on the axis
      // titles or tick labels below the plot, at any width.
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", bgcolor: "rgba(0,0,0,0)" },
      hovermode: "closest",
      // On a phone a drag scrolls the page instead of zooming the chart; taps still drill down.
      dragmode: phone ? false : "zoom",
      xaxis: { title: spec.x_label ? { text: spec.x_label } : undefined, automargin: true, fixedrange: phone, gridcolor: "#e6ecf0" },
      yaxis: { title: spec.y_label ? { text: spec.y_label } : undefined, automargin: true, tickformat: numberFormat(spec).format || undefined,
        tickprefix: numberFormat(spec).prefix || undefined,
        ticksuffix: numberFormat(spec).suffix || undefined, fixedrange: phone, gridcolor: "#e6ecf0", rangemode: "tozero" },
    };
  }

  var builders = {
    timeseries: function (spec) {
      var traces = [];
      spec.series.forEach(function (s, i) {
        var color = PALETTE[i % PALETTE.length];
        var dash = "solid";
        if (s.lower && s.upper) {
          color = GREY;  // the expectation is drawn quieter than the observed figures
          dash = "dot";
          traces.push({ x: s.x, y: s.upper, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false });
          traces.push({ x: s.x, y: s.lower, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
            fillcolor: "rgba(173,216,230,0.55)", name: s.band_label || s.label + " band", hoverinfo: "skip" });
        }
        traces.push({ x: s.x, y: s.y, type: "scatter", mode: s.mode || "lines", name: s.label, customdata: s.links,
          line: { color: color, width: 2, dash: dash }, marker: { color: color, size: 5 },
          hovertemplate: "%{x}<br>" + hoverValue(spec, "y") + "<extra>" + s.label + "</extra>" });
      });
      return { traces: traces, layout: { xaxis: { type: "date" } } };
    },
    bar: function (spec) {
      var horizontal = spec.orientation === "h";
      var traces = spec.series.map(function (s, i) {
        var color = PALETTE[i % PALETTE.length];
        if (s.mode && s.mode !== "bar") {  // a reference drawn over the bars, as declared: points, a line or both
          var mode = s.mode === "line" ? "lines" : s.mode;
          var markers = mode.indexOf("markers") >= 0;
          return { x: horizontal ? s.y : s.x, y: horizontal ? s.x : s.y, type: "scatter", mode: mode, name: s.label,
            customdata: s.links, line: { color: GREY, width: 2, dash: "dot" },
            marker: { size: markers && mode === "markers" ? 9 : 5, color: GREY, symbol: mode === "markers" ? "diamond" : "circle" },
            hovertemplate: "%{" + (horizontal ? "y" : "x") + "}: " + hoverValue(spec, horizontal ? "x" : "y") + "<extra>" + s.label + "</extra>" };
        }
        return { x: horizontal ? s.y : s.x, y: horizontal ? s.x : s.y, type: "bar", orientation: horizontal ? "h" : "v",
          name: s.label, customdata: s.links, marker: { color: color },
          hovertemplate: "%{" + (horizontal ? "y" : "x") + "}: " + hoverValue(spec, horizontal ? "x" : "y") + "<extra>" + s.label + "</extra>" };
      });
      var layout = { barmode: spec.stacked ? "stack" : "group", xaxis: { type: "category" } };
      if (horizontal) {
        layout = { barmode: spec.stacked ? "stack" : "group",
          yaxis: { type: "category", autorange: "reversed", tickformat: "", tickprefix: "", ticksuffix: "" },
          xaxis: { tickformat: numberFormat(spec).format || undefined, tickprefix: numberFormat(spec).prefix || undefined,
            ticksuffix: numberFormat(spec).suffix || undefined } };
        var names = [];
        spec.series.forEach(function (s) { (s.x || []).forEach(function (x) { if (names.indexOf(x) < 0) names.push(x); }); });
        // Every bar keeps its own label: Plotly would skip labels of a crowded axis, leaving bars a reader cannot
        // name, so the chart grows with its categories instead.
        layout.yaxis.tickmode = "array";
        layout.yaxis.tickvals = names;
        layout.yaxis.ticktext = names.map(String);
        layout.height = Math.max(spec.height || 320, 20 * names.length + 110);
        if (small() && names.some(function (n) { return String(n).length > 22; })) {
          // long category names would leave the bars no room on a phone: shorten them (hover keeps the full name)
          layout.yaxis.ticktext = names.map(function (n) { n = String(n); return n.length > 22 ? n.slice(0, 21) + "…" : n; });
        }
      }
      return { traces: traces, layout: layout };
    },
    scatter: function (spec) {
      return { traces: spec.series.map(function (s, i) {
        return { x: s.x, y: s.y, text: s.text, type: "scatter", mode: "markers", name: s.label, customdata: s.links,
          marker: { color: PALETTE[i % PALETTE.length], size: 8 } };
      }), layout: {} };
    },
    heatmap: function (spec) {
      var h = spec.heatmap;
      return { traces: [{ type: "heatmap", x: h.x, y: h.y, z: h.z, customdata: h.links, colorscale: [[0, "#f4f9fb"], [0.5, BLUE], [1, TEAL]], hoverongaps: false,
        hovertemplate: "%{y} %{x}: " + hoverValue(spec, "z") + "<extra></extra>" }],
        layout: { xaxis: { type: "category" },
          yaxis: { type: "category", autorange: "reversed", tickformat: "", tickprefix: "", ticksuffix: "" }, showlegend: false } };
    },
  };

  function merge(target, extra) {
    Object.keys(extra || {}).forEach(function (key) {
      if (extra[key] && typeof extra[key] === "object" && !Array.isArray(extra[key]) && target[key] && typeof target[key] === "object") {
        merge(target[key], extra[key]);
      } else {
        target[key] = extra[key];
      }
    });
    return target;
  }

  function draw(el, spec) {
    var builder = builders[spec.kind] || builders.timeseries;
    var built = builder(spec);
    var layout = merge(baseLayout(spec), built.layout);
    var config = { responsive: true, displaylogo: false, scrollZoom: false,
      modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines"] };
    if (small()) config.displayModeBar = false;
    return window.Plotly.react(el, built.traces, layout, config);
  }

  function render(el, spec) {
    if (!window.Plotly || !spec) return;
    el._mlaSpec = spec;
    draw(el, spec).then(function () {
      if (el._mlaClickBound) return;
      el._mlaClickBound = true;
      el.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var link = point && point.customdata;
        if (Array.isArray(link)) link = null;
        if (link) window.location.href = link;
      });
    });
  }

  function renderAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      render(el, MLA.json(el.dataset.chart));
    });
  }

  /* Live reducers for RealTimeChart: (spec, message) -> true when the spec changed. */
  var reducers = {
    // WorkflowStatus chart: the component keeps per-store counts; it hands the summed row here.
    status_counts: function (spec, message) {
      var totals = MLA.workflowTotals;
      if (!totals || (message.event !== "ticket_created" && message.event !== "ticket_status" && message.event !== "reconnected")) return false;
      var keys = spec.series[0].keys || [];
      spec.series[0].y = keys.map(function (k) { return totals[k] || 0; });
      return true;
    },
    // Home: a new ticket adds one to today's bar of the hour it was received in (shop time).
    intake_by_hour: function (spec, message) {
      if (message.event !== "ticket_created") return false;
      var hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hour12: false, timeZone: MLA.locale().time_zone })
        .format(message.sent_at ? new Date(message.sent_at) : new Date());
      var label = hour.padStart(2, "0") + ":00";
      var today = spec.series[0];
      var index = today.x.indexOf(label);
      if (index < 0) return false;
      today.y[index] = (today.y[index] || 0) + 1;
      return true;
    },
    // Stock monitor, "SKU lines by status": a line that changes status moves from one bar to the other at once
    // (live.js notes the row's status before the table takes the new one); the results re-read reconciles.
    stock_status: function (spec, message) {
      var p = message.payload || {};
      if (message.event !== "stock" || !p.status || !message.previous_status || p.status === message.previous_status) return false;
      var series = spec.series[0];
      var keys = (series.x || []).map(function (x) { return String(x).toLowerCase(); });
      var from = keys.indexOf(message.previous_status), to = keys.indexOf(p.status);
      if (from < 0 && to < 0) return false;
      if (from >= 0) series.y[from] = Math.max(0, (series.y[from] || 0) - 1);
      if (to >= 0) series.y[to] = (series.y[to] || 0) + 1;
      return true;
    },
    // Bars labelled "SKU · store" take the event's figure for the field each series shows (available,
    // reorder point): the bar of the part that moved changes height at once.
    stock_levels: function (spec, message) {
      var p = message.payload || {};
      if (message.event !== "stock" || !p.sku) return false;
      var label = p.sku + " · " + (message.store || p.store);
      var changed = false;
      spec.series.forEach(function (s) {
        if (!s.field || p[s.field] === undefined || p[s.field] === null) return;
        var index = (s.x || []).indexOf(label);
        if (index >= 0 && s.y[index] !== p[s.field]) { s.y[index] = p[s.field]; changed = true; }
      });
      return changed;
    },
  };

  function applyLive(message) {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = el._mlaSpec;
      if (!spec || !spec.live || !reducers[spec.live]) return;
      if (reducers[spec.live](spec, message)) draw(el, spec);
    });
  }

  MLA.charts = { builders: builders, render: render, renderAll: renderAll, reducers: reducers, applyLive: applyLive };
  document.addEventListener("DOMContentLoaded", function () { renderAll(document); });
})();
