"""PDF and Excel exports of a page hold its figures; subscriptions are due once per period, are
emailed as attachments, and can skip an empty report."""
import io
from datetime import datetime

import pytest
from django.core import mail
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from mlanalytics.core.models import ReportSubscription
from mlanalytics.exports.subscriptions import is_due, period_start, send_due_reports, send_subscription

pytestmark = pytest.mark.django_db
INTAKE = "/admin/ml-analytics/intake/"


def at(text):
    return timezone.make_aware(datetime.fromisoformat(text))


@pytest.fixture
def stakeholder(client, make_user):
    user = make_user("stakeholder")
    user.email = "owner@example.co.uk"
    user.save()
    client.force_login(user)
    client.user = user
    return client


def test_pdf_has_cover_window_accuracy_and_the_page_figures(stakeholder, demo, store_codes):
    params = {"store": store_codes[0], "days": 21, "end": demo.end_date.isoformat()}
    received = stakeholder.get(INTAKE, params).context["body"]["summary"]["received"]
    response = stakeholder.get(INTAKE + "export.pdf", params)
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert "Ticket intake" in text and "Data window" in text and "Model accuracy" in text
    assert f"{received:,}" in text
    assert b"<svg" not in response.content  # charts are drawn into the PDF as vectors, not left as markup
    assert len(reader.pages) >= 2


