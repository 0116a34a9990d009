"""Spreadsheet formula injection (security issue 12, item 2): the shop's own text — store, customer, supplier, part
and rule names, template subjects — is written into every Excel export as text and into CSV reports with
OWASP's leading apostrophe, so `=HYPERLINK(...)` typed as a name never becomes a live formula."""
import csv
import io

import pytest
from openpyxl import load_workbook

from mlanalytics.core.models import Store
from mlanalytics.exports.excel import render_xlsx
from mlanalytics.exports.report import Report, ReportTable
from mlanalytics.imports.base import RowError, write_report

EVIL = '=HYPERLINK("http://evil.example","rule")'
PAYLOADS = [EVIL, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def all_cells(book):
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


def assert_no_formula(book, expected):
    cells = all_cells(book)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    values = {str(c.value).lstrip() for c in cells}  # the file's XML turns a leading CR into a line break
    for text in expected:
        assert text.lstrip() in values, text


@pytest.mark.django_db
def test_a_store_name_that_is_a_formula_stays_text_in_the_page_export(make_user, client, demo):
    store = Store.objects.order_by("code").first()
    store.name = EVIL
    store.save()
    user = make_user("stakeholder")
    client.force_login(user)
    response = client.get("/admin/ml-analytics/intake/export.xlsx", {"days": 28, "end": demo.end_date.isoformat()})
    assert response.status_code == 200
    assert_no_formula(load_workbook(io.BytesIO(response.content)), [EVIL])


def test_every_text_cell_of_an_excel_export_is_text():
    report = Report(
        title=EVIL, panel=PAYLOADS[1], stores="LON1", parameters=[(PAYLOADS[2], PAYLOADS[3])], generated_at="now",
        data_window="a week", kpis=[(PAYLOADS[4], PAYLOADS[5], "")],
        tables=[ReportTable("Rules", [("name", EVIL, "text"), ("subject", "Subject", "text"), ("n", "Fired", "int")],
                            [[p, p, 3] for p in PAYLOADS])],
    )
    book = load_workbook(io.BytesIO(render_xlsx(report)))
    assert_no_formula(book, PAYLOADS)
    assert book["Rules"]["C2"].value == 3  # numbers stay numbers


def test_csv_report_cells_that_start_like_a_formula_get_an_apostrophe(tmp_path):
    path = tmp_path / "report.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_report(handle, [RowError(2, payload, payload) for payload in PAYLOADS] + [RowError(3, "name", "is required")])
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert rows[0] == ["row", "column", "reason"]
    assert [row[1] for row in rows[1:-1]] == ["'" + p for p in PAYLOADS]
    assert [row[2] for row in rows[1:-1]] == ["'" + p for p in PAYLOADS]
    assert rows[-1] == ["3", "name", "is required"]
