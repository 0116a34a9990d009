"""The shop is not always in England: a small demo data set seeded as a Danish shop (DKK, Europe/Copenhagen,
Danish holidays) gets Danish holidays in its forecasts and Danish kroner on its pages, PDFs and Excel files."""
import io
import re
from datetime import date, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import holidays
import pandas as pd
import pytest
from django.urls import reverse

from mlanalytics.core import shop
from mlanalytics.core.formatting import excel_number_format, format_value

DANISH = {"SHOP_COUNTRY": "DK", "SHOP_SUBDIVISION": "", "SHOP_CURRENCY": "DKK", "TIME_ZONE": "Europe/Copenhagen"}
# Days one calendar has and the other has not: Denmark's Maundy Thursday, Ascension Day and Whit Monday, England's
# May Day, spring and late summer bank holidays (both have Christmas, Boxing Day/2nd Christmas Day and Easter Monday).
DANISH_ONLY = {"Maundy Thursday", "Ascension Day", "Pentecost Monday"}
ENGLISH_ONLY = {"May Day", "Spring Bank Holiday", "Late Summer Bank Holiday"}


@pytest.fixture
def danish_shop(db, settings, tmp_path):
    """The demo generator at its tiny scale, as a Danish shop (inside the test's transaction: the session's UK
    data set is back afterwards)."""
    from mlanalytics.demo.seed import seed_demo

    settings.DATA_DIR = tmp_path  # the seed writes its truth file here, not over the session's
    for name, value in DANISH.items():
        setattr(settings, name, value)
    return seed_demo(seed=11, scale="tiny", reset=True)


def test_the_uk_default_formats_pounds_as_before():
    assert format_value(1234.5, "money") == "£1,234.50"
    assert format_value(-1234.5, "money0") == "−£1,234"
    assert format_value(12, "gbp") == "£12.00"  # the formats' older names still read the shop's currency
    assert excel_number_format("money") == '"£"#,##0.00'
    assert shop.holidays_between(date(2025, 5, 1), date(2025, 5, 31)) == {
        date(2025, 5, 5): "May Day", date(2025, 5, 26): "Spring Bank Holiday"}


def test_imported_amounts_and_times_are_read_in_the_shops_currency_and_zone(settings):
    from decimal import Decimal

    from mlanalytics.imports.base import CellError, a_datetime, money

    assert money()("£1,234.50") == Decimal("1234.50")
    for name, value in DANISH.items():
        setattr(settings, name, value)
    assert [money()(text) for text in ("1,234.50 kr.", "DKK 12.50", "12.5")] == [Decimal("1234.50"), Decimal("12.50"),
                                                                               Decimal("12.50")]
    with pytest.raises(CellError, match="amount in DKK"):
        money()("")
    moment = a_datetime()("2026-07-01 09:00")
    assert moment.utcoffset() == timedelta(hours=2) and str(moment.tzinfo) == "Europe/Copenhagen"


def test_a_store_country_must_be_one_the_holidays_package_knows(db):
    from django.core.exceptions import ValidationError

    from mlanalytics.core.models import Store

    store = Store(code="X1", name="Somewhere", holiday_country="XX")
    with pytest.raises(ValidationError, match="holiday_country"):
        store.full_clean()
    store.holiday_country, store.holiday_subdivision = "gb", "ZZZ"
    with pytest.raises(ValidationError, match="not a subdivision of GB"):
        store.full_clean()
    store.holiday_subdivision = "SCT"
    store.full_clean()
    assert store.holiday_country == "GB"


def _fits(kind, scope):
    """Fit one scope on demand, recording what the forecast is given; Prophet itself is not run here (the
    seasonal-naive baseline is served), so the check is fast."""
    from predictive import services
    from predictive.ml import forecasting

    real, calls = forecasting.forecast_series, []

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    with mock.patch.object(forecasting, "forecast_series", side_effect=recording), \
            mock.patch.object(forecasting, "fit_prophet", side_effect=RuntimeError("Prophet is not fitted in this test")):
        model = services.fit_on_demand(kind, scope)
    assert model is not None and len(calls) == 1
    return model, calls[0]


def _danish_days(first, last):
    found = holidays.country_holidays("DK", years=range(first.year, last.year + 1), language="en_US")
    return {d: n for d, n in found.items() if first <= d <= last}


