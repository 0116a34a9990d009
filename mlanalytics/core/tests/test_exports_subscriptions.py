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
    sub = ReportSubscription.objects.create(user=stakeholder.user, view="dashboard-intake", period="daily", format="pdf",
                                            params={"end": "2001-06-30", "days": 7}, skip_when_empty=True)
    assert send_subscription(sub) == "skipped: nothing to report"
    assert mail.outbox == []
    sub.skip_when_empty = False
    assert send_subscription(sub).startswith("sent")
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
