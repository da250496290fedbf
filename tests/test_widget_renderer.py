"""ScimwatchBanner, the renderer the widget and the extension share, driven directly in headless chromium."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

WIDGET_SOURCE = (Path(__file__).resolve().parent.parent / "widget" / "scim-banner.js").read_text()
HOSTILE_CSS = """
body, body * { all: unset !important; font: 40px/3 serif !important; color: lime !important; }
div, section, button, details, p, a, h2 { display: none !important; }
#scimwatch-banner { display: none !important; opacity: 0; transform: scale(0); }
"""


def banner(severity, org_id="org-1", **fields):
    """A banner as DESIGN §5 describes it."""
    return {
        "id": f"key-{severity}:2026-12-06T00:00:00Z:{severity}", "key_id": f"key-{severity}",
        "severity": severity, "title": f"SCIM API key {severity}", "message": "Example Okta (Example Corp): rotate.",
        "org_id": org_id, "org_name": "Example Corp", "directory_id": "d1", "directory_name": "Example Okta",
        "identity_provider": "okta", "label": "", "expires_at": "2026-12-06T00:00:00Z", "days_left": 6,
        "steps": ["Open Okta.", "Regenerate the key.", "Paste it."],
        "docs_url": "https://support.atlassian.com/provisioning-users/docs/manage-scim-api-key-expiration/",
        "action_url": f"https://admin.atlassian.com/o/{org_id}/", "dismissible": severity != "expired", **fields,
    }


@pytest.fixture
def page_with_renderer(page):
    """A page where the file ran as the extension runs it: without document.currentScript."""
    page.route("https://intranet.example/", lambda route: route.fulfill(
        content_type="text/html", body="<!doctype html><html><body><main>Page content</main></body></html>"))
    page.goto("https://intranet.example/")
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.evaluate(WIDGET_SOURCE)
    return page


def render(page, banners, options="{dismissals: window.dismissed}"):
    page.evaluate("() => { window.dismissed = window.dismissed || new Set(); }")
    return page.evaluate(f"banners => !!ScimwatchBanner.render(banners, {options})", banners)


def sections(page):
    return page.locator("#scimwatch-banner section")


def test_without_a_script_tag_it_defines_the_renderer_and_fetches_nothing(page_with_renderer):
    page = page_with_renderer
    page.evaluate("window.first = ScimwatchBanner")
    page.evaluate(WIDGET_SOURCE)

    assert page.evaluate("Object.keys(ScimwatchBanner).sort()") == ["clear", "forOrg", "render"]
    assert page.evaluate("ScimwatchBanner === window.first")
    page.wait_for_timeout(200)
    assert page.requests == []
    expect(page.locator("#scimwatch-banner")).to_have_count(0)


def test_render_reuses_one_host_as_first_or_last_element_of_body(page_with_renderer):
    page = page_with_renderer
    assert render(page, [banner("critical"), banner("info")])
    assert render(page, [banner("critical"), banner("info")])

    expect(page.locator("#scimwatch-banner")).to_have_count(1)
    expect(sections(page)).to_have_count(2)
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"
    assert page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.mode") == "open"

    assert render(page, [banner("info")], "{position: 'bottom', dismissals: new Set()}")
    assert page.evaluate("document.body.lastElementChild.id") == "scimwatch-banner"
    expect(sections(page)).to_have_count(1)


def test_dismissing_the_last_banner_removes_the_host_and_tells_the_store(page_with_renderer):
    page = page_with_renderer
    render(page, [banner("warning"), banner("info")])

    sections(page).first.get_by_role("button", name="Dismiss: SCIM API key warning").click()
    expect(sections(page)).to_have_count(1)
    sections(page).get_by_role("button", name="Dismiss: SCIM API key info").click()

    expect(page.locator("#scimwatch-banner")).to_have_count(0)
    assert page.evaluate("[...window.dismissed]") == [banner("warning")["id"], banner("info")["id"]]
    assert render(page, [banner("warning"), banner("info")]) is False


def test_default_dismissals_use_local_storage_and_survive_it_throwing(page_with_renderer):
    page = page_with_renderer
    page.evaluate("b => ScimwatchBanner.render(b)", [banner("warning")])
    sections(page).get_by_role("button").click()
    assert banner("warning")["id"] in page.evaluate("localStorage.getItem('scimwatch:dismissed')")

    page.evaluate("""() => {
        Storage.prototype.getItem = Storage.prototype.setItem = () => { throw new Error('denied'); };
    }""")
    assert page.evaluate("b => !!ScimwatchBanner.render(b)", [banner("info")])
    sections(page).get_by_role("button").click()
    expect(page.locator("#scimwatch-banner")).to_have_count(0)


def test_links_are_shown_only_for_http_and_https(page_with_renderer):
    page = page_with_renderer
    render(page, [banner("critical", docs_url="javascript:window.__pwned=1", action_url="data:text/html,x")])
    expect(sections(page).get_by_role("link")).to_have_count(0)

    render(page, [banner("critical", docs_url="http://docs.example/rotate")])
    expect(sections(page).get_by_role("link", name="Atlassian docs")).to_have_attribute(
        "href", "http://docs.example/rotate")


def test_malformed_input_renders_what_it_can_and_never_throws(page_with_renderer):
    page = page_with_renderer
    assert page.evaluate("ScimwatchBanner.render('nonsense')") is None
    assert render(page, [None, "text", 42, {"title": "Bare", "severity": "unknown"}])
    expect(sections(page)).to_have_count(1)
    expect(sections(page)).to_have_attribute("role", "status")
    expect(sections(page)).to_contain_text("Bare")
    assert render(page, []) is False
    expect(page.locator("#scimwatch-banner")).to_have_count(0)


def test_clear_removes_the_banner(page_with_renderer):
    page = page_with_renderer
    render(page, [banner("critical")])
    page.evaluate("ScimwatchBanner.clear()")
    expect(page.locator("#scimwatch-banner")).to_have_count(0)


def test_for_org_picks_one_orgs_banners_and_tolerates_bad_payloads(page_with_renderer):
    page = page_with_renderer
    payload = {"banners": [banner("critical", "org-1"), banner("warning", "org-2"), banner("info", "org-1")]}
    pick = "([p, org]) => ScimwatchBanner.forOrg(p, org).map(b => b.severity)"

    assert page.evaluate(pick, [payload, "org-1"]) == ["critical", "info"]
    assert page.evaluate(pick, [payload, None]) == ["critical", "warning", "info"]
    for bad in (None, "x", {}, {"banners": "x"}):
        assert page.evaluate(pick, [bad, "org-1"]) == []


def test_hostile_page_css_does_not_hide_or_restyle_the_banner(page_with_renderer):
    page = page_with_renderer
    page.add_style_tag(content=HOSTILE_CSS)
    render(page, [banner("critical")])

    expect(sections(page)).to_be_visible()
    expect(sections(page).get_by_role("button")).to_be_visible()
    expect(sections(page).get_by_role("link", name="Atlassian docs")).to_be_visible()
    font_size = page.evaluate(
        "getComputedStyle(document.getElementById('scimwatch-banner').shadowRoot.querySelector('h2')).fontSize")
    assert font_size == "15px"


def test_the_stack_fits_a_360px_phone_screen(page_with_renderer):
    page = page_with_renderer
    page.set_viewport_size({"width": 360, "height": 740})
    long_name = "A very long organisation name without breaks " + "x" * 120
    render(page, [banner("expired", message=long_name), banner("critical"), banner("warning"), banner("info")])

    expect(sections(page)).to_have_count(4)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for button in sections(page).get_by_role("button").all():
        box = button.bounding_box()
        assert box["x"] + box["width"] <= 360
