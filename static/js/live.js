/* The one live connection (/ws/live/) and the components it keeps current.
 *
 * Protocol (docs/dashboards.md): the server sends {event, store, payload, sent_at}. After every
 * (re)connect the browser sends {"type": "catch_up", "since_alert_id": N, "since": last sent_at}
 * and receives {"event": "catch_up", "payload": {"alerts": [...]}}. Reconnects back off
 * exponentially (0.5 s doubling to 30 s, with jitter). Latency = receipt time − sent_at, kept in
 * MLA.live.latencies for measurement. */
(function () {
  "use strict";
  var MLA = (window.MLA = window.MLA || {});
  var config = MLA.json("live-config");
  if (!config || !window.WebSocket) return;

  var live = (MLA.live = {
    handlers: {},
    latencies: [],
    received: [],
    connected: false,
    everConnected: false,
    attempt: 0,
    // The first catch-up asks for what came after the page was rendered (alert id and server time).
    lastAlertId: config.last_alert_id || 0,
    lastSentAt: config.rendered_at || null,
    seenAlerts: new Set(),
    socket: null,
    on: function (event, fn) { (this.handlers[event] = this.handlers[event] || []).push(fn); },
  });
  var statusEl = document.querySelector("[data-live-status]");

  function setStatus(text) {
    if (!statusEl) return;
    statusEl.hidden = !text;
    statusEl.textContent = text || "";
    document.body.classList.toggle("live-down", Boolean(text));
  }

  function dispatch(message) {
    (live.handlers[message.event] || []).forEach(function (fn) {
      try { fn(message); } catch (err) { if (window.console) console.warn("live handler failed", err); }
    });
    (live.handlers["*"] || []).forEach(function (fn) { fn(message); });
    if (MLA.charts) MLA.charts.applyLive(message);
  }

  function receive(raw) {
    var message;
    try { message = JSON.parse(raw.data); } catch (err) { return; }
    if (message.sent_at) {
      var sent = Date.parse(message.sent_at);
      if (!isNaN(sent)) {
        live.latencies.push(Date.now() - sent);
        if (live.latencies.length > 2000) live.latencies.shift();
      }
      if (!live.lastSentAt || message.sent_at > live.lastSentAt) live.lastSentAt = message.sent_at;
    }
    live.received.push({ event: message.event, at: Date.now() });
    if (live.received.length > 500) live.received.shift();
    if (message.event === "catch_up") {
      (message.payload.alerts || []).forEach(function (alert) {
        dispatch({ event: "alert", store: alert.store, payload: alert, sent_at: null, caught_up: true });
      });
      return;
    }
    if (message.event === "hello") live.hello = message.payload;
    dispatch(message);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + config.url);
    live.socket = socket;
    socket.addEventListener("open", function () {
      var reconnected = live.everConnected;
      live.connected = live.everConnected = true;
      live.attempt = 0;
      setStatus("");
      // Always catch up: covers alerts delivered between rendering the page and opening the socket.
      socket.send(JSON.stringify({ type: "catch_up", since_alert_id: live.lastAlertId, since: live.lastSentAt }));
      if (reconnected) dispatch({ event: "reconnected", payload: {} });
    });
    socket.addEventListener("message", receive);
    socket.addEventListener("close", function (event) {
      live.connected = false;
      if (event.code === 4401) { setStatus("Signed out: live updates stopped. Log in again to resume."); return; }
      var delay = Math.min(30000, 500 * Math.pow(2, live.attempt)) * (0.75 + Math.random() * 0.5);
      live.attempt += 1;
      setStatus("Live updates paused: reconnecting in " + Math.max(1, Math.round(delay / 1000)) + " s…");
      setTimeout(connect, delay);
    });
  }
  live.connect = connect;
  live.percentile = function (q) {
    var sorted = live.latencies.slice().sort(function (a, b) { return a - b; });
    if (!sorted.length) return null;
    return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
  };

  /* --- Alerts: toast, bell, inbox banner, InventoryAlert --------------------------------------- */
  var bellCount = document.querySelector("[data-bell-count]");
  var bellList = document.querySelector("[data-bell-list]");
  var inboxUrl = (document.querySelector(".bell-head a") || {}).href || null;

  var refreshBell = MLA.throttle(function () {
    if (!bellCount) return;
    var store = config.url.split("stores=")[1];
    MLA.getJSON("/api/core/alerts/summary/" + (store ? "?store=" + encodeURIComponent(store) : "")).then(function (data) {
      setBell(data.unread);
    }).catch(function () {});
  }, 500);

  function setBell(n) {
    if (!bellCount) return;
    bellCount.textContent = String(n);
    bellCount.classList.toggle("is-zero", !n);
  }

  live.on("alert", function (message) {
    var alert = message.payload;
    // One notice per delivery: an alert woken at the end of its snooze is delivered (and shown) again.
    var delivery = alert.id + "@" + (alert.delivered_at || "");
    if (live.seenAlerts.has(delivery)) return;
    live.seenAlerts.add(delivery);
    if (alert.id > live.lastAlertId) live.lastAlertId = alert.id;
    // Only news is a notice: an alert someone acknowledged, resolved or snoozed meanwhile is not.
    if (alert.state !== "firing" || (alert.snoozed_until && Date.parse(alert.snoozed_until) > Date.now())) return;
    var where = alert.store ? alert.store + " · " : "";
    MLA.toast({
      id: alert.id, severity: alert.severity, title: alert.title,
      body: where + (message.caught_up ? "while you were offline · " : "") + (alert.message || alert.kind.replace(/_/g, " ")),
      href: inboxUrl ? inboxUrl.split("?")[0] + "?focus=" + alert.id : null,
    });
    if (bellCount && alert.state === "firing") {
      setBell(Number(bellCount.textContent || 0) + 1);
      if (bellList) {
        var empty = bellList.querySelector("[data-bell-empty]");
        if (empty) empty.remove();
        var li = document.createElement("li");
        li.className = "sev-" + alert.severity;
        var a = document.createElement("a");
        a.textContent = alert.title;
        a.href = (inboxUrl || "#").split("?")[0] + "?focus=" + alert.id;
        var when = document.createElement("span");
        when.className = "muted";
        when.textContent = (alert.store || "all stores") + " · " + MLA.fmt(alert.fired_at, "datetime");
        li.append(a, when);
        bellList.prepend(li);
        while (bellList.children.length > 5) bellList.lastElementChild.remove();
      }
    }
    var banner = document.querySelector("[data-inbox-new]");
    if (banner) {
      banner.hidden = false;
      var count = Number(banner.dataset.count || 0) + 1;
      banner.dataset.count = count;
      banner.querySelector("[data-inbox-new-text]").textContent = count + " new alert" + (count > 1 ? "s" : "") + " since this page was opened.";
    }
    document.querySelectorAll("[data-inventory-alert]").forEach(function (box) {
      if (box.dataset.inventoryAlert.split(",").indexOf(alert.kind) < 0) return;
      var list = box.querySelector("[data-alert-list]");
      var empty = list.querySelector("[data-alert-empty]");
      if (empty) empty.remove();
      var li = document.createElement("li");
      li.className = "alert-item sev-" + alert.severity;
      li.dataset.alertId = alert.id;
      var badge = document.createElement("span");
      badge.className = "badge sev-badge sev-" + alert.severity;
      badge.textContent = alert.severity;
      var text = document.createElement("span");
      text.className = "alert-title";
      text.textContent = " " + alert.title + " ";
      var where = document.createElement("span");
      where.className = "muted small";
      where.textContent = (alert.store || "all stores") + " · just now";
      li.append(badge, text, where);
      list.prepend(li);
      MLA.flash(li);
    });
  });

  ["alert_acknowledged", "alert_resolved", "alert_snoozed"].forEach(function (name) {
    live.on(name, function (message) {
      refreshBell();
      var card = document.querySelector('[data-alert-inbox] [data-alert-id="' + message.payload.id + '"] [data-alert-state]');
      if (card) { card.textContent = message.payload.state; MLA.flash(card); }
      if (name === "alert_resolved") {
        document.querySelectorAll('[data-inventory-alert] [data-alert-id="' + message.payload.id + '"]').forEach(function (li) { li.remove(); });
      }
    });
  });

  /* --- WorkflowStatus: per-store counts from ticket events, summed over the stores shown -------- */
  var statusBox = document.querySelector("[data-workflow-status]");
  var statusByStore = statusBox ? MLA.json(statusBox.dataset.workflowStatus) : null;
  function sumStatus() {
    var totals = {};
    Object.keys(statusByStore || {}).forEach(function (store) {
      Object.keys(statusByStore[store]).forEach(function (status) { totals[status] = (totals[status] || 0) + statusByStore[store][status]; });
    });
    MLA.workflowTotals = totals;
    return totals;
  }
  if (statusBox) sumStatus();
  ["ticket_created", "ticket_status"].forEach(function (name) {
    live.on(name, function (message) {
      if (!statusBox || !message.store || !(message.store in statusByStore) || !message.payload.status_counts) return;
      statusByStore[message.store] = message.payload.status_counts;
      var totals = sumStatus();
      statusBox.querySelectorAll("[data-status]").forEach(function (tile) {
        var el = tile.querySelector("[data-status-count]");
        var text = String(totals[tile.dataset.status] || 0);
        if (el.textContent !== text) { el.textContent = text; MLA.flash(tile); }
      });
    });
  });

  /* --- Live tables: rows keyed by fields (e.g. sku|store) take the event's values in place ------ */
  function updateTables(message) {
    document.querySelectorAll('[data-live-table="' + message.event + '"]').forEach(function (table) {
      var fields = (table.dataset.keyFields || "").split(",");
      var data = Object.assign({ store: message.store }, message.payload);
      var key = fields.map(function (f) { return data[f] === undefined ? "" : data[f]; }).join("|");
      var row = table.querySelector('tr[data-key="' + CSS.escape(key) + '"]');
      if (!row) return;
      row.querySelectorAll("[data-field]").forEach(function (cell) {
        var value = MLA.path(data, cell.dataset.field);
        if (value === undefined) return;
        var text = MLA.fmt(value, cell.dataset.fmt);
        var target = cell.querySelector("a, .badge") || cell;
        if (target.textContent !== text) { target.textContent = text; MLA.flash(cell); }
        // A status badge takes the colour of its new status too (ok → out turns red at once).
        if (cell.dataset.fmt === "status" && target.classList.contains("badge")) target.className = "badge status-" + String(value).toLowerCase();
      });
    });
  }
  // Row updates of the last minute, replayed after a results re-read (MLA.refreshResults) on rows the server
  // may have rendered before these changes committed. Setting a row to an event's values is idempotent.
  var rowLog = [];
  live.on("*", function (message) {
    if (message.event === "alert" || message.event === "catch_up") return;
    updateTables(message);
    if (document.querySelector('[data-live-table="' + message.event + '"]')) {
      rowLog.push({ at: Date.now(), message: message });
      while (rowLog.length && (rowLog.length > 1000 || rowLog[0].at < Date.now() - 60000)) rowLog.shift();
    }
  });
  live.replayRowsSince = function (since) {
    rowLog.forEach(function (entry) { if (entry.at >= since) updateTables(entry.message); });
  };
  // Before the row takes the new figures: note the status it had, for charts counting lines by status.
  live.on("stock", function (message) {
    var key = (message.payload.sku || "") + "|" + (message.store || message.payload.store || "");
    var badge = document.querySelector('[data-live-table="stock"] tr[data-key="' + CSS.escape(key) + '"] [data-field="status"] .badge');
    if (badge) message.previous_status = badge.textContent.trim().toLowerCase();
  });

  /* --- Training progress (PredictiveInsights) ---------------------------------------------------- */
  live.on("training_progress", function (message) {
    var box = document.querySelector("[data-training-progress]");
    if (!box) return;
    var p = message.payload;
    // predictive.services publishes {state, done, total, step}; the longer names are accepted too.
    var state = p.state || p.status, done = p.done !== undefined ? p.done : p.done_steps;
    var total = p.total !== undefined ? p.total : p.total_steps, step = p.step !== undefined ? p.step : p.current_step;
    box.hidden = state === "done" || state === "failed";
    var bar = box.querySelector("[data-training-bar]");
    bar.max = total || 1;
    bar.value = done || 0;
    box.querySelector("[data-training-step]").textContent = step || "";
    box.querySelector("[data-training-text]").textContent = (done || 0) + " of " + (total || 0) + " steps";
    if (state === "done") MLA.toast({ title: "Training finished", body: "New models are in the registry.", timeout: 6000 });
    if (state === "failed") MLA.toast({ title: "Training failed", body: "See Model Performance for the error.", severity: "warning" });
  });

  /* --- Re-reads: KPI sources, analytics results after their refresh_on events, and reconnects ---- */
  var kpiEvents = ["ticket_created", "ticket_status", "stock", "alert", "alert_acknowledged", "alert_resolved", "alert_snoozed"];
  live.on("*", function (message) {
    if (kpiEvents.indexOf(message.event) >= 0 && document.querySelector("[data-kpi-source]")) MLA.refreshKpis();
    var wrap = document.querySelector("[data-results-wrap]");
    if (wrap && wrap.dataset.refreshOn && wrap.dataset.refreshOn.split(",").indexOf(message.event) >= 0) MLA.refreshResults();
  });
  live.on("reconnected", function () {
    refreshBell();
    if (document.querySelector("[data-kpi-source]")) MLA.refreshKpis();
    var wrap = document.querySelector("[data-results-wrap]");
    if (wrap && (wrap.dataset.refreshOn || wrap.querySelector("[data-live-table]"))) MLA.refreshResults();
    if (statusBox && MLA.refreshKpis) {
      MLA.getJSON("/api/core/home/" + (config.url.split("stores=")[1] ? "?store=" + config.url.split("stores=")[1] : "")).then(function (data) {
        statusByStore = data.status_counts;
        var totals = sumStatus();
        statusBox.querySelectorAll("[data-status]").forEach(function (tile) {
          tile.querySelector("[data-status-count]").textContent = String(totals[tile.dataset.status] || 0);
        });
        if (MLA.charts) MLA.charts.applyLive({ event: "reconnected" });
      }).catch(function () {});
    }
  });

  document.addEventListener("DOMContentLoaded", connect);
})();
