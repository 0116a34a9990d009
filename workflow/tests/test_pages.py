"""The Workflow Automation dashboard pages (workflow/views.py) on the session's demo data: each page renders its
endpoint's figures for the roles that may see it (compared with the API's own answer for the same parameters),
the QA p-chart reads as one (observed proportion, centre line, control limits) and out-of-control rows are red,
technicians, repair types, suppliers and stores open their detail, forms offer the shop's tickets, rules and
events as choices, and the buttons that change things are there only for the roles allowed to press them."""
import html as html_lib
import re

import pytest
from django.urls import reverse

from mlanalytics.core.formatting import format_value
from tests.page_helpers import chart_data, kpi_text, series
from workflow.models import TicketStatus

pytestmark = pytest.mark.django_db
PAGES = ["overview", "automation", "process", "analytics", "communication", "quality", "allocation"]
API = "/api/workflow-automation/"


@pytest.fixture
def browser(make_user, client):
    def login(role, stores="all"):
        client.force_login(make_user(role, stores))
        return client

    return login


def page(client, name, query=""):
    response = client.get(reverse(f"workflow:{name}") + (f"?{query}" if query else ""))
    return response, response.content.decode()


def table_rows(html, title):
    """The rows of the table titled `title`: {"flagged": the row is highlighted, "badge": its flag's words,
    "cells": {data-field: text}, "links": {data-field: href}}, in page order."""
    start = html.index(f'<h3 class="table-title">{title}')
    end = html.find("</section>", start)
    body = html[start:end]
    if "<tbody>" not in body:
        return []
    rows = []
    for attrs, row in re.findall(r"<tr([^>]*)>(.*?)</tr>", body.split("<tbody>")[1], re.S):
        cells = re.findall(r'<td[^>]*data-field="([^"]+)"[^>]*>(.*?)</td>', row, re.S)
        badge = re.search(r'<span class="badge flag-badge">([^<]*)</span>', row)
        rows.append({
            "flagged": "row-flagged" in attrs, "badge": badge.group(1) if badge else "",
            "cells": {f: html_lib.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="badge flag-badge">[^<]*</span>', "", t))).strip()
                      for f, t in cells},
            "links": {f: html_lib.unescape(m.group(1)) for f, t in cells if (m := re.search(r'<a href="([^"]+)"', t))},
            "actions": re.findall(r'data-row-action="([^"]+)"', row),
        })
    return rows


