"""The Report: everything an export shows, built from the same prepared result the page renders."""
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.text import slugify

from mlanalytics.core.formatting import format_value, humanize_key


@dataclass
class ReportTable:
    title: str
    columns: list  # [(key, label, fmt)]
    rows: list  # [[raw values in column order]]
    total: int = 0
    pdf_rows: int = 60
    sheet: str = ""  # the Excel sheet's name (Table.sheet); default the title

    @property
    def formatted_rows(self):
        return [[format_value(v, c[2]) for v, c in zip(row, self.columns)] for row in self.rows]


@dataclass
class Report:
    title: str
    panel: str
    stores: str
    parameters: list  # [(label, text)]
    generated_at: str
    data_window: str
    model: dict = None  # model_summary() of the response
    kpis: list = field(default_factory=list)  # [(label, text, note)]
    insights: list = field(default_factory=list)
    charts: list = field(default_factory=list)  # prepared chart specs (as for Plotly)
    tables: list = field(default_factory=list)  # [ReportTable]
    user: str = ""
    is_empty: bool = False

    @property
    def filename(self):
        return f"{slugify(self.title)}-{slugify(self.stores)[:30]}-{timezone.localdate():%Y-%m-%d}"


def build_report(page, user, data, result):
    """The page's result as a Report: same KPIs, charts and tables as on screen, all rows for Excel."""
    from mlanalytics.core.navigation import view_of_page
    from mlanalytics.core.pages import (
        build_form, describe_window, model_summary, prepare_chart, prepare_insights, prepare_kpis, resolve_path,
    )
    from mlanalytics.core.scoping import allowed_stores

    body = page.display_body(result.body) if hasattr(page, "display_body") else result.body
    panel, _ = view_of_page(page.url_name)
    store_code = data.get("store")
    stores = store_code or ", ".join(allowed_stores(user).values_list("code", flat=True)) or "no stores"
    parameters = []
    for f in build_form(page.api_view, data, {}, user, page.form_exclude, page.form_labels):
        if f.name == "store":
            continue
        value = f.value
        text = ", ".join(f.values) if isinstance(value, (list, tuple)) else ("Yes" if value is True else "No" if value is False else str(value))
        if text not in ("", "None"):
            parameters.append((f.label, text))
    tables = []
    for t in page.tables:
        rows = resolve_path(body, t.path) or []
        if isinstance(rows, dict):
            rows = [{"name": k, "value": v} for k, v in rows.items()]
        columns = [(c.key, c.label, c.fmt) for c in t.columns]
        tables.append(ReportTable(t.title, columns, [[resolve_path(r, c.key) for c in t.columns] for r in rows],
                                  len(rows), t.pdf_rows, getattr(t, "sheet", "")))
    return Report(
        title=page.title,
        panel=panel.title if panel else "Shop",
        stores=stores,
        parameters=parameters,
        generated_at=format_value(body.get("generated_at") or timezone.now(), "datetime"),
        data_window=describe_window(body.get("data_window")) or "not stated",
        model=model_summary(body.get("model")),
        kpis=[(k["label"], k["text"], k["note"]) for k in prepare_kpis(page.kpis, body)],
        insights=prepare_insights(page.insights, body),
        charts=[prepare_chart(c, body, i) for i, c in enumerate(page.charts)],
        tables=tables,
        user=user.get_full_name() or user.username,
        is_empty=page.is_empty(body),
    )


def parameter_label(name):
    return humanize_key(name)
