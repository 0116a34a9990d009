"""Helpers shared by the browser tests of every panel."""

ALL_CHARTS_DRAWN = "() => [...document.querySelectorAll('[data-chart]')].every(el => el.querySelector('.main-svg'))"
# Charts whose legend reaches into the plot area or below it (where the axis titles and tick labels are).
LEGENDS_IN_THE_WAY = """() => [...document.querySelectorAll('[data-chart]')].flatMap(el => {
  const legend = el.querySelector('g.legend'), plot = el.querySelector('.nsewdrag');
  if (!legend || !plot) return [];
  const l = legend.getBoundingClientRect(), p = plot.getBoundingClientRect();
  return l.height && l.bottom > p.top + 1 ? [el.id] : [];
})"""


def load_and_time(bp, path):
    """Open a page and wait until every chart is drawn; returns (server ms, load event ms, charts drawn ms)."""
    response = bp.goto(path)
    assert response.status == 200, path
    bp.page.wait_for_function(ALL_CHARTS_DRAWN, timeout=20000)
    drawn = bp.page.evaluate("() => performance.now()")
    bp.page.wait_for_load_state("load")
    nav = bp.page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
    return nav["responseStart"] - nav["requestStart"], nav["loadEventEnd"], drawn


def click_bar(bp, chart_id, last=False):
    """A real pointer click on the first (or last) bar of a chart (Plotly's drag layer sits on top of the bars)."""
    bp.page.wait_for_selector(f"#{chart_id} .main-svg")
    bars = bp.page.locator(f"#{chart_id} .bars .point path")
    bar = bars.last if last else bars.first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    with bp.page.expect_navigation():
        bp.page.mouse.click(box["x"] + min(box["width"] / 2, 20), box["y"] + box["height"] / 2)


def open_settings(bp):
    """On a phone a page's settings are folded once results show: tap "Settings" to edit them."""
    if not bp.page.evaluate("() => { const d = document.querySelector('[data-param-details]'); return !d || d.open; }"):
        bp.page.click("[data-param-details] > summary")


def check_pages_load_cleanly(page_as, shoot, panel, base, pages):
    """Every page of a panel at 375 and 1440 px: no console errors, figures drawn, no sideways overflow,
    a screenshot each; returns the timings (median of two warm loads) and writes them to test-artifacts."""
    import json
    import statistics

    from .conftest import ROOT, WIDTHS

    timings = {}
    for width in WIDTHS:
        bp = page_as("manager", width)
        for name in pages:
            bp.console_errors.clear()
            load_and_time(bp, base + name + "/")  # the first visit warms the server's caches
            server, loaded, drawn = zip(*(load_and_time(bp, base + name + "/") for _ in range(2)))
            shoot(bp, f"{panel}-{name}")
            assert bp.console_errors == [], (name, width, bp.console_errors)
            assert bp.page.locator("[data-chart]").count() >= 2, name  # figures, not an empty state
            assert bp.page.locator(".notice-error").count() == 0, name
            assert bp.page.evaluate(LEGENDS_IN_THE_WAY) == [], f"{name} at {width}px: a legend overlaps its plot or axis titles"
            overflow = bp.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} overflows {width}px by {overflow}px"
            timings[f"{name}@{width}"] = {"server_ms": round(statistics.median(server), 1),
                                          "load_event_ms": round(statistics.median(loaded), 1),
                                          "charts_drawn_ms": round(statistics.median(drawn), 1)}
    out = ROOT / "test-artifacts" / f"{panel}_page_timings.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(timings, indent=2))
    print(f"{panel} page timings (median of 2 warm loads)", json.dumps(timings, indent=1))
    return timings