def select_options(html, name):
    """(values offered, values chosen, multiple?) of the form's select `name`."""
    match = re.search(rf'<select id="id_{name}" name="{name}"( multiple)?[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select for {name}"
    options = re.findall(r'<option value="([^"]*)"( selected)?>', match.group(2))
    return [html_lib.unescape(v) for v, _ in options], [html_lib.unescape(v) for v, s in options if s], bool(match.group(1))


# --- Every page, the roles and the buttons ---------------------------------------------------------------------


@pytest.mark.parametrize("slug", PAGES)
def test_page_renders_for_a_manager(models_ready, browser, slug):
    response = browser("manager").get(f"/admin/ml-analytics/workflow/{slug}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Traceback" not in content and "notice-error" not in content
    assert content.count('data-chart="') >= 2  # figures drawn, not an empty state


def test_buttons_follow_the_role(models_ready, browser, store_codes):
    staff = browser("staff", [store_codes[0]])
    page_ = staff.get("/admin/ml-analytics/workflow/allocation/")
    assert page_.status_code == 200 and b"Apply these assignments" not in page_.content
    assert staff.post("/admin/ml-analytics/workflow/allocation/", {"action": "apply"}).status_code == 403
    stakeholder = browser("stakeholder")
    assert b"Apply these assignments" not in stakeholder.get("/admin/ml-analytics/workflow/allocation/").content
    manager = browser("manager")
    assert b"Apply these assignments" in manager.get("/admin/ml-analytics/workflow/allocation/").content


def test_each_rule_offers_only_the_switch_it_needs_and_only_to_managers(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "repair-automation", {})
    _, html = page(client, "automation")
    rows = {r["cells"]["name"]: r for r in table_rows(html, "Automation rules")}
    assert len(rows) == len(body["rules"])
    for rule in body["rules"]:
        wanted = reverse("workflow-api:rule-disable" if rule["enabled"] else "workflow-api:rule-enable", args=[rule["id"]])
        assert rows[rule["name"]]["actions"] == [wanted], rule["name"]
    assert any(not r["enabled"] for r in body["rules"]) and any(r["enabled"] for r in body["rules"])  # both kinds were checked
    staff = as_role("staff")
    _, staff_html = page(staff, "automation")
    assert all(r["actions"] == [] for r in table_rows(staff_html, "Automation rules"))
    assert "Run the rules for real" not in staff_html


def test_communication_page_previews_on_submit(models_ready, browser, make_ticket, store_codes):
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    page_ = browser("manager").get("/admin/ml-analytics/workflow/communication/",
                                   {"event": "ready_for_collection", "ticket": ticket.reference, "submitted": "1"})
    assert page_.status_code == 200 and ticket.reference.encode() in page_.content


def test_a_bad_value_is_shown_beside_its_field(models_ready, as_role):
    response, html = page(as_role("manager"), "quality", "window_days=5")
    assert response.status_code == 400
    message = re.search(r'<p class="field-error" id="err_window_days"[^>]*>(.*?)</p>', html, re.S)
    assert message and "greater than or equal to 30" in message.group(1)
    assert 'id="id_window_days" name="window_days"' in html and 'aria-invalid="true" aria-describedby="err_window_days"' in html


# --- Quality Assurance Monitor ------------------------------------------------------------------------------------


def test_the_weekly_qa_chart_is_a_p_chart_of_the_api_answer(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "quality-assurance", {})
    _, html = page(client, "quality")
    spec = chart_data(html, 0)
    weekly = body["qa"]["weekly"]
    assert weekly, "the demo data has inspections"
    centre = series(spec, "Centre line p̄")
    assert centre["x"] == [w["week"] for w in weekly]
    assert centre["y"] == [body["qa"]["by_technician"]["centre"]] * len(weekly)
    assert centre["lower"] == [w["lcl"] for w in weekly] and centre["upper"] == [w["ucl"] for w in weekly]
    assert centre["band_label"] == "Control limits LCL–UCL (±3σ)"
    assert series(spec, "Observed proportion failed")["y"] == [w["rate"] for w in weekly]
    assert series(spec, "Week above the UCL")["y"] == [w["rate"] if w["signal"] == "above_ucl" else None for w in weekly]
    assert "95 %" not in html


def test_out_of_control_rows_are_red_and_say_so(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "quality-assurance", {})
    _, html = page(client, "quality")
    for title, rows_path in (("QA by technician", ("qa", "by_technician")), ("Comebacks by technician", ("comebacks", "by_technician")),
                             ("QA by repair type", ("qa", "by_repair_type")), ("QA by parts supplier", ("qa", "by_supplier"))):
        api_rows = body[rows_path[0]][rows_path[1]]["rows"]
        shown = table_rows(html, title)
        assert [r["flagged"] for r in shown] == [r["out_of_control"] for r in api_rows], title
        assert all(r["badge"] == "Out of control" for r in shown if r["flagged"])
        assert [r["cells"]["rate"] for r in shown] == [format_value(r["rate"], "pct") for r in api_rows]
    flags = table_rows(html, "Out of control")
    assert len(flags) == len(body["out_of_control"]) >= 1  # the demo data plants a technician out of control
    assert kpi_text(html, "display.out_of_control_count") == str(len(body["out_of_control"]))
    assert all(r["flagged"] for r in flags)


def test_a_technician_opens_their_p_chart_rates_and_productivity(models_ready, as_role, api_answer):
    from datetime import datetime

    from mlanalytics.core.models import Store
    from workflow import selectors

    client = as_role("manager")
    body = api_answer(client.user, API + "quality-assurance", {})
    row = body["out_of_control"][0] if body["out_of_control"] else None
    tech = next(r for r in body["qa"]["by_technician"]["rows"] if row is None or r["key"] == row["key"])
    comeback = next(r for r in body["comebacks"]["by_technician"]["rows"] if r["key"] == tech["key"])
    # Every technician in the QA tables links to the detail, and so do the bars of the technician charts.
    link = reverse("workflow:quality") + f"?technician={tech['key']}"
    assert table_rows(page(client, "quality")[1], "QA by technician")[body["qa"]["by_technician"]["rows"].index(tech)]["links"]["label"] == link
    assert link in chart_data(page(client, "quality")[1], 1)["series"][0]["links"]

    _, html = page(client, "quality", f"technician={tech['key']}")
    assert f"Technician {tech['label']}" in html and "data-detail" in html
    assert re.search(r'data-kpi="".*?QA failure rate.*?data-kpi-value>([^<]*)<', html, re.S).group(1).strip() == format_value(tech["rate"], "pct")
    assert f"{tech['x']} of {tech['n']} inspections failed" in html
    assert f"{comeback['x']} of {comeback['n']} repairs came back" in html
    # Their weekly p-chart counts the inspections as the endpoint does: the weeks add up to their row.
    start, end = (datetime.fromisoformat(body["data_window"][k]) for k in ("start", "end"))
    weekly = selectors.technician_weekly_quality(list(Store.objects.all()), tech["key"], start, end, centre=body["qa"]["by_technician"]["centre"])
    assert sum(w["n"] for w in weekly) == tech["n"] and sum(w["x"] for w in weekly) == tech["x"]
    shown = series(chart_data(html, 90), "Observed proportion failed")
    assert shown["y"] == [w["rate"] for w in weekly]
    assert series(chart_data(html, 90), "Centre line p̄ (every technician shown)")["y"][0] == body["qa"]["by_technician"]["centre"]
    # Utilisation and repairs per day are the analytics endpoint's, over the same weeks.
    analytics = api_answer(client.user, API + "analytics", {"weeks": round((end - start).days / 7)}, "get")
    productivity = next(t for t in analytics["technicians"] if t["technician"] == tech["key"])
    assert f"{productivity['repairs']} repairs in {productivity['days_worked']} days worked" in html
    assert format_value(productivity["utilisation"], "pct") in html
    assert series(chart_data(html, 91), "Repairs completed")["y"] == [w["completed"] for w in weekly]


def test_an_unknown_technician_says_so_in_words(models_ready, as_role):
    response, html = page(as_role("manager"), "quality", "technician=nobody-here")
    assert response.status_code == 200
    assert "No technician nobody-here in these results" in html


def test_repair_type_and_supplier_open_their_detail(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "quality-assurance", {})
    kind = body["qa"]["by_repair_type"]["rows"][0]
    _, html = page(client, "quality", f"repair_type={kind['key']}")
    assert f"Repair type {kind['label']}" in html and f"{kind['x']} of {kind['n']} inspections failed" in html
    supplier = body["qa"]["by_supplier"]["rows"][0]
    _, html = page(client, "quality", f"supplier={supplier['key']}")
    assert f"Supplier {supplier['label']}" in html and f"{supplier['x']} of {supplier['n']} inspections failed" in html
    assert reverse("inventory:supply-chain") + f"?supplier={supplier['key']}" in html  # its scorecard, a panel away


def test_the_comeback_risk_card_carries_the_models_measured_accuracy(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "quality-assurance", {})
    _, html = page(client, "quality")
    card = html[html.index("Comebacks expected from recent repairs"):]
    card = card[:card.index("</article>")]
    assert format_value(body["comeback_risk"]["summary"]["expected_comebacks"], "num1") in card
    assert re.search(r"<dt>AUC</dt><dd>([^<]*)</dd>", card).group(1) == format_value(body["model"]["backtest"]["auc"], "num2")


# --- Process Automation Controls ----------------------------------------------------------------------------------


def test_the_overview_shows_tickets_by_status_live_and_stores_drill_down(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "overview", {}, "get")
    _, html = page(client, "overview")
    assert 'data-workflow-status="workflow-status-data"' in html  # WorkflowStatus, kept live by ticket events
    for status, count in body["tickets_by_status"].items():
        tile = re.search(rf'data-status="{status}"><span class="status-count" data-status-count>(\d+)<', html)
        assert tile and int(tile.group(1)) == count, status
    wip = chart_data(html, 0)
    for status_series in wip["series"]:
        status = next(s for s, label in TicketStatus.choices if label == status_series["label"])
        assert status_series["y"] == [r["by_status"].get(status, 0) for r in body["per_store"]]
        assert status_series["links"] == [reverse("workflow:overview") + f"?store={r['store']}" for r in body["per_store"]]


def test_the_triage_cards_and_charts_are_the_endpoints_answer(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "repair-automation", {})
    _, html = page(client, "automation")
    triaged = [t for t in body["tickets"] if t["triage"]]
    queue = html[html.index("Predicted repair work in the open queue (hours)"):]
    queue = queue[:queue.index("</article>")]
    assert format_value(sum(t["triage"]["predicted_minutes"] for t in triaged) / 60, "num1") in queue
    assert re.search(r"<dt>MAE minutes</dt><dd>([^<]*)</dd>", queue).group(1) == format_value(body["model"]["backtest"]["mae_minutes"], "num2")
    slack = chart_data(html, 0)["series"][0]
    assert set(slack["x"]) <= {t["ticket"] for t in triaged} and slack["y"] == sorted(slack["y"])
    assert slack["links"][0].startswith(reverse("workflow:communication") + "?ticket=")  # preview the delay message
    assert sum(chart_data(html, 1)["series"][0]["y"]) == len(triaged)  # the score distribution counts every ticket
    per_rule = chart_data(html, 2)
    assert sum(sum(s["y"]) for s in per_rule["series"]) == len(body["actions"])
    at_risk = table_rows(html, "Triage")
    assert sum(r["flagged"] for r in at_risk) == body["summary"]["sla_at_risk"]


def test_forms_offer_the_shops_tickets_and_rules_and_run_on_the_chosen_ones(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "repair-automation", {})
    _, html = page(client, "automation")
    offered, chosen, multiple = select_options(html, "tickets")
    assert multiple and chosen == [] and {t["ticket"] for t in body["tickets"]} <= set(offered)
    rules, _, _ = select_options(html, "rules")
    assert rules == [str(r["id"]) for r in body["rules"]]
    statuses, _, multiple = select_options(html, "statuses")
    assert multiple and "in_repair" in statuses
    picked = [t["ticket"] for t in body["tickets"][:2]]
    _, html = page(client, "automation", "&".join(f"tickets={p}" for p in picked))
    assert sorted(select_options(html, "tickets")[1]) == sorted(picked)
    assert sorted(r["cells"]["ticket"] for r in table_rows(html, "Triage")) == sorted(picked)


def test_the_allocation_form_offers_its_tickets_and_flags_late_work(models_ready, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "resource-allocation", {})
    _, html = page(client, "allocation")
    offered, _, multiple = select_options(html, "tickets")
    assert multiple and {a["ticket"] for a in body["assignments"]} <= set(offered)
    rows = table_rows(html, "Assignments")
    assert [r["flagged"] for r in rows] == [a["late"] for a in body["assignments"]]
    assert rows[0]["links"]["technician_name"] == reverse("workflow:quality") + f"?technician={body['assignments'][0]['technician']}"
    planned = html[html.index("Predicted repair work planned (hours)"):]
    assert format_value(sum(a["minutes"] for a in body["assignments"]) / 60, "num1") in planned[:planned.index("</article>")]


# --- Communication Manager ----------------------------------------------------------------------------------------


def test_communication_opens_on_a_preview_with_the_apis_counts_and_events_to_choose(models_ready, as_role, api_answer):
    from workflow.models import MessageTemplate

    client = as_role("manager")
    response, html = page(client, "communication")
    assert response.status_code == 200
    events, chosen, multiple = select_options(html, "event")
    assert not multiple and chosen == ["ready_for_collection"]
    assert events == sorted(set(MessageTemplate.objects.filter(is_active=True).values_list("event", flat=True)))
    body = api_answer(client.user, API + "customer-communication", {"event": "ready_for_collection"})
    for status in ("held", "suppressed", "queued", "duplicate"):
        assert kpi_text(html, f"display.counts.{status}") == format_value(body["summary"].get(status, 0), "int"), status
    by_status = chart_data(html, 0)
    assert sum(sum(s["y"]) for s in by_status["series"]) == len(body["messages"])
    channels, _, multiple = select_options(html, "channels")
    assert multiple and channels == ["email", "sms"]


def test_a_stakeholder_sees_the_preview_without_the_send_button(models_ready, as_role):
    _, html = page(as_role("stakeholder"), "communication")
    assert "Send to customers" not in html and 'data-chart="' in html
