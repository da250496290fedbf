"""The banner widget in headless chromium, embedded in intranet pages, against the real server."""
from __future__ import annotations

import gzip
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import HtmlPages, LiveServer
from playwright.sync_api import expect

WIDGET = Path(__file__).resolve().parent.parent / "widget" / "scim-banner.js"
XSS = '<img src=x onerror="window.__pwned=1">'
LABELS = {"expired": "Expired", "critical": "Critical", "warning": "Warning", "info": "Info"}
ROLES = {"expired": "alert", "critical": "alert", "warning": "status", "info": "status"}
# Hours from now to each severity's expiry, well inside its band of DESIGN §5.
EXPIRES_IN_HOURS = {"expired": -30, "critical": 50, "warning": 10 * 24 + 5, "info": 20 * 24 + 5}


@pytest.fixture(scope="module")
def host_pages():
    pages = HtmlPages()
    yield pages
    pages.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, host_pages):
    """One real server for the module (live_server_factory is per test); it allows the host pages' origin."""
    live = LiveServer(tmp_path_factory.mktemp("widget"), {"SCIMWATCH_BANNER_ORIGINS": host_pages.origin})
    yield live
    live.stop()


@pytest.fixture
def org():
    """A fresh org id, so each test sees only the keys it adds."""
    return str(uuid.uuid4())


