"""Excel exports with openpyxl: a cover sheet (window, model accuracy, KPIs), then one sheet per table
with real numbers and dates in the shop's currency and date formats, a frozen, filtered header and sized columns."""
import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from mlanalytics.core.formatting import excel_number_format, excel_value

HEADER_FILL = PatternFill("solid", fgColor="ADD8E6")  # Trust Blue, with grey text (WCAG AA)
HEADER_FONT = Font(bold=True, color="36454F")
TITLE_FONT = Font(bold=True, size=14, color="36454F")


def _sheet_title(title, used):
    base = re.sub(r"[\[\]\*\?/\\:]", " ", title).strip()[:31] or "Table"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def _append(sheet, values):
    """Appends a row with every text cell stored as text: openpyxl would store text starting with "=" as a live
    formula, and the shop's own text (names, subjects, titles) must never run in the reader's spreadsheet."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def render_xlsx(report):
    book = Workbook()
    cover = book.active
    cover.title = "Summary"
    used = {"summary"}
    rows = [
        (report.title,), (f"{report.panel} · stores: {report.stores}",), (),
        ("Generated", report.generated_at), ("Data window", report.data_window), ("For", report.user),
    ]
    rows += [(label, text) for label, text in report.parameters]
    if report.model:
        rows += [(), ("Model", f"{report.model['name']} v{report.model.get('version') or '–'}"),
                 ("Trained", report.model["trained_at_text"])]
        rows += [(f"Backtest: {m['name']}", m["value"]) for m in report.model["metrics"]]
    if report.kpis:
        rows += [(), ("Key figures",)] + [(label, text) for label, text, _ in report.kpis]
    for row in rows:
        _append(cover, list(row))
    cover["A1"].font = TITLE_FONT
    cover.column_dimensions["A"].width = 34
    cover.column_dimensions["B"].width = 48
    for table in report.tables:
        sheet = book.create_sheet(_sheet_title(table.sheet or table.title, used))
        _append(sheet, [label for _, label, _ in table.columns])
        for cell in sheet[1]:
            cell.fill, cell.font = HEADER_FILL, HEADER_FONT
            cell.alignment = Alignment(vertical="center", wrap_text=True)
        for row in table.rows:
            _append(sheet, [excel_value(v, fmt) for v, (_, _, fmt) in zip(row, table.columns)])
        for index, (_, label, fmt) in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            number_format = excel_number_format(fmt)
            if number_format:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = number_format
            longest = max([len(str(label))] + [len(str(r[index - 1])) for r in table.rows[:200] if r[index - 1] is not None])
            sheet.column_dimensions[letter].width = min(48, max(10, longest + 2))
        sheet.freeze_panes = "A2"
        if table.rows:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