def test_excel_has_a_sheet_per_table_with_real_numbers_and_dates(stakeholder, demo, store_codes):
    params = {"store": store_codes[0], "days": 21, "end": demo.end_date.isoformat()}
    body = stakeholder.get(INTAKE, params).context["body"]
    book = load_workbook(io.BytesIO(stakeholder.get(INTAKE + "export.xlsx", params).content))
    assert book.sheetnames == ["Summary", "By store", "Day by day"]
    days = book["Day by day"]
    assert days.freeze_panes == "A2" and days.auto_filter.ref == "A1:E22"
    rows = list(days.iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == [d["received"] for d in body["daily"]]
    assert rows[0][0].date().isoformat() == body["daily"][0]["date"]
    assert days["A2"].number_format == "dd mmm yyyy" and days["C2"].number_format == "#,##0.0"
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert "Backtest: Band coverage" in summary and summary["Backtest: Band coverage"] == pytest.approx(
        body["model"]["backtest"]["band_coverage"])


def test_exports_need_the_download_capability(client, make_user):
    client.force_login(make_user("staff"))
    assert client.get(INTAKE + "export.pdf").status_code == 403
    assert "Download PDF" not in client.get(INTAKE).content.decode()


def test_bad_parameters_are_not_exported(stakeholder):
    response = stakeholder.get(INTAKE + "export.xlsx", {"days": 2})
    assert response.status_code == 400 and "days" in response.json()["errors"]


@pytest.mark.parametrize("period,now,start", [
    ("daily", "2026-03-11 09:30", "2026-03-11 07:00"),
    ("daily", "2026-03-11 06:30", "2026-03-10 07:00"),
    ("weekly", "2026-03-11 09:30", "2026-03-09 07:00"),  # a Wednesday: this Monday
    ("weekly", "2026-03-09 06:00", "2026-03-02 07:00"),  # Monday before 07:00: last Monday
    ("monthly", "2026-03-11 09:30", "2026-03-01 07:00"),
    ("monthly", "2026-03-01 06:00", "2026-02-01 07:00"),
])
def test_period_start_is_the_last_due_moment(period, now, start):
    assert period_start(period, at(now)) == at(start)


def test_a_subscription_is_due_once_per_period(stakeholder):
    sub = ReportSubscription(user=stakeholder.user, view="dashboard-intake", period="weekly", format="pdf")
    assert is_due(sub, at("2026-03-11 09:30"))
    sub.last_sent_at = at("2026-03-09 07:05")
    assert not is_due(sub, at("2026-03-13 09:30"))
    assert is_due(sub, at("2026-03-16 07:01"))


def test_due_reports_are_emailed_as_attachments(stakeholder, store_codes):
    sub = ReportSubscription.objects.create(user=stakeholder.user, view="dashboard-intake",
                                            store_id=None, period="daily", format="xlsx")
    assert send_due_reports() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.co.uk"] and "Ticket intake" in message.subject
    name, content, mimetype = message.attachments[0]
    assert name.endswith(".xlsx") and "spreadsheetml" in mimetype
    assert "Day by day" in load_workbook(io.BytesIO(content)).sheetnames
    sub.refresh_from_db()
    assert sub.last_status.startswith("sent") and send_due_reports() == 0  # not twice in a period


def test_an_empty_report_is_skipped_when_asked(stakeholder, store_codes):
    # The period sets the intake window: a daily report sent in 2001 covers the week to 30 June 2001, before any ticket.
    sub = ReportSubscription.objects.create(user=stakeholder.user, view="dashboard-intake", period="daily", format="pdf",
                                            skip_when_empty=True)
    assert send_subscription(sub, now=at("2001-07-01 09:00")) == "skipped: nothing to report"
    assert mail.outbox == []
    sub.skip_when_empty = False
    assert send_subscription(sub, now=at("2001-07-01 09:00")).startswith("sent")
    assert mail.outbox[0].attachments[0][0].endswith(".pdf")


def test_a_subscription_is_not_sent_when_the_role_no_longer_allows_it(make_user):
    user = make_user("staff")
    user.email = "staff@example.co.uk"
    user.save()
    sub = ReportSubscription.objects.create(user=user, view="dashboard-intake", period="daily", format="pdf")
    assert "no longer includes" in send_subscription(sub)
    assert mail.outbox == []


def test_the_subscriptions_page_adds_and_removes(stakeholder, store_codes):
    response = stakeholder.post("/admin/ml-analytics/reports/", {"view": "dashboard-intake", "store": store_codes[0],
                                                                "period": "weekly", "format": "xlsx", "skip_when_empty": "on"})
    assert response.status_code == 302
    sub = ReportSubscription.objects.get(user=stakeholder.user)
    assert sub.store.code == store_codes[0] and sub.skip_when_empty
    again = stakeholder.post("/admin/ml-analytics/reports/", {"view": "dashboard-intake", "store": store_codes[0],
                                                             "period": "weekly", "format": "xlsx"})
    assert "already subscribe" in again.content.decode()
    stakeholder.post(f"/admin/ml-analytics/reports/{sub.id}/delete/")
    assert not ReportSubscription.objects.filter(pk=sub.pk).exists()


def test_subscribe_to_this_view_carries_the_pages_settings(stakeholder, store_codes):
    from urllib.parse import parse_qs, urlsplit

    page = stakeholder.get("/admin/ml-analytics/inventory/stock-monitor/", {"store": store_codes[0], "status": "low",
                                                                            "ordering": "value", "submitted": "1"})
    link = page.context["subscribe_url"]
    assert 'data-subscribe' in page.content.decode() and link.startswith("/admin/ml-analytics/reports/?")
    query = parse_qs(urlsplit(link).query)
    assert query["view"] == ["inventory:stock-monitor"]
    form_page = stakeholder.get(link)
    assert "Status: low" in form_page.content.decode() and "Order by: value" in form_page.content.decode()
    assert form_page.context["form"].initial["store"] == store_codes[0]
    response = stakeholder.post("/admin/ml-analytics/reports/", {
        "view": "inventory:stock-monitor", "store": store_codes[0], "period": "daily", "format": "xlsx",
        "params": query["params"][0]})
    assert response.status_code == 302
    sub = ReportSubscription.objects.get(user=stakeholder.user)
    assert sub.params == {"status": "low", "ordering": "value"} and sub.store.code == store_codes[0]


def test_carried_settings_do_not_follow_a_different_view(stakeholder):
    stakeholder.post("/admin/ml-analytics/reports/", {
        "view": "dashboard-intake", "period": "weekly", "format": "pdf", "params": "status=low&ordering=value"})
    assert ReportSubscription.objects.get(user=stakeholder.user).params == {}


@pytest.mark.parametrize("period,now,params", [
    ("daily", "2026-03-11 09:30", {"days": 7, "end": "2026-03-10"}),  # yesterday; intake shows at least 7 days
    ("weekly", "2026-03-09 07:05", {"days": 7, "end": "2026-03-08"}),  # Monday: the week to Sunday
    ("monthly", "2026-03-01 07:05", {"days": 28, "end": "2026-02-28"}),  # the 1st: all of February
])
def test_the_period_sets_the_data_window(period, now, params):
    from mlanalytics.core.dashboard_views import TicketIntakePage
    from mlanalytics.exports.subscriptions import window_params

    assert window_params(TicketIntakePage, period, at(now)) == params


def test_a_weekly_report_covers_the_seven_days_to_yesterday(stakeholder, demo):
    from datetime import timedelta

    sub = ReportSubscription.objects.create(user=stakeholder.user, view="dashboard-intake", period="weekly", format="xlsx",
                                            params={"days": 56, "end": "2025-01-01"})  # the period wins over saved values
    sent_at = timezone.make_aware(datetime.combine(demo.end_date + timedelta(days=1), datetime.min.time().replace(hour=8)))
    assert send_subscription(sub, now=sent_at).startswith("sent")
    days = load_workbook(io.BytesIO(mail.outbox[0].attachments[0][1]))["Day by day"]
    dates = [row[0].date() for row in days.iter_rows(min_row=2, values_only=True)]
    assert dates == [demo.end_date - timedelta(days=6 - i) for i in range(7)]


def test_views_needing_a_setting_are_subscribable_only_with_it(make_user, client, store_codes):
    from workflow.models import OutboxMessage

    manager = make_user("manager")
    manager.email = "manager@example.co.uk"
    manager.save()
    client.force_login(manager)
    choices = dict(client.get("/admin/ml-analytics/reports/").context["form"].fields["view"].choices)
    assert "workflow:communication" not in choices  # its event has no default: it could never be computed
    carried = "event=ready_for_collection&limit=5"
    form = client.get("/admin/ml-analytics/reports/", {"view": "workflow:communication", "params": carried}).context["form"]
    assert "workflow:communication" in dict(form.fields["view"].choices)
    response = client.post("/admin/ml-analytics/reports/", {"view": "workflow:communication", "period": "daily",
                                                            "format": "xlsx", "params": carried})
    assert response.status_code == 302, response.context["form"].errors
    sub = ReportSubscription.objects.get(user=manager, view="workflow:communication")
    assert sub.params == {"event": "ready_for_collection", "limit": "5"}
    queued = OutboxMessage.objects.count()
    assert send_subscription(sub, force=True).startswith("sent")  # a preview of the messages ...
    assert OutboxMessage.objects.count() == queued  # ... never a send


def test_send_now_queues_a_background_job_and_reports_its_outcome(stakeholder, monkeypatch):
    from mlanalytics.core import jobs
    from mlanalytics.exports.subscriptions import send_subscription_now

    sub = ReportSubscription.objects.create(user=stakeholder.user, view="dashboard-intake", period="weekly", format="pdf")
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args, **kwargs: queued.append((path, args)))
    response = stakeholder.post(f"/admin/ml-analytics/reports/{sub.id}/send/", follow=True)
    assert queued == [("mlanalytics.exports.subscriptions.send_subscription_now", (sub.id,))]
    assert "Queued" in response.content.decode() and mail.outbox == []  # the request did not render the report
    status = stakeholder.get(f"/admin/ml-analytics/reports/{sub.id}/status/").json()
    assert status["sending"] and status["status"].startswith("queued")
    assert send_subscription_now(sub.id).startswith("sent")  # what the worker runs
    assert len(mail.outbox) == 1
    status = stakeholder.get(f"/admin/ml-analytics/reports/{sub.id}/status/").json()
    assert not status["sending"] and status["status"].startswith("sent") and status["last_sent_at"]


