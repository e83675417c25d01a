"""report.html in a real browser: headless Chromium (Debian package) driven by Playwright opens the
file from disk, filters the sample viewer and opens a response judged harmful."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from report_fixtures import SECRET, audit_table

from mijabench.analysis.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                       "(.ci/run installs the Debian 'chromium' package)"),
]


def test_sample_viewer_filters_in_the_browser(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    table = audit_table()
    html = write_report(table, tmp_path)["report.html"]
    rows = table.select(["group", "language", "verdict"]).to_pylist()
    black = Counter(r["verdict"] for r in rows if r["group"] == "black")
    black_pt = sum(1 for r in rows if r["group"] == "black" and r["language"] == "pt")
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            visible = page.locator("#viewer-table tbody tr:visible")
            expect(visible).to_have_count(table.num_rows)
            page.select_option("select[data-filter=group]", "black")
            expect(visible).to_have_count(sum(black.values()))
            expect(page.locator("#viewer-count")).to_have_text(f"{sum(black.values())} of {table.num_rows} rows shown")
            page.select_option("select[data-filter=verdict]", "harmful")
            expect(visible).to_have_count(black["harmful"])
            page.select_option("select[data-filter=verdict]", "")
            page.select_option("select[data-filter=language]", "pt")
            expect(visible).to_have_count(black_pt)
            page.select_option("select[data-filter=language]", "")
            page.select_option("select[data-filter=verdict]", "harmful")
            first = visible.first.locator("details.hidden-response")
            body = first.locator("pre")
            expect(body).not_to_be_visible()  # harmful text stays closed until clicked
            first.locator("summary").click()
            expect(body).to_be_visible()
            expect(body).to_contain_text(SECRET)
            assert page.locator("img").count() == 4
            assert all(img.evaluate("i => i.complete && i.naturalWidth > 0") for img in page.locator("img").all())
        finally:
            browser.close()
    assert all(u.startswith(("file:", "data:")) for u in requests)  # no external asset
