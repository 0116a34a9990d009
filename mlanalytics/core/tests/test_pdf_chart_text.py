"""User text in a PDF chart is drawn literally (security issue 12, item 8): matplotlib reads `$…$` as maths, so a
part, supplier or technician named with dollar signs made the PDF export fail (a 500) or drew something else."""
import re

import pytest

from mlanalytics.exports.charts import chart_svg

NAMES = ["Screen $\\frac{1}{0}$ kit", "Bad $\\nosuchcommand{x}$", "$5 adapter", "Pay $$ now", "cost $x^2$"]


def _series(label, x, y):
    return {"label": label, "x": x, "y": y, "mode": "", "lower": None, "upper": None, "links": None, "text": None}


@pytest.mark.parametrize("kind", ["bar", "timeseries", "heatmap"])
def test_dollar_signs_in_chart_text_are_drawn_as_written(kind):
    spec = {"kind": kind, "title": NAMES[0], "empty": False, "fmt": "int", "orientation": "v",
            "x_label": NAMES[1], "y_label": NAMES[4],
            "series": [_series(NAMES[2], NAMES, [1, 2, 3, 4, 5]), _series(NAMES[3], NAMES, [2, 1, 2, 1, 2])]}
    if kind == "timeseries":
        for series in spec["series"]:
            series["x"] = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]
    if kind == "heatmap":
        spec["heatmap"] = {"x": NAMES, "y": NAMES[:2], "z": [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]}
    svg = chart_svg(spec)
    text = " ".join(re.sub(r"<[^>]+>", " ", svg).split()).replace("&amp;", "&")
    expected = NAMES if kind != "timeseries" else [NAMES[0], NAMES[1], NAMES[4], NAMES[2], NAMES[3]]
    for name in expected:
        assert name in text, name