def _spec(kind, mode="", **series):
    base = {"label": "ADI against CV²", "x": [1.1, 1.4, 2.0, 3.5], "y": [0.2, 0.6, 0.4, 0.9], "mode": mode,
            "lower": None, "upper": None, "links": None, "text": None, **series}
    return {"kind": kind, "title": "t", "series": [base], "empty": False, "fmt": "num2", "orientation": "v"}


def _drawn(spec):
    """The matplotlib lines the PDF export draws for a chart spec: (linestyle, marker, points) each."""
    from matplotlib.figure import Figure

    from mlanalytics.exports import charts

    ax = Figure().add_subplot(1, 1, 1)
    (charts._bars if spec["kind"] == "bar" else charts._lines)(ax, spec)
    return [(line.get_linestyle(), line.get_marker(), len(line.get_xdata())) for line in ax.lines]


def test_the_pdf_draws_a_scatter_as_points_and_lines_as_lines():
    from mlanalytics.exports.charts import chart_svg

    assert _drawn(_spec("scatter")) == [("None", "o", 4)]  # the ADI/CV² scatter: points, no line through them
    assert _drawn(_spec("timeseries", "lines")) == [("-", "None", 4)]
    assert _drawn(_spec("timeseries", "lines+markers")) == [("-", "o", 4)]
    assert "<svg" in chart_svg(_spec("scatter"))


def test_the_pdf_draws_a_markers_series_over_bars_as_points():
    spec = _spec("bar")
    spec["series"] = [
        {"label": "Available", "x": ["A", "B", "C"], "y": [5, 2, 0], "mode": "", "lower": None, "upper": None},
        {"label": "Reorder point", "x": ["A", "B", "C"], "y": [3, 3, 1], "mode": "markers", "lower": None, "upper": None},
    ]
    assert _drawn(spec) == [("None", "D", 3)]  # three diamonds over the bars, no line joining them


def test_a_band_is_labelled_as_its_chart_declares_it(as_role, demo):
    from tests.page_helpers import chart_data

    html = as_role("manager").get(INTAKE, {"days": 28, "end": demo.end_date.isoformat()}).content.decode()
    expected = chart_data(html, 0)["series"][0]
    assert expected["band_label"] == "95 % band (mean ± 1.96 sd)"
