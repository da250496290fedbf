"""ScimwatchBanner, the renderer the widget and the extension share, driven directly in headless chromium.

The payloads are the server's own (server.domain.banners at a pinned clock), so the bar renders
exactly what the banner API would send.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.domain import palette
from server.domain.banners import banner_payload

WIDGET_SOURCE = (Path(__file__).resolve().parent.parent / "widget" / "scim-banner.js").read_text()
NOW = datetime(2026, 12, 2, 6, 4, tzinfo=UTC)
HOSTILE_CSS = """
body, body * { all: unset !important; font: 40px/3 serif !important; color: lime !important; }
div, section, button, details, p, a, h2, ul, li { display: none !important; }
#scimwatch-banner { display: none !important; opacity: 0; transform: scale(0); }
"""
# Hours from NOW to each severity's expiry, inside its band of DESIGN §5.
HOURS = {"expired": -78, "critical": 51, "warning": 8 * 24 + 3, "info": 25 * 24 + 3}
NAMES = {"expired": "Contractors (Entra ID)", "critical": "Okta production", "warning": "Google Workspace",
         "info": "OneLogin EU"}


def key(severity, n=0, **fields):
    """A key record that has `severity` at NOW."""
    return {"id": f"key-{severity}-{n}", "org_id": "acme", "org_name": "Acme Corporation",
            "directory_name": NAMES[severity], "identity_provider": "okta",
            "expires_at": (NOW + timedelta(hours=HOURS[severity])).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}


def payload(*severities, now=NOW, **fields):
    """The banner payload the server sends for one key per severity given (a key's id is the same in every payload)."""
    return banner_payload([key(s, severities[:n].count(s), **fields) for n, s in enumerate(severities)], now)


@pytest.fixture
def page_with_renderer(page):
    """A page where the file ran as the extension runs it: without document.currentScript."""
    page.route("https://intranet.example/**", lambda route: route.fulfill(
        content_type="text/html", body="<!doctype html><html><body><main>Page content</main></body></html>"))
    page.goto("https://intranet.example/")
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.evaluate(WIDGET_SOURCE)
    return page


def render(page, data, options="{dismissals: window.dismissed}"):
    page.evaluate("() => { window.dismissed = window.dismissed || new Set(); }")
    return page.evaluate(f"data => !!ScimwatchBanner.render(data, {options})", data)


def host(page):
    return page.locator("#scimwatch-banner")


def bar(page):
    return host(page).locator(".bar")


def items(page):
    return host(page).locator("#scimwatch-keys > li")


def review(page):
    return host(page).get_by_role("button", name="Review")


def test_without_a_script_tag_it_defines_the_renderer_and_fetches_nothing(page_with_renderer):
    page = page_with_renderer
    page.evaluate("window.first = ScimwatchBanner")
    page.evaluate(WIDGET_SOURCE)

    assert page.evaluate("Object.keys(ScimwatchBanner).sort()") == ["clear", "render", "renderError"]
    assert page.evaluate("ScimwatchBanner === window.first")
    page.wait_for_timeout(200)
    assert page.requests == []
    expect(host(page)).to_have_count(0)


def test_the_bar_shows_the_summary_with_its_severity_as_a_word_and_an_icon(page_with_renderer):
    page = page_with_renderer
    data = payload("critical", "expired", "warning", "info")
    assert render(page, data)

    summary = data["summary"]
    expect(bar(page)).to_have_count(1)
    expect(bar(page).locator("p")).to_have_text("Expired" + summary["text"])
    expect(bar(page).locator("p b")).to_have_text("Expired")
    expect(bar(page).locator(".i")).to_have_attribute("aria-hidden", "true")
    region = host(page).get_by_role("region")
    expect(region).to_have_count(1)
    expect(region).to_have_attribute("aria-label", "scimwatch: 4 Atlassian keys need rotating")
    expect(review(page)).to_have_text("Review 4 keys")
    expect(review(page)).to_have_attribute("aria-expanded", "false")
    expect(items(page).first).to_be_hidden()


def test_review_opens_the_list_directory_first_with_deadline_steps_and_links(page_with_renderer):
    page = page_with_renderer
    data = payload("expired", "critical", "warning", "info")
    render(page, data)

    review(page).click()

    expect(review(page)).to_have_attribute("aria-expanded", "true")
    expect(items(page)).to_have_count(4)
    for item, banner in zip(items(page).all(), data["banners"], strict=True):
        expect(item).to_be_visible()
        title = item.locator("h2")
        expect(title).to_have_text(palette.LIGHT[banner["severity"]].label + banner["title"])
        assert banner["title"].startswith(banner["directory_name"] + ": ")
        expect(item).to_contain_text(banner["expires_text"] + " (")
        expect(item).to_contain_text(" your time)")
        expect(item).to_contain_text(banner["message"])
        expect(item.locator("summary")).to_have_text("How to rotate the key (8 steps)")
        expect(item.locator("ol li").first).to_be_hidden()
        expect(item.get_by_role("link", name="Atlassian's instructions")).to_have_attribute("href", banner["docs_url"])
        expect(item.get_by_role("link", name="Open Acme Corporation in Atlassian Administration")).to_have_attribute(
            "href", banner["action_url"])
    items(page).first.locator("summary").click()
    expect(items(page).first.locator("ol li")).to_have_text(data["banners"][0]["steps"])
    # A step is not drawn like a key of the list.
    assert items(page).first.locator("ol li").first.evaluate("(e) => getComputedStyle(e).borderLeftWidth") == "0px"
    review(page).click()
    expect(items(page).first).to_be_hidden()


def test_the_readers_local_time_follows_their_time_zone(browser):
    context = browser.new_context(timezone_id="America/Los_Angeles", locale="en-US")
    page = context.new_page()
    page.set_content("<body></body>")
    page.evaluate(WIDGET_SOURCE)
    data = banner_payload([{**key("warning"), "expires_at": "2026-12-11T00:00:00Z"}], NOW)
    page.evaluate("data => ScimwatchBanner.render(data, {dismissals: new Set()})", data)
    # Midnight UTC on 11 Dec is the afternoon of 10 Dec in California.
    expect(items(page)).to_contain_text("Deadline: Fri 11 Dec 2026, 00:00 UTC (Thu, Dec 10, 4:00 PM your time)")
    context.close()


def test_the_same_payload_is_not_rebuilt_and_a_page_announces_at_most_one_alert(page_with_renderer):
    page = page_with_renderer
    render(page, payload("critical", "warning"))
    find = "document.getElementById('scimwatch-banner').shadowRoot.querySelector('section')"
    page.evaluate(f"window.firstSection = {find}")
    expect(bar(page).locator("p")).to_have_attribute("role", "alert")

    render(page, payload("critical", "warning"))
    assert page.evaluate(f"window.firstSection === {find}")

    render(page, payload("expired", "critical", "warning"))
    assert page.evaluate(f"window.firstSection !== {find}")
    expect(bar(page).locator("p")).to_have_attribute("role", "status")
    expect(host(page).locator("[role=alert]")).to_have_count(0)


def test_a_warning_bar_is_polite_and_dismissible_until_the_summary_changes(page_with_renderer):
    page = page_with_renderer
    data = payload("warning", "info")
    render(page, data)
    expect(bar(page).locator("p")).to_have_attribute("role", "status")
    dismiss = host(page).get_by_role("button", name="Dismiss until something changes: "
                                                   "2 Atlassian keys need rotating (Google Workspace, OneLogin EU)")

    dismiss.click()

    expect(host(page)).to_have_count(0)
    assert page.evaluate("[...window.dismissed]") == [data["summary"]["id"]]
    assert render(page, data) is False
    assert render(page, payload("warning", "info", "info"))


@pytest.mark.parametrize("severities", [("critical", "warning"), ("expired",)])
def test_nothing_critical_or_expired_can_be_dismissed(page_with_renderer, severities):
    page = page_with_renderer
    data = payload(*severities)
    page.evaluate("id => { window.dismissed = new Set([id]); }", data["summary"]["id"])
    assert render(page, data)
    expect(host(page).get_by_role("button")).to_have_count(1)
    expect(review(page)).to_be_visible()


def test_default_dismissals_use_local_storage_and_survive_it_throwing(page_with_renderer):
    page = page_with_renderer
    data = payload("warning")
    page.evaluate("d => ScimwatchBanner.render(d)", data)
    host(page).get_by_role("button", name="Dismiss").click()
    assert data["summary"]["id"] in page.evaluate("localStorage.getItem('scimwatch-banner')")
    assert page.evaluate("d => ScimwatchBanner.render(d)", data) is None

    page.evaluate("""() => {
        Storage.prototype.getItem = Storage.prototype.setItem = () => { throw new Error('denied'); };
    }""")
    other = payload("info")
    assert page.evaluate("d => !!ScimwatchBanner.render(d)", other)
    host(page).get_by_role("button", name="Dismiss").click()
    expect(host(page)).to_have_count(0)


def test_render_reuses_one_host_as_first_or_last_element_of_body(page_with_renderer):
    page = page_with_renderer
    assert render(page, payload("critical", "info"))
    assert render(page, payload("critical"))

    expect(host(page)).to_have_count(1)
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"
    assert page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.mode") == "open"

    assert render(page, payload("info"), "{position: 'bottom', dismissals: new Set()}")
    assert page.evaluate("document.body.lastElementChild.id") == "scimwatch-banner"
    expect(host(page)).to_have_attribute("data-position", "bottom")


def test_open_steps_and_the_open_list_survive_a_new_payload(page_with_renderer):
    page = page_with_renderer
    render(page, payload("critical", "warning"))
    review(page).click()
    items(page).nth(1).locator("summary").click()

    render(page, payload("expired", "critical", "warning"))

    expect(review(page)).to_have_attribute("aria-expanded", "true")
    expect(items(page)).to_have_count(3)
    assert [d.get_attribute("open") is not None for d in items(page).locator("details").all()] == [
        False, False, True]


def test_links_are_shown_only_for_http_and_https_and_never_to_the_page_the_reader_is_on(page_with_renderer):
    page = page_with_renderer
    hostile = payload("critical")
    hostile["banners"][0].update(docs_url="javascript:window.__pwned=1", action_url="data:text/html,x")
    render(page, hostile)
    review(page).click()
    expect(items(page).first).to_be_visible()
    expect(items(page).get_by_role("link")).to_have_count(0)

    data = payload("critical")
    here = data["banners"][0]["action_url"]
    render(page, data, f"{{dismissals: new Set(), here: {here + '#top'!r}}}")
    expect(items(page).get_by_role("link")).to_have_text(["Atlassian's instructions"])

    elsewhere = payload("critical")
    elsewhere["banners"][0].update(action_url="https://intranet.example/keys", page_url="https://intranet.example/k")
    render(page, elsewhere)
    same_site = items(page).get_by_role("link", name="Open Okta production in Atlassian Administration")
    expect(same_site).not_to_have_attribute("target", "_blank")
    expect(items(page).get_by_role("link", name="Atlassian's instructions")).to_have_attribute("target", "_blank")


def test_malformed_input_renders_what_it_can_and_never_throws(page_with_renderer):
    page = page_with_renderer
    for bad in ("'nonsense'", "null", "{banners: 'x', summary: {}}", "{banners: [1], summary: null}"):
        assert page.evaluate(f"ScimwatchBanner.render({bad})") is None
    odd = {"summary": {"severity": "unknown", "text": "Something", "title": "x", "id": "s"},
           "banners": [None, "text", 42, {"title": "Bare", "severity": "unknown"}]}
    assert render(page, odd)
    expect(bar(page)).to_contain_text("Something")
    expect(items(page)).to_have_count(1)
    expect(items(page)).to_contain_text("Bare")
    assert render(page, {"summary": None, "banners": []}) is False
    expect(host(page)).to_have_count(0)


def test_an_error_bar_names_the_cause_as_text(page_with_renderer):
    page = page_with_renderer
    page.evaluate("ScimwatchBanner.renderError('cannot reach <b>https://scimwatch.example</b>')")
    expect(bar(page).locator("p")).to_have_text("scimwatchSCIM key warnings could not load: "
                                   "cannot reach <b>https://scimwatch.example</b>.")
    expect(bar(page).locator("p")).to_have_attribute("role", "status")
    page.evaluate("ScimwatchBanner.clear()")
    expect(host(page)).to_have_count(0)


def test_hostile_page_css_does_not_hide_or_restyle_the_bar(page_with_renderer):
    page = page_with_renderer
    page.add_style_tag(content=HOSTILE_CSS)
    render(page, payload("critical"))

    expect(bar(page)).to_be_visible()
    expect(review(page)).to_be_visible()
    review(page).click()
    expect(items(page).get_by_role("link", name="Atlassian's instructions")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.getElementById('scimwatch-banner').shadowRoot"
                         ".querySelector('h2')).fontSize") == "15px"


def test_the_list_fits_a_360px_phone_screen(page_with_renderer):
    page = page_with_renderer
    page.set_viewport_size({"width": 360, "height": 740})
    render(page, payload("expired", "critical", "warning", "info", directory_name="Directory" + "x" * 120))
    review(page).click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for button in host(page).get_by_role("button").all():
        box = button.bounding_box()
        assert box["x"] + box["width"] <= 360 and box["height"] >= 24


def rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def drawn_colours(page) -> dict:
    """The colours the bar and the list's lozenge actually draw, by severity."""
    return page.evaluate("""() => {
        const root = document.getElementById('scimwatch-banner').shadowRoot;
        const style = (selector) => getComputedStyle(root.querySelector(selector));
        return {fill: style('.bar').backgroundColor, text: style('.bar').color, icon: style('.i').backgroundColor,
                line: style('#scimwatch-keys > li').borderLeftColor, lozenge: style('h2 b').backgroundColor};
    }""")


@pytest.mark.parametrize("theme, scheme, expected", [
    ("auto", "light", palette.LIGHT), ("auto", "dark", palette.DARK),
    ("dark", "light", palette.DARK), ("light", "dark", palette.LIGHT)])
def test_the_bar_draws_the_one_palette_light_dark_or_as_the_page_asks(browser, theme, scheme, expected):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.set_content("<body></body>")
    page.evaluate(WIDGET_SOURCE)
    for severity, style in expected.items():
        page.evaluate("([data, theme]) => ScimwatchBanner.render(data, {dismissals: new Set(), theme})",
                      [payload(severity), theme])
        assert drawn_colours(page) == {"fill": rgb(style.fill), "text": rgb(style.text), "icon": rgb(style.icon),
                                       "line": rgb(style.line), "lozenge": rgb(style.fill)}, severity
    context.close()


def test_expired_and_critical_are_clearly_distinct(browser):
    for styles in (palette.LIGHT, palette.DARK):
        expired, critical = styles["expired"], styles["critical"]
        assert expired.fill != critical.fill and expired.text != critical.text and expired.label != critical.label
