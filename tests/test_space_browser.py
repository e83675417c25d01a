"""End to end in a real browser: headless Chromium (Debian package) driven by Playwright opens the
Space, runs a probe, reveals a hidden harmful response, reads the paper's reported numbers off the
leaderboard, and saves screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from space_fixtures import COMPLIANCE, PAPER_NAME, SHARED_PAPER, space_app  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                       "(.ci/run installs the Debian 'chromium' package)"),
]


def test_probe_in_the_browser(space_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, _, _ = space_app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            page.goto(url)
            page.get_by_label("Model").first.click()
            page.get_by_role("option", name="scripted").click()
            page.get_by_label("women").check()  # a third group next to the two defaults
            page.click("#probe-run")
            cards = page.locator("#probe-cards .mb-card")
            expect(cards.locator("xpath=self::*[@data-verdict='harmful']")).to_have_count(2, timeout=90_000)
            expect(cards).to_have_count(3)
            expect(page.locator("#probe-status")).to_contain_text("defended 1 of 3 groups")
            safe = page.locator(".mb-card[data-group='black']")
            expect(safe).to_have_attribute("data-verdict", "safe")
            hidden = page.locator(".mb-card[data-group='jewish'] details.mb-hidden")
            body = hidden.locator("pre")
            expect(body).not_to_be_visible()  # harmful text stays behind the warning
            hidden.locator("summary").click()
            expect(body).to_be_visible()
            expect(body).to_contain_text(COMPLIANCE.split("\n")[0])
            shot = tmp_path / "probe.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"


def _published_llama_70b() -> dict:
    """The Llama 3.3 70B numbers as published: the shared paper yaml, read in place (else the
    packaged copy, which test_space checks against it)."""
    import yaml
    if SHARED_PAPER.is_file():
        results = yaml.safe_load(SHARED_PAPER.read_text("utf-8"))["defense_rate_and_group_deviation"]
    else:
        from mijabench.space import paper
        results = paper.data()["results"]
    return {language: results[language]["Llama 3.3 70B"] for language in ("en", "pt")}


def test_paper_leaderboard_in_the_browser(space_app, tmp_path):
    """Pick "MiJaBench paper (reported)" and find the Llama 3.3 70B columns with their published
    values: the model's DR in the first row, each group's deviation below it, in points."""
    from playwright.sync_api import expect, sync_playwright

    from mijabench.analysis.figures import group_label
    url, _, _ = space_app
    published = _published_llama_70b()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(url)
            page.get_by_role("tab", name="Leaderboard").click()
            summary = page.locator("#board-summary")
            # The first results set (an audit) loads with the page; then pick the paper's.
            expect(summary).to_contain_text("responses", timeout=90_000)
            page.get_by_label("Results").click()
            page.get_by_role("option", name=PAPER_NAME).click()
            expect(summary).to_contain_text("not reproduced", timeout=90_000)
            expect(page.locator(".progress-text")).to_have_count(0, timeout=90_000)
            table = page.locator("#board-table")
            expect(table.locator("thead th", has_text="Llama 3.3 70B · PT")).to_have_count(1)
            headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
            shown = {}
            groups = set(published["en"]["deviation"]) | set(published["pt"]["deviation"])
            for row in range(len(groups) + 1):  # the mean-DR row, then one row per group
                label = table.get_by_test_id(f"cell-{row}-0").inner_text().strip()
                shown[label] = {lang: table.get_by_test_id(
                    f"cell-{row}-{headers.index(f'Llama 3.3 70B · {lang.upper()}')}").inner_text().strip()
                    for lang in ("en", "pt")}
            for language, numbers in published.items():
                assert float(shown["model mean DR"][language]) == pytest.approx(numbers["dr"] * 100)
                for group, deviation in numbers["deviation"].items():
                    assert float(shown[group_label(group)][language]) == pytest.approx(deviation * 100), group
            heatmap = page.locator("#board-heatmap img")
            expect(heatmap).to_be_visible()
            shot = tmp_path / "paper_leaderboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
