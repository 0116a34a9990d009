/* mlanalytics dashboards: shared behaviour (no inline scripts: CSP script-src 'self').
 * Formatting mirrors mlanalytics/core/formatting.py so live updates read like the server's figures. */
(function () {
  "use strict";
  var MLA = (window.MLA = window.MLA || {});

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // The shop's currency and time zone (settings SHOP_CURRENCY, TIME_ZONE), from base.html's "shop-locale" block.
  MLA.locale = function () {
    if (!MLA._locale) {
      var el = document.getElementById("shop-locale");
      MLA._locale = (el && JSON.parse(el.textContent)) || {};
      MLA._locale.currency = MLA._locale.currency || { prefix: "", suffix: "" };
      MLA.timeZone = MLA.timeZone || MLA._locale.time_zone || "Europe/London";
    }
    return MLA._locale;
  };
  var ALIASES = { gbp: "money", gbp0: "money0" };  // the money formats' names from when the currency was always GBP

  MLA.fmt = function (value, fmt) {
    if (value === null || value === undefined || value === "") return "–";
    var n = Number(value);
    var grouped = function (x, digits) {
      return x.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    };
    var money = function (x, digits) {  // as format_money: −£1,234.50, −1,234.50 kr.
      var c = MLA.locale().currency;
      var text = (c.prefix || "") + grouped(Math.abs(x), digits) + (c.suffix || "");
      return x < 0 ? "−" + text : text;
    };
    fmt = ALIASES[fmt] || fmt;
    switch (fmt) {
      case "int": return isNaN(n) ? String(value) : grouped(n, 0);
      case "num1": return isNaN(n) ? String(value) : grouped(n, 1);
      case "num2": return isNaN(n) ? String(value) : grouped(n, 2);
      case "money": return isNaN(n) ? String(value) : money(n, 2);
      case "money0": return isNaN(n) ? String(value) : money(n, 0);
      case "pct": return isNaN(n) ? String(value) : grouped(n * 100, 1) + " %";
      case "days": return isNaN(n) ? String(value) : grouped(n, 1) + " d";
      case "bool": return value ? "Yes" : "No";
      case "date": {  // "2026-12-06" -> "06 Dec 2026", as format_value's "%d %b %Y"
        var day = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
        return day ? day[3] + " " + MONTHS[Number(day[2]) - 1] + " " + day[1] : String(value);
      }
      case "datetime": {  // an ISO moment in the shop's time zone, as format_value's "%d %b %Y %H:%M"
        var moment = new Date(value);
        if (isNaN(moment)) return String(value);
        var parts = {};
        new Intl.DateTimeFormat("en-GB", { timeZone: MLA.locale() && MLA.timeZone, year: "numeric", month: "2-digit",
          day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false }).formatToParts(moment)
          .forEach(function (p) { parts[p.type] = p.value; });
        return parts.day + " " + MONTHS[Number(parts.month) - 1] + " " + parts.year + " " + parts.hour + ":" + parts.minute;
      }
      default: return String(value);
    }
  };

  MLA.path = function (data, dotted) {
    if (!dotted) return data;
    return dotted.split(".").reduce(function (acc, key) {
      return acc === null || acc === undefined ? undefined : acc[key];
    }, data);
  };

  MLA.json = function (id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  MLA.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  /* At most one call every `ms`, leading and trailing: the first event runs at once, a burst runs once
   * more at its end, and a steady stream still runs every `ms` (a debounce would wait for a quiet gap
   * that a busy shop never gives, and the page would never refresh). */
  MLA.throttle = function (fn, ms) {
    var last = 0, timer = null, pending = null;
    function run() {
      timer = null;
      last = Date.now();
      var args = pending;
      pending = null;
      fn.apply(null, args || []);
    }
    return function () {
      pending = arguments;
      if (timer) return;
      var wait = ms - (Date.now() - last);
      if (wait <= 0) run();
      else timer = setTimeout(run, wait);
    };
  };

  /* A refresh that never overlaps itself: a call while one is running asks for one more run after it. */
  MLA.serial = function (fn) {
    var running = false, again = false;
    function start() {
      running = true;
      again = false;
      Promise.resolve().then(fn).catch(function () {}).then(function () {
        running = false;
        if (again) start();
      });
    }
    return function () { if (running) again = true; else start(); };
  };

  MLA.getJSON = function (url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  };

  MLA.flash = function (el) {
    if (!el) return;
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  };

  /* Toasts: new alerts and results of actions. Dismissable, never hover-only. */
  MLA.toast = function (opts) {
    var box = document.getElementById("toasts");
    if (!box) return null;
    var toast = document.createElement("div");
    toast.className = "toast sev-" + (opts.severity || "info");
    toast.setAttribute("role", opts.severity === "critical" ? "alert" : "status");
    if (opts.id) toast.dataset.alertId = opts.id;
    var title = document.createElement(opts.href ? "a" : "strong");
    title.className = "toast-title";
    title.textContent = opts.title || "";
    if (opts.href) title.href = opts.href;
    toast.appendChild(title);
    if (opts.body) {
      var body = document.createElement("p");
      body.className = "toast-body";
      body.textContent = opts.body;
      toast.appendChild(body);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    box.prepend(toast);
    while (box.children.length > 4) box.lastElementChild.remove();
    setTimeout(function () { toast.classList.add("toast-out"); setTimeout(function () { toast.remove(); }, 400); },
      opts.timeout || 9000);
    return toast;
  };

  function setupNav() {
    var toggle = document.querySelector("[data-nav-toggle]");
    var nav = document.getElementById("sidenav");
    if (!toggle || !nav) return;
    document.body.classList.add("js-nav");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      document.body.classList.toggle("nav-open", open);
    });
  }

  function setupStoreSwitch() {
    var form = document.querySelector("[data-store-switch]");
    if (!form) return;
    var button = form.querySelector("[data-store-submit]");
    if (button) button.classList.add("visually-hidden");
    form.querySelector("select").addEventListener("change", function () { form.submit(); });
  }

  function setupBell() {
    var toggle = document.querySelector("[data-bell-toggle]");
    var panel = document.getElementById("bell-panel");
    if (!toggle || !panel) return;
    toggle.addEventListener("click", function (event) {
      event.stopPropagation();
      var open = panel.hidden;
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
    });
    document.addEventListener("click", function (event) {
      if (!panel.hidden && !panel.contains(event.target)) {
        panel.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !panel.hidden) {
        panel.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }

  function setupConfirms() {
    document.addEventListener("submit", function (event) {
      var form = event.target.closest("[data-confirm]");
      if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
    }, true);
  }

  /* Row actions: a button POSTs JSON to a REST URL with the session's CSRF token. */
  function setupRowActions() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-row-action]");
      if (!button) return;
      var body = button.dataset.body || "{}";
      var group = button.closest("[data-row-action-group]");
      if (group) {  // a button with inputs beside it (e.g. "Snooze until…" with its date): add them to the body
        var data = JSON.parse(body), missing = null;
        group.querySelectorAll("[data-row-input]").forEach(function (input) {
          if (input.value) data[input.dataset.rowInput] = input.value;
          else if (!missing) missing = input;
        });
        if (missing) {
          missing.focus();
          MLA.toast({ title: "Not done", body: (missing.getAttribute("aria-label") || "A value") + ": enter it first.", severity: "warning", timeout: 5000 });
          return;
        }
        body = JSON.stringify(data);
      }
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      var label = button.textContent.trim();
      MLA.busy(button);
      fetch(button.dataset.rowAction, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": MLA.csrf(), Accept: "application/json" },
        body: body,
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, data: data }; });
      }).then(function (res) {
        if (res.ok) {
          MLA.toast({ title: label + ": done", severity: "info", timeout: 4000 });
          if (MLA.refreshResults) MLA.refreshResults();
        } else {
          var msg = res.data.detail || Object.keys(res.data).map(function (k) { return k + ": " + [].concat(res.data[k]).join(" "); }).join("; ");
          MLA.toast({ title: "Not done", body: msg || "The server refused the action.", severity: "warning" });
        }
      }).catch(function () {
        MLA.toast({ title: "Not done", body: "The server could not be reached. Try again.", severity: "warning" });
      }).finally(function () { MLA.idle(button); });
    });
  }

  /* Busy state for every action: the button is disabled and shows a spinner and "Computing…" (or its
   * data-busy-text) until the answer arrives — a new page for a form, the JSON reply for a row action.
   * Long computations (a replay, an allocation, a what-if simulation, Apply, Send, Run rules) so
   * never look ignored, and a second click cannot send the action twice. */
  MLA.busy = function (button, text) {
    if (!button || button.dataset.busy === "1") return;
    button.dataset.busy = "1";
    button.dataset.idleHtml = button.innerHTML;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.classList.add("is-busy");
    button.innerHTML = "";
    var spinner = document.createElement("span");
    spinner.className = "spinner";
    spinner.setAttribute("aria-hidden", "true");
    button.append(spinner, document.createTextNode(" " + (text || button.dataset.busyText || "Computing…")));
  };

  MLA.idle = function (button) {
    if (!button || button.dataset.busy !== "1") return;
    button.innerHTML = button.dataset.idleHtml;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.classList.remove("is-busy");
    delete button.dataset.busy;
  };

  function setupBusyForms() {
    // Bubbling phase: a confirm() answered "Cancel" (capture phase, setupConfirms) has already stopped it.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (event.defaultPrevented || form.hasAttribute("data-no-busy")) return;
      var button = event.submitter || form.querySelector("button[type=submit], button:not([type])");
      if (!button) return;
      if (button.dataset.busy === "1") { event.preventDefault(); return; }  // already sent once
      if (button.name) {  // a disabled button is left out of the form data: carry its name=value over
        var carry = document.createElement("input");
        carry.type = "hidden";
        carry.name = button.name;
        carry.value = button.value;
        carry.dataset.busyCarry = "1";
        form.appendChild(carry);
      }
      form.setAttribute("aria-busy", "true");
      MLA.busy(button);
    });
    // Back to a page kept in the browser's cache: its buttons are ready again.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("button[data-busy='1']").forEach(MLA.idle);
      document.querySelectorAll("[data-busy-carry]").forEach(function (el) { el.remove(); });
      document.querySelectorAll("form[aria-busy]").forEach(function (f) { f.removeAttribute("aria-busy"); });
    });
  }

  /* Exports: fetch the file with a progress notice (bytes received, seconds elapsed), then save it. */
  function setupExports() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest("[data-export]");
      if (!link || !window.fetch || !window.ReadableStream) return;
      event.preventDefault();
      if (link.getAttribute("aria-busy") === "true") return;
      var label = link.textContent;
      var started = Date.now();
      link.setAttribute("aria-busy", "true");
      var progress = MLA.toast({ title: "Preparing " + link.dataset.export.toUpperCase() + "…", body: "Computing the figures and drawing the charts.", timeout: 120000 });
      var body = progress && progress.querySelector(".toast-body");
      var tick = setInterval(function () {
        var secs = Math.round((Date.now() - started) / 1000);
        link.textContent = "Preparing… " + secs + " s";
      }, 500);
      fetch(link.href, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok) return response.json().then(function (d) { throw new Error(d.detail || "The export failed (HTTP " + response.status + ")."); });
        var total = Number(response.headers.get("Content-Length")) || 0;
        var name = (response.headers.get("Content-Disposition") || "").split("filename=")[1] || "report";
        name = name.replace(/"/g, "");
        var reader = response.body.getReader();
        var chunks = [];
        var received = 0;
        function pump() {
          return reader.read().then(function (step) {
            if (step.done) return new Blob(chunks, { type: response.headers.get("Content-Type") });
            chunks.push(step.value);
            received += step.value.length;
            if (body) body.textContent = total ? "Downloading " + Math.round((100 * received) / total) + " %" : "Downloading " + Math.round(received / 1024) + " kB";
            return pump();
          });
        }
        return pump().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var a = document.createElement("a");
          a.href = url;
          a.download = name;
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
          if (progress) progress.remove();
          MLA.toast({ title: "Downloaded " + name, timeout: 4000 });
        });
      }).catch(function (err) {
        if (progress) progress.remove();
        MLA.toast({ title: "Export failed", body: err.message, severity: "warning" });
      }).finally(function () {
        clearInterval(tick);
        link.textContent = label;
        link.removeAttribute("aria-busy");
      });
    });
  }

  /* KPI tiles whose source is a JSON URL (home): re-read after live events and reconnects, at most
     every 0.6 s however busy the stream, never two reads at once. */
  MLA.refreshKpis = MLA.throttle(MLA.serial(function () {
    return Promise.all([].map.call(document.querySelectorAll("[data-kpi-source]"), function (box) {
      return MLA.getJSON(box.dataset.kpiSource).then(function (data) {
        box.querySelectorAll("[data-kpi]").forEach(function (tile) {
          var value = MLA.path(data, tile.dataset.kpi);
          var el = tile.querySelector("[data-kpi-value]");
          var text = MLA.fmt(value, tile.dataset.fmt);
          if (el && el.textContent !== text) { el.textContent = text; MLA.flash(tile); }
          var note = tile.querySelector("[data-kpi-note]");
          if (note && tile.dataset.notePath) {
            note.textContent = tile.dataset.noteTemplate.replace("{}", MLA.fmt(MLA.path(data, tile.dataset.notePath), tile.dataset.noteFmt));
          }
        });
      }).catch(function () { /* keep the figures shown; the next event or reconnect retries */ });
    }));
  }), 600);

  /* Analytics pages: re-fetch the server-rendered results (same template) after live events, at most
     every 1.5 s (the first event at once), never two fetches at once. */
  MLA.refreshResults = MLA.throttle(MLA.serial(function () {
    var wrap = document.querySelector("[data-results-wrap]");
    if (!wrap || !wrap.dataset.fragmentUrl) return null;
    var asked = Date.now();
    return fetch(wrap.dataset.fragmentUrl, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (html) {
      wrap.innerHTML = html;
      if (MLA.charts) MLA.charts.renderAll(wrap);
      // The server may have rendered these results before a change that reached this page while they were on
      // their way: rows take those changes again, so a re-read never puts an older figure back.
      if (MLA.live && MLA.live.replayRowsSince) MLA.live.replayRowsSince(asked);
    }).catch(function () { /* keep the current figures */ });
  }), 1500);

  /* On a phone the figures come first: a page's settings fold away once results are shown,
     unless a field needs attention. The summary line opens them again. */
  function setupParamDetails() {
    var details = document.querySelector("[data-param-details]");
    if (!details) return;
    window.addEventListener("resize", function () { if (window.innerWidth >= 700) details.open = true; });
    if (window.innerWidth >= 700) return;
    var hasErrors = details.querySelector(".has-error, .field-error");
    var hasResults = document.querySelector("[data-results-wrap]");
    if (!hasErrors && hasResults) details.open = false;
  }

  /* Report subscriptions: while a "Send now" is queued, follow its status until it has gone. */
  function setupSubscriptionStatus() {
    document.querySelectorAll("[data-sub-status]").forEach(function (cell) {
      var row = cell.closest("tr");
      var tries = 0;
      function poll() {
        MLA.getJSON(cell.dataset.subStatus).then(function (data) {
          cell.querySelector("[data-sub-status-text]").textContent = data.status;
          if (data.sending && tries++ < 150) { setTimeout(poll, 2000); return; }
          var spinner = cell.querySelector(".spinner");
          if (spinner) spinner.remove();
          var sent = row.querySelector("[data-sub-sent]");
          if (sent && data.last_sent_text) sent.textContent = data.last_sent_text;
          var button = row.querySelector("form[action$='/send/'] button");
          if (button) button.disabled = false;
          MLA.flash(cell);
        }).catch(function () { setTimeout(poll, 5000); });
      }
      setTimeout(poll, 1000);
    });
  }

  /* Import page: while a check or an import runs, follow its progress; reload for the report when it ends. */
  function setupImportProgress() {
    var box = document.querySelector("[data-import-status]");
    if (!box) return;
    var bar = box.querySelector("[data-import-bar]");
    function poll() {
      MLA.getJSON(box.dataset.importStatus).then(function (data) {
        if (!data.running) { window.location.reload(); return; }
        bar.max = data.total || 1;
        bar.value = data.done || 0;
        bar.textContent = data.percent + " %";
        box.querySelector("[data-import-phase]").textContent = data.phase;
        box.querySelector("[data-import-count]").textContent =
          (data.done || 0).toLocaleString("en-GB") + " of " + (data.total || 0).toLocaleString("en-GB") + " rows";
        setTimeout(poll, 700);
      }).catch(function () { setTimeout(poll, 3000); });
    }
    setTimeout(poll, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupImportProgress();
    setupSubscriptionStatus();
    setupParamDetails();
    setupNav();
    setupStoreSwitch();
    setupBell();
    setupConfirms();
    setupRowActions();
    setupBusyForms();
    setupExports();
  });
})();