def test_a_danish_shop_forecasts_with_danish_holidays_and_shows_kroner(danish_shop, make_user, client):
    from mlanalytics.core.models import Store
    from predictive.training import BUSINESS_METRICS, REPAIR_DEMAND
    from workflow.models import RepairTicket

    assert danish_shop.truth["time_zone"] == "Europe/Copenhagen"
    # The generator's shop hours are Copenhagen wall-clock times: no ticket arrives before 09:00 there.
    copenhagen = ZoneInfo("Europe/Copenhagen")
    hours = {t.astimezone(copenhagen).hour for t in RepairTicket.objects.values_list("received_at", flat=True)[:3000]}
    assert min(hours) >= 9, hours

    # (a) Intake over every store: Prophet's holidays are Denmark's public holidays, to 400 days past the data.
    model, (args, _) = _fits(REPAIR_DEMAND, "all")
    frame = args[3].holidays
    data_end = pd.Timestamp(model.data_end).date()
    expected = _danish_days(pd.Timestamp(model.data_start).date(), data_end + timedelta(days=400))
    assert dict(zip(frame.ds.dt.date, frame.holiday)) == expected
    assert DANISH_ONLY <= set(frame.holiday) and not ENGLISH_ONLY & set(frame.holiday)
    assert model.parameters["holiday_calendar"] == "public holidays of DK"

    # Weekly revenue: the holiday regressor counts Danish holidays per week, in the history and in the future.
    model, (args, kwargs) = _fits(BUSINESS_METRICS, "granularity=week|metric=revenue")
    weeks = pd.DatetimeIndex(args[0])
    days = _danish_days(weeks[0].date(), weeks[-1].date() + timedelta(days=400))
    counts = [sum(w.date() <= d < w.date() + timedelta(days=7) for d in days) for w in weeks]
    assert list(kwargs["regressors"]["bank_holidays"]) == counts
    ascension = next(d for d, n in days.items() if n == "Ascension Day" and d > weeks[-1].date())
    late_summer = date(ascension.year, 8, 31) - timedelta(days=date(ascension.year, 8, 31).weekday())  # England's
    future = pd.DatetimeIndex([pd.Timestamp(d - timedelta(days=d.weekday())) for d in (ascension, late_summer)])
    assert list(kwargs["regressor_functions"]["bank_holidays"](future)) == [1, 0]
    assert model.parameters["holiday_calendar"] == "public holidays of DK"

    # A store in England overrides the shop's country: its own forecast uses England's bank holidays, the shop's don't.
    english = Store.objects.order_by("code").last()
    english.holiday_country, english.holiday_subdivision = "GB", "ENG"
    english.full_clean()
    english.save()
    model, (args, _) = _fits(REPAIR_DEMAND, f"store={english.code}")
    assert ENGLISH_ONLY <= set(args[3].holidays.holiday) and not DANISH_ONLY & set(args[3].holidays.holiday)
    assert model.parameters["holiday_calendar"] == "public holidays of GB-ENG"
    danish = Store.objects.order_by("code").first()
    model, (args, _) = _fits(REPAIR_DEMAND, f"store={danish.code}")
    assert DANISH_ONLY <= set(args[3].holidays.holiday)

    # (b) Every money format on a page, its PDF and its Excel file is in Danish kroner; no pound sign anywhere.
    _money_in_kroner(client, make_user)


def _money_in_kroner(client, make_user):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from mlanalytics.core.pages import resolve_path
    from tests.page_helpers import chart_data, kpi_text
    from inventory.views import OverviewPage

    client.force_login(make_user("manager"))
    response = client.get(reverse("inventory:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "£" not in html and "&pound;" not in html
    body = client.get("/api/inventory-management/overview").json()
    for kpi in OverviewPage.kpis:
        if kpi.fmt in ("money", "money0"):
            shown = kpi_text(html, kpi.path)
            assert shown == format_value(resolve_path(body, kpi.path), kpi.fmt) and shown.endswith("\u00a0kr."), shown
    stock_value = chart_data(html, 1)
    assert (stock_value["y_prefix"], stock_value["y_suffix"], stock_value["y_fmt"]) == ("", "\u00a0kr.", ",.0f")
    cells = re.findall(r'data-field="stock_value"[^>]*>([^<]*)<', html)
    assert cells and all(re.fullmatch(r"[\d,]+\.\d\d\u00a0kr\.", c.strip()) for c in cells), cells
    assert "Cost of parts used (kr.)" in html
    locale = re.search(r'<script id="shop-locale" type="application/json">(.*?)</script>', html).group(1)
    assert '"suffix": "\\u00a0kr."' in locale and '"time_zone": "Europe/Copenhagen"' in locale

    book = load_workbook(io.BytesIO(client.get(reverse("inventory:overview-export", kwargs={"fmt": "xlsx"})).content))
    money_cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if "0" in c.number_format
                   and "kr." in c.number_format]
    assert money_cells and {c.number_format for c in money_cells} == {'#,##0.00"\u00a0kr."'}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert "£" not in str(cell.value or "") and "£" not in cell.number_format, (sheet.title, cell.coordinate)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Stock value at cost"].endswith("\u00a0kr.")

    pdf = client.get(reverse("inventory:overview-export", kwargs={"fmt": "pdf"}))
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "£" not in text
    assert re.search(r"Stock value at cost\s+[\d,]+\s*kr\.", text), text[:600]
    assert re.search(r"[\d,]+\.\d\d\s*kr\.", text)  # the table's amounts
