"""Exports of dashboard pages: a page's result becomes a Report, rendered as PDF (WeasyPrint, charts
as vector SVG drawn by matplotlib) or Excel (openpyxl), and sent by email to subscribers."""


def render_report(report, fmt):
    """(bytes, content type, file name) of the report in `fmt` ("pdf" or "xlsx")."""
    if fmt == "pdf":
        from .pdf import render_pdf

        return render_pdf(report), "application/pdf", f"{report.filename}.pdf"
    if fmt == "xlsx":
        from .excel import render_xlsx

        return (render_xlsx(report), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                f"{report.filename}.xlsx")
    raise ValueError(f"unknown export format {fmt!r}")
