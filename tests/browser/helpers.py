"""Helpers shared by the browser tests of every panel."""

ALL_CHARTS_DRAWN = "() => [...document.querySelectorAll('[data-chart]')].every(el => el.querySelector('.main-svg'))"


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
