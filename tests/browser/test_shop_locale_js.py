"""The pages' scripts format money and times as the server does, for the shop's currency and time zone:
app.js's MLA.fmt (live KPI and table updates) and charts.js's axis ticks and hover text, in Chromium."""
import json

import pytest
from django.test import override_settings

from mlanalytics.core.formatting import format_value
from mlanalytics.core.shop import locale_context

from .conftest import ROOT

pytestmark = pytest.mark.browser

DANISH = {"SHOP_COUNTRY": "DK", "SHOP_SUBDIVISION": "", "SHOP_CURRENCY": "DKK", "TIME_ZONE": "Europe/Copenhagen"}
AMOUNTS = (1234.56, -1234.56, 0, 0.004, 987654.321)  # no exact .5: Python rounds those to even, JS up


def _page(browser, context):
    """A blank page with the shop-locale block base.html writes, plotly.js, app.js and charts.js."""
    page = browser.new_page()
    block = json.dumps(context).replace("<", "\\u003c")
    page.set_content(f'<script id="shop-locale" type="application/json">{block}</script><div id="c"></div>')
    for script in ("vendor/plotly.min.js", "js/app.js", "js/charts.js"):
        page.add_script_tag(path=str(ROOT / "static" / script))
    return page


@pytest.mark.parametrize("shop", [{}, DANISH], ids=["uk-default", "danish"])
def test_scripts_format_money_and_time_like_the_server(browser, shop):
    with override_settings(**shop):
        context = locale_context()
        expected = {fmt: [format_value(a, fmt) for a in AMOUNTS] for fmt in ("money", "money0", "gbp")}
        moment = format_value("2026-07-01T10:30:00+00:00", "datetime")
        from mlanalytics.core.pages import Chart, prepare_chart

        spec = prepare_chart(Chart.bar("rows", "store", "value", "Stock value", label="Value", y_fmt="money0"),
                             {"rows": [{"store": "A", "value": 1000}, {"store": "B", "value": 2500}]})
    page = _page(browser, context)
    try:
        shown = page.evaluate("([amounts, fmts]) => Object.fromEntries(fmts.map(f => [f, amounts.map(a => MLA.fmt(a, f))]))",
                              [list(AMOUNTS), list(expected)])
        assert shown == expected
        assert page.evaluate("MLA.fmt('2026-07-01T10:30:00+00:00', 'datetime')") == moment
        assert moment == ("01 Jul 2026 12:30" if shop else "01 Jul 2026 11:30")  # summer time in each zone

        page.evaluate("spec => MLA.charts.render(document.getElementById('c'), spec)", spec)
        page.wait_for_selector("#c .ytick text")
        ticks = page.eval_on_selector_all("#c .ytick text", "els => els.map(e => e.textContent)")
        symbol = context["currency"]
        assert ticks and all(t.startswith(symbol["prefix"]) and t.endswith(symbol["suffix"]) for t in ticks), ticks
        assert ("kr." in "".join(ticks)) == bool(shop) and ("£" in "".join(ticks)) != bool(shop)
    finally:
        page.close()
