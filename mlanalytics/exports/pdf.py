"""PDF exports with WeasyPrint from an ordinary Django template (templates/exports/report.html)."""
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from .charts import chart_svg


def render_pdf(report):
    from weasyprint import HTML

    charts = [{"title": c["title"], "svg": mark_safe(chart_svg(c))} for c in report.charts if not c.get("empty")]
    html = render_to_string("exports/report.html", {"report": report, "charts": charts})
    css = finders.find("css/report.css")
    stylesheets = [css] if css else []
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(stylesheets=stylesheets)
