"""The import page in a real browser, as an admin: a good file (Open Repair Data, big enough to run in the
background) goes upload → check report with its progress bar → import → progress → done, and its tickets are
in the admin; a bad file shows every problem, offers no import and refuses one forced by hand; other roles
get 403. Screenshots at 375 px and 1440 px."""
import csv
import io
import re

import pytest

from mlanalytics.imports.ords import ticket_reference

from .conftest import WIDTHS

pytestmark = pytest.mark.browser
SAMPLE = "/work/shared/data/openrepair/OpenRepairData_v0.3_RestartProject_202204.csv"
ROWS_PER_FILE = 2000  # ~340 KB: over IMPORT_INLINE_MAX_KB, so the check and the import run as background jobs
BAD = ("sku,name,category,unit_cost,price\n"
       "BROWSER-BAD-1,Screen,screen,1e20,20\n"
       "BROWSER-BAD-2,Gadget,gizmo,10,20\n").encode() + b"BROWSER-BAD-3,Caf\xe9 cable,port,2,5\n"


def ords_slice(part):
    """Rows [part * ROWS_PER_FILE, (part + 1) * ROWS_PER_FILE) of the Restart Project sample, as CSV bytes."""
    from pathlib import Path

    path = Path(SAMPLE)
    if not path.is_file():
        pytest.skip("the Open Repair Data sample is not on this machine")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for _, row in zip(range((part + 1) * ROWS_PER_FILE), reader)][part * ROWS_PER_FILE:]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(), rows[0][0]


def choose_and_upload(bp, entity, name, content):
    bp.goto("/admin/ml-analytics/import/")
    bp.page.select_option("#id_entity", entity)
    bp.page.set_input_files("#id_file", files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    with bp.page.expect_navigation():
        bp.page.click("button[type=submit]:has-text('Upload and check')")


def test_a_good_file_is_checked_imported_and_its_tickets_are_there(page_as, shoot):
    for part, width in enumerate(WIDTHS):
        bp = page_as("admin", width)
        bp.goto("/admin/ml-analytics/")
        assert bp.page.locator(".sidenav a", has_text="Import data").count() == 1
        bp.goto("/admin/ml-analytics/import/")
        shoot(bp, "import-upload")
        content, first_id = ords_slice(part)
        choose_and_upload(bp, "ords", f"restart-{part}.csv", content)
        # The check runs in the background: its progress bar shows, then the page turns into the report.
        bp.page.wait_for_selector("[data-import-status] progress", timeout=20000)
        bp.page.wait_for_selector("[data-import-outcome=checked]", timeout=120000)
        report = bp.page.inner_text(".import-report")
        outcome = bp.page.inner_text("[data-import-outcome]")
        assert f"{ROWS_PER_FILE:,} row(s) read — {ROWS_PER_FILE:,} created" in outcome
        assert re.search(r"Problems\s+0", report)
        shoot(bp, "import-checked")
        bp.page.once("dialog", lambda dialog: dialog.accept())
        with bp.page.expect_navigation():
            bp.page.click("[data-import-apply]")
        bp.page.wait_for_selector("[data-import-status] progress", timeout=20000)
        bp.page.wait_for_selector("[data-import-outcome=applied]", timeout=180000)
        assert "Imported." in bp.page.inner_text("[data-import-outcome]")
        shoot(bp, "import-done")
        assert bp.console_errors == []
        overflow = bp.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the import page overflows {width}px by {overflow}px"
        # The tickets are in the app: the admin's list of Open Repair Data tickets finds the file's first record.
        with bp.page.expect_navigation():
            bp.page.click("text=See the records")
        bp.goto(bp.page.url.replace(bp.base_url, "") + f"&q={ticket_reference(first_id)}")
        assert bp.page.locator("#result_list", has_text=ticket_reference(first_id)).count() == 1
        # The audit log has the result.
        bp.goto("/admin/core/auditlogentry/?q=import.apply")
        assert bp.page.locator("#result_list", has_text="import.apply").count() >= 1


def test_a_bad_file_shows_its_problems_and_is_never_imported(page_as, shoot):
    for width in WIDTHS:
        bp = page_as("admin", width)
        choose_and_upload(bp, "parts", "parts-with-problems.csv", BAD)
        bp.page.wait_for_selector("[data-import-outcome=refused]", timeout=30000)
        table = bp.page.inner_text("[data-import-problem-table]")
        assert "100,000,000,000,000,000,000.00 is more than the database can hold (at most 9,999,999.99)" in table
        assert "'gizmo' is not one of" in table and "byte 0xE9 at byte offset" in table
        assert bp.page.locator("[data-import-apply]").count() == 0
        shoot(bp, "import-refused")
        assert bp.console_errors == []
        overflow = bp.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the report overflows {width}px by {overflow}px"
        # The report downloads as CSV, as the command writes it.
        with bp.page.expect_download() as download:
            bp.page.click("[data-import-download]")
        lines = open(download.value.path(), encoding="utf-8").read().splitlines()
        assert lines[0] == "row,column,reason" and len(lines) == 4
        # An import forced by hand (the form posted without its button) is refused; nothing is written.
        token = bp.page.get_attribute("meta[name=csrf-token]", "content")
        response = bp.page.request.post(bp.page.url + "apply/", headers={"X-CSRFToken": token})
        assert "its check found problems" in response.text()
        bp.goto("/admin/inventory/part/?q=BROWSER-BAD")
        assert "0 parts" in bp.page.inner_text("#changelist-form") or bp.page.locator("#result_list").count() == 0


@pytest.mark.parametrize("role", ["manager", "staff", "stakeholder"])
def test_other_roles_cannot_open_the_import_page(page_as, role):
    bp = page_as(role, 1440)
    assert bp.goto("/admin/ml-analytics/import/").status == 403
    bp.goto("/admin/ml-analytics/")
    assert bp.page.locator(".sidenav a", has_text="Import data").count() == 0
