"""Reading a rendered dashboard page in Django-client tests: chart data blocks and KPI tiles."""
import json
import re


def chart_data(html, index):
    """The json_script data block of chart `index` on the page, as the browser reads it."""
    match = re.search(rf'<script id="chart-{index}-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"chart-{index} is not on the page"
    return json.loads(match.group(1))


def series(spec, label):
    return next(s for s in spec["series"] if s["label"] == label)


def kpi_text(html, path):
    match = re.search(rf'data-kpi="{re.escape(path)}"[^>]*>.*?data-kpi-value>([^<]*)<', html, re.S)
    assert match, f"no KPI tile for {path}"
    return match.group(1).strip()
