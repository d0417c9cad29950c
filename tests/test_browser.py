"""End-to-end tests of the web app in real headless Chromium, driven by Playwright.

The app (over the `app` fixture's sample letters plus the XSS letter) is served on a random
loopback port; each test gets a fresh browser context and page. Chromium is Debian's
(/usr/bin/chromium), launched with a plain `launch()`, which gives every run a fresh temporary
profile that Playwright deletes on close. Without Chromium (or Playwright) the module is skipped,
unless IMR_SEARCH_REQUIRE_BROWSER=1 (set in CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import pytest

from indexer.search import SearchRequest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("IMR_SEARCH_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


if not REQUIRE_BROWSER and (_reason := _why_no_browser()):
    pytest.skip(f"browser tests skipped: {_reason}", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=15_000)

# The exact expectations, worked out from the bundled sample letters.
KLONOPIN_LETTERS = ["L-8bfe781363af6ef1", "L-96b58c07c53b0b00"]
XSS_ITEM_TEXT = "<script>alert('xss-item')</script>"
XSS_QUERY = "<script>alert(1)</script><img src=x onerror=alert(2)>"


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(app):
    """The app served on a random free loopback port; yields its base URL."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Browser:
    """Headless Chromium with a fresh temporary profile, shared by this module's tests."""
    if reason := _why_no_browser():
        pytest.fail(f"IMR_SEARCH_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Problems:
    """What went wrong in the page: uncaught errors, console errors, dialogs, HTTP errors."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        self.http_errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        page.on("response", self._response)

    def _console(self, msg) -> None:
        # A failed load is reported (with its URL) by _response.
        if msg.type in ("error", "warning") and not msg.text.startswith("Failed to load resource"):
            self.console.append(msg.text)

    def _response(self, response) -> None:
        # Chromium asks for /favicon.ico by itself; the app has none.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.http_errors.append(f"{response.status} {response.url}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def page(browser, server):
    """A new page in a new context (own cookies, storage and history) on the served app."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.problems = Problems(page)
    try:
        yield page
    finally:
        context.close()


# -- helpers -------------------------------------------------------------------------------


def service_total(web_service, **params) -> int:
    """The number of letters the service finds for `params` (the ground truth)."""
    return web_service.search(SearchRequest.from_params(params)).total


def mark_window(page: Page) -> None:
    """Put a marker on `window`; a full page load loses it."""
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "a full page load happened"


def assert_clean(page: Page) -> None:
    """No uncaught script errors, console errors, dialogs or failed requests so far."""
    problems = page.problems
    assert problems.errors == [], problems.errors
    assert problems.console == [], problems.console
    assert problems.dialogs == [], problems.dialogs
    assert problems.http_errors == [], problems.http_errors


def facet_link(page: Page, facet: str, value: str):
    """The sidebar link that toggles `value` of `facet` (among the values shown, not "more")."""
    return page.locator(f'section.facet[data-facet="{facet}"] > ul > li > a').filter(
        has=page.locator(".value", has_text=re.compile(rf"^{re.escape(value)}$"))
    )


def url_has(*pairs: str) -> re.Pattern:
    """A URL pattern requiring every `name=value` pair in the query string (any order)."""
    return re.compile("".join(rf"(?=.*[?&]{re.escape(p)}(?:&|$))" for p in pairs))


def total(page: Page):
    return page.locator(".summary .total")


def cards(page: Page):
    return page.locator("ol.cards > li")


def chips(page: Page):
    return page.locator(".chips a.chip")


def toggle_upheld_then_imaging(page: Page, web_service) -> tuple[int, int]:
    """From browse, click Decision: upheld, then Treatment type: imaging, checking each swap.

    Returns the totals after the first and after the second click."""
    page.goto("/")
    browse_total = service_total(web_service)
    expect(total(page)).to_have_text(f"{browse_total:,}")
    expect(chips(page)).to_have_count(0)
    mark_window(page)

    upheld = facet_link(page, "decision", "upheld")
    expect(upheld).to_have_attribute("aria-pressed", "false")
    shown = int(upheld.locator(".count").inner_text())
    upheld_total = service_total(web_service, decision=["upheld"])
    assert shown == upheld_total
    assert upheld_total != browse_total  # so the swap is visible in the total
    upheld.click()
    expect(page).to_have_url(url_has("decision=upheld"))
    expect(total(page)).to_have_text(f"{shown:,}")
    expect(chips(page)).to_have_text([re.compile(r"^Decision: upheld\b")])
    expect(facet_link(page, "decision", "upheld")).to_have_attribute("aria-pressed", "true")
    assert_no_page_load(page)

    imaging = facet_link(page, "treatment_category", "imaging")
    expect(imaging).to_have_attribute("aria-pressed", "false")
    shown_imaging = int(imaging.locator(".count").inner_text())
    both_total = service_total(web_service, decision=["upheld"], treatment_category=["imaging"])
    assert shown_imaging == both_total
    assert both_total != upheld_total
    imaging.click()
    expect(page).to_have_url(url_has("decision=upheld", "treatment_category=imaging"))
    expect(total(page)).to_have_text(f"{both_total:,}")
    expect(chips(page)).to_have_text(
        [re.compile(r"^Decision: upheld\b"), re.compile(r"^Treatment type: imaging\b")]
    )
    expect(facet_link(page, "decision", "upheld")).to_have_attribute("aria-pressed", "true")
    expect(facet_link(page, "treatment_category", "imaging")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator('section.facet a[aria-pressed="true"]')).to_have_count(2)
    assert_no_page_load(page)
    return upheld_total, both_total


# -- tests ---------------------------------------------------------------------------------


def test_typing_a_query_updates_results_without_a_page_load(page, web_service):
    page.goto("/")
    mark_window(page)
    page.locator("#q").press_sequentially("klonopin")
    # The debounced `input changed delay:350ms` trigger alone searches (hybrid) and pushes the URL.
    expect(page).to_have_url(url_has("q=klonopin"))
    expect(page.locator(".summary q")).to_have_text("klonopin")
    page.get_by_label("Keyword", exact=True).check()
    expect(page).to_have_url(url_has("q=klonopin", "mode=keyword"))
    assert service_total(web_service, q="klonopin", mode="keyword") == 2
    expect(cards(page)).to_have_count(2)
    expect(total(page)).to_have_text("2")
    expect(page.locator(".summary p").first).to_contain_text("2 letters for klonopin")
    hrefs = [a.get_attribute("href") for a in page.locator("ol.cards > li h3 a").all()]
    assert sorted(hrefs) == [f"/letters/{i}?q=klonopin" for i in KLONOPIN_LETTERS]
    assert_no_page_load(page)
    assert "q=klonopin" in page.url and "mode=keyword" in page.url
    expect(page.locator("#q")).to_have_value("klonopin")
    assert_clean(page)


def test_toggling_two_facets_updates_counts_and_url(page, web_service):
    toggle_upheld_then_imaging(page, web_service)
    assert_clean(page)


def test_back_button_restores_the_previous_state(page, web_service):
    upheld_total, _ = toggle_upheld_then_imaging(page, web_service)

    page.go_back()
    expect(page).not_to_have_url(re.compile("treatment_category"))
    expect(page).to_have_url(url_has("decision=upheld"))
    expect(total(page)).to_have_text(f"{upheld_total:,}")
    expect(chips(page)).to_have_text([re.compile(r"^Decision: upheld\b")])
    expect(page.locator(".chips")).not_to_contain_text("imaging")
    expect(facet_link(page, "treatment_category", "imaging")).to_have_attribute(
        "aria-pressed", "false"
    )

    page.go_back()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/$"))
    expect(total(page)).to_have_text(f"{service_total(web_service):,}")
    expect(chips(page)).to_have_count(0)
    expect(page.locator('section.facet a[aria-pressed="true"]')).to_have_count(0)
    assert_no_page_load(page)
    assert_clean(page)


def test_opening_a_letter_from_the_results(page, server):
    page.goto("/?q=klonopin&mode=keyword")
    expect(cards(page)).to_have_count(2)
    first = cards(page).first.locator("h3 a")
    expect(first).to_have_attribute("href", "/letters/L-8bfe781363af6ef1?q=klonopin")
    first.click()
    expect(page).to_have_url(f"{server}/letters/L-8bfe781363af6ef1?q=klonopin")
    item = page.locator("section.item").filter(
        has=page.locator("h3", has_text="Klonopin 1 mg#30 with 1 refill")
    )
    expect(item).to_have_count(1)
    expect(item.locator("h3 .badge")).to_have_text("Upheld")
    expect(item.locator("h3 .badge")).to_have_class(re.compile(r"\bupheld\b"))
    marks = page.locator("mark", has_text=re.compile(r"^klonopin$", re.IGNORECASE))
    expect(marks.first).to_be_visible()
    assert marks.count() >= 1
    # Similar cases arrive after the letter, in place of the link to them.
    similar = page.locator(".letter-meta ol.similar > li")
    expect(similar).to_have_count(5)
    expect(page.get_by_role("link", name="Find similar cases")).to_have_count(0)
    expect(page.get_by_role("link", name="More similar cases")).to_have_attribute(
        "href", "/similar/L-8bfe781363af6ef1"
    )
    assert_clean(page)


def test_following_similar_items(page, server):
    page.goto("/letters/CM16-0232543")
    first_item = page.locator("section.item").first
    expect(first_item.locator("h3")).to_contain_text("Norflex")
    first_item.get_by_role("link", name="Similar items").click()
    expect(page).to_have_url(f"{server}/similar/CM16-0232543:item-1")
    expect(page.locator("h1")).to_contain_text("Norflex 100mg #60")
    top = page.locator("ol.similar-list > li").first
    expect(top.locator("h3 a")).to_have_text("CM16-0247802")
    expect(top.locator(".why")).to_contain_text("orphenadrine")
    assert_clean(page)


def test_a_long_facet_loads_all_its_values_in_place(page, web_service):
    page.goto("/?q=mri")
    mark_window(page)
    values = web_service.search(SearchRequest(q="mri")).facets["guideline_section"]
    assert len(values) == 34
    section = page.locator('section.facet[data-facet="guideline_section"]')
    section.locator("summary").click()
    more = section.locator("details ul.more-values > li > a")
    expect(more).to_have_count(13)  # twelve values and "All 34 values…"
    expect(more.last).to_have_text("All 34 values…")
    more.last.click()
    expect(more).to_have_count(34 - 8)
    expect(more.locator(".value")).to_have_text([v.value for v in values[8:]])
    expect(page).to_have_url(re.compile(r"/\?q=mri$"))  # the page's state did not change
    # A loaded value filters like any other.
    value = values[30]
    more.nth(30 - 8).click()
    expect(page).to_have_url(url_has("q=mri", f"guideline_section={quote_plus(value.value)}"))
    expect(chips(page)).to_have_text([re.compile(rf"^Guideline section: {re.escape(value.value)}")])
    assert_no_page_load(page)
    assert_clean(page)


def test_screenshot_of_the_search_page(page, tmp_path):
    page.goto("/?" + urlencode({"q": "Valium for anxiety"}))
    expect(page.get_by_label("Hybrid", exact=True)).to_be_checked()
    expect(cards(page).first).to_be_visible()
    shot = tmp_path / "search-page.png"
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    artifact = ARTIFACTS / "search-page.png"
    shutil.copyfile(shot, artifact)
    assert artifact.is_file()
    data = artifact.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000, f"screenshot is only {len(data)} bytes"
    assert_clean(page)


def test_letter_text_is_never_run_as_html(page, server):
    problems = page.problems

    def assert_inert() -> None:
        assert problems.dialogs == [], problems.dialogs
        assert page.title() != "pwned"
        assert page.evaluate("document.title") != "pwned"
        assert page.locator("script:not([src])").count() == 0
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("iframe").count() == 0
        assert page.locator("[onerror], [onmouseover], [onload], [onclick]").count() == 0
        assert page.locator("b").count() == 0  # the guideline's <b onmouseover=...>
        # An injected inline script or handler would at least be reported as blocked by the CSP.
        assert not [m for m in problems.console if "Content Security Policy" in m]
        assert problems.errors == [], problems.errors
        assert problems.http_errors == [], problems.http_errors

    page.goto("/?q=zanzibarite&mode=keyword")
    expect(cards(page)).to_have_count(1)
    expect(page.locator("ol.cards mark").first).to_have_text("zanzibarite")
    assert_inert()

    letter_link = cards(page).first.locator("h3 a")
    href = letter_link.get_attribute("href")
    match = re.fullmatch(r"/letters/([^/?#]+)\?q=zanzibarite", href or "")
    assert match, href
    letter_id = match.group(1)
    letter_link.click()
    expect(page).to_have_url(f"{server}/letters/{letter_id}?q=zanzibarite")
    expect(page.get_by_text(XSS_ITEM_TEXT, exact=False).first).to_be_visible()
    expect(page.locator("section.item h3")).to_contain_text(f"Tramadol {XSS_ITEM_TEXT} 50mg #60")
    expect(page.locator("#summary")).to_contain_text(
        "<script>document.title='pwned'; alert('xss-summary')</script>"
    )
    expect(page.locator("#summary")).to_contain_text("""<img src=x onerror="alert('xss-img')">""")
    expect(page.locator("section.item .rationale")).to_contain_text(
        """<iframe src="javascript:alert('xss-iframe')"></iframe>"""
    )
    expect(page.locator("section.item mark").first).to_have_text("zanzibarite")
    assert_inert()

    page.get_by_role("link", name="More similar cases").click()
    expect(page).to_have_url(f"{server}/similar/{letter_id}")
    expect(page.locator("ol.similar-list > li").first).to_be_visible()
    assert_inert()

    page.goto(f"/similar/{letter_id}:item-1")
    expect(page.locator("h1")).to_contain_text(XSS_ITEM_TEXT)
    assert_inert()

    page.goto("/?q=" + quote(XSS_QUERY))
    expect(page.locator("#q")).to_have_value(XSS_QUERY)
    expect(page.locator(".summary q")).to_have_text(XSS_QUERY)
    expect(page).to_have_title(f"{XSS_QUERY} · IMR search")
    assert_inert()


def test_search_works_without_javascript(browser, server, web_service):
    context = browser.new_context(base_url=server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        page.get_by_label("Keyword", exact=True).check()
        page.locator("#q").press_sequentially("klonopin")
        with page.expect_navigation() as navigation:
            page.locator("#q").press("Enter")
        response = navigation.value
        assert response is not None and response.ok
        assert response.request.resource_type == "document"
        assert "HX-Request" not in {k.title() for k in response.request.headers}
        assert response.text().lstrip().lower().startswith("<!doctype html>")
        expect(page).to_have_url(url_has("q=klonopin", "mode=keyword"))
        expect(page).to_have_title("klonopin · IMR search")
        expect(cards(page)).to_have_count(2)
        expect(total(page)).to_have_text("2")

        # A facet value that narrows the two results to one.
        narrowing = (
            page.locator("section.facet > ul > li > a")
            .filter(has=page.locator(".count", has_text=re.compile(r"^1$")))
            .first
        )
        facet = narrowing.locator("xpath=ancestor::section[1]").get_attribute("data-facet")
        value = narrowing.locator(".value").inner_text()
        with page.expect_navigation() as navigation:
            narrowing.click()
        assert navigation.value is not None and navigation.value.ok
        expect(page).to_have_url(url_has("q=klonopin", "mode=keyword", urlencode({facet: value})))
        expected = service_total(web_service, q="klonopin", mode="keyword", **{facet: [value]})
        assert expected == 1
        expect(total(page)).to_have_text("1")
        expect(cards(page)).to_have_count(1)
        expect(chips(page)).to_have_count(1)
        expect(facet_link(page, facet, value)).to_have_attribute("aria-pressed", "true")
    finally:
        context.close()