@pytest.fixture
def console(page):
    """Console warnings and uncaught page errors, as the host page's developer would see them."""
    seen = {"warnings": [], "errors": []}
    page.on("console", lambda m: m.type == "warning" and seen["warnings"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    return seen


def expiry(severity: str) -> str:
    moment = datetime.now(UTC) + timedelta(hours=EXPIRES_IN_HOURS[severity])
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_key(server, org, severity, **fields):
    fields = {"org_name": "Example Corp", "directory_name": "Okta directory", "identity_provider": "okta", **fields}
    return server.add_key(org_id=org, expires_at=expiry(severity), **fields)


def payload(server, org):
    response = server.api("GET", f"/api/v1/banners?org_id={org}", token=server.read_token)
    assert response.status_code == 200
    return response.json()["banners"]


def embed(server, org, token=None, attributes="", copies=1):
    """An intranet page embedding the widget with the documented script tag."""
    tag = (f'<script src="{server.url}/widget/scim-banner.js" data-org="{org}" '
           f'data-token="{token or server.read_token}" {attributes} async></script>')
    return f"<!doctype html><html><head>{tag * copies}</head><body><h1>Intranet</h1></body></html>"


def sections(page):
    return page.locator("#scimwatch-banner section")


def test_each_severity_shows_its_text_label_and_role_most_urgent_first(server, host_pages, org, page, console):
    for severity in ("info", "expired", "warning", "critical"):
        add_key(server, org, severity, directory_name=f"{severity} directory")
    expected = payload(server, org)
    assert [b["severity"] for b in expected] == ["expired", "critical", "warning", "info"]

    page.goto(host_pages.url(embed(server, org)))

    expect(sections(page)).to_have_count(4)
    for section, banner in zip(sections(page).all(), expected, strict=True):
        severity = banner["severity"]
        expect(section).to_be_visible()
        expect(section).to_have_attribute("role", ROLES[severity])
        expect(section).to_contain_text(LABELS[severity])
        expect(section.locator("h2")).to_have_text(banner["title"])
        expect(section).to_contain_text(banner["message"])
        expect(section).to_contain_text(banner["expires_at"].replace("T", " ").replace("Z", " UTC"))
        if severity != "expired":
            expect(section).to_contain_text(f"{banner['days_left']} days left")
        expect(section.get_by_role("link", name="Atlassian docs")).to_have_attribute("href", banner["docs_url"])
        expect(section.get_by_role("link", name="Open in admin.atlassian.com")).to_have_attribute(
            "href", banner["action_url"])
    assert console["errors"] == []


def test_rotation_steps_are_collapsed_until_opened(server, host_pages, org, page):
    add_key(server, org, "warning")
    first_step = payload(server, org)[0]["steps"][0]
    page.goto(host_pages.url(embed(server, org)))

    step = sections(page).locator("li").first
    expect(step).to_be_hidden()
    sections(page).locator("summary").click()
    expect(step).to_have_text(first_step)
    expect(step).to_be_visible()


def test_server_strings_stay_inert_text(server, host_pages, org, page, console):
    add_key(server, org, "critical", org_name=XSS, directory_name=XSS, label=XSS, notes=XSS)
    page.goto(host_pages.url(embed(server, org)))

    expect(sections(page)).to_have_count(1)
    expect(sections(page)).to_contain_text(XSS)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.querySelector('img')") is None
    assert console["errors"] == []


def test_dismissing_with_the_keyboard_hides_it_across_reloads(server, host_pages, org, page):
    add_key(server, org, "warning")
    page.goto(host_pages.url(embed(server, org)))
    expect(sections(page)).to_have_count(1)

    page.keyboard.press("Tab")
    focused = page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.activeElement.ariaLabel")
    assert focused.startswith("Dismiss")
    page.keyboard.press("Enter")
    expect(page.locator("#scimwatch-banner")).to_have_count(0)

    with page.expect_response(re.compile(r"/api/v1/banners")):
        page.reload()
    page.wait_for_timeout(300)
    expect(page.locator("#scimwatch-banner")).to_have_count(0)


def test_an_escalated_banner_shows_again_after_dismissal(server, host_pages, org, page):
    key = add_key(server, org, "warning")
    url = host_pages.url(embed(server, org))
    page.goto(url)
    sections(page).get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.locator("#scimwatch-banner")).to_have_count(0)

    response = server.api("PATCH", f"/api/v1/keys/{key['id']}", json={"expires_at": expiry("critical")})
    assert response.status_code == 200
    page.goto(url)

    expect(sections(page)).to_have_count(1)
    expect(sections(page)).to_contain_text("Critical")


def test_an_expired_banner_cannot_be_dismissed(server, host_pages, org, page):
    add_key(server, org, "expired")
    banner_id = payload(server, org)[0]["id"]
    url = host_pages.url(embed(server, org))
    page.goto(url)
    page.evaluate("id => localStorage.setItem('scimwatch:dismissed', JSON.stringify([id]))", banner_id)
    page.reload()

    expect(sections(page)).to_have_count(1)
    expect(sections(page)).to_contain_text("Expired")
    expect(sections(page).get_by_role("button")).to_have_count(0)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def malformed_json(page):
    page.route("**/api/v1/banners*", lambda route: route.fulfill(
        status=200, body="{not json", content_type="application/json",
        headers={"Access-Control-Allow-Origin": "*"}))


@pytest.mark.parametrize("case", ["server down", "rejected token", "malformed JSON", "no banners"])
def test_a_failure_shows_nothing_and_warns_once(case, server, host_pages, org, page, console):
    if case != "no banners":
        add_key(server, org, "critical")
    token, attributes = None, ""
    if case == "server down":
        attributes = f'data-server="http://127.0.0.1:{unused_port()}"'
    elif case == "rejected token":
        token = "not-a-token"
    elif case == "malformed JSON":
        malformed_json(page)

    with page.expect_console_message(lambda m: m.type == "warning"):
        page.goto(host_pages.url(embed(server, org, token=token, attributes=attributes)))
    page.wait_for_timeout(300)

    expect(page.locator("#scimwatch-banner")).to_have_count(0)
    assert len([w for w in console["warnings"] if w.startswith("scimwatch")]) == 1
    assert console["errors"] == []


def test_a_page_on_an_origin_the_server_does_not_allow_gets_no_banner(server, host_pages, org, page, console):
    add_key(server, org, "critical")
    html = embed(server, org)

    page.goto(host_pages.url(html, hostname="127.0.0.1"))
    expect(sections(page)).to_have_count(1)

    with page.expect_console_message(lambda m: m.type == "warning" and m.text.startswith("scimwatch")):
        page.goto(host_pages.url(html, hostname="localhost"))
    page.wait_for_timeout(300)
    expect(page.locator("#scimwatch-banner")).to_have_count(0)
    assert console["errors"] == []


def test_loading_the_script_twice_shows_one_banner(server, host_pages, org, page):
    add_key(server, org, "critical")
    add_key(server, org, "info")
    page.goto(host_pages.url(embed(server, org, copies=2)))

    expect(sections(page)).to_have_count(2)
    page.wait_for_timeout(300)
    expect(page.locator("#scimwatch-banner")).to_have_count(1)
    expect(sections(page)).to_have_count(2)


def test_position_bottom_puts_the_banner_after_the_page_content(server, host_pages, org, page):
    add_key(server, org, "info")
    page.goto(host_pages.url(embed(server, org, attributes='data-position="bottom"')))

    expect(sections(page)).to_have_count(1)
    assert page.evaluate("document.body.lastElementChild.id") == "scimwatch-banner"


def test_widget_fits_the_size_budget():
    assert len(gzip.compress(WIDGET.read_bytes(), 9)) <= 4096
