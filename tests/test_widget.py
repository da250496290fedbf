"""The banner widget in headless chromium, embedded in intranet pages, against the real server."""
from __future__ import annotations

import gzip
import os
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ADMIN_TOKEN, HtmlPages, LiveServer
from playwright.sync_api import expect
from standins import INTRANET

from server import create_app

WIDGET = Path(__file__).resolve().parent.parent / "widget" / "scim-banner.js"
# 5.5 KB, raised from 4 KB with the compact bar: widget/README.md says why.
SIZE_BUDGET = 5632
XSS = '<img src=x onerror="window.__pwned=1">'
# Hours from now to each severity's expiry, inside its band of DESIGN §5.
EXPIRES_IN_HOURS = {"expired": -78, "critical": 51, "warning": 8 * 24 + 3, "info": 25 * 24 + 3}
REVIEW_KEYS = {"expired": ("Contractors (Entra ID)", "entra"), "critical": ("Okta production", "okta"),
               "warning": ("Google Workspace", "google"), "info": ("OneLogin EU", "onelogin")}
# DESIGN §8b: the collapsed bar's height at most, by viewport width.
HEIGHT_LIMITS = {1280: 56, 1440: 56, 375: 96}


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


@pytest.fixture(scope="module")
def shots():
    """Where screenshots go: $SCIMWATCH_SHOTS, or a temporary folder."""
    folder = Path(os.environ.get("SCIMWATCH_SHOTS") or f"/tmp/scimwatch-shots-{os.getpid()}") / "widget"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def expiry(severity: str) -> str:
    moment = datetime.now(UTC) + timedelta(hours=EXPIRES_IN_HOURS[severity])
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_key(server, org, severity, **fields):
    name, provider = REVIEW_KEYS[severity]
    fields = {"org_name": "Acme Corporation", "directory_name": name, "identity_provider": provider, **fields}
    return server.add_key(org_id=org, expires_at=expiry(severity), **fields)


def payload(server, org, min_severity="warning"):
    response = server.api("GET", f"/api/v1/banners?org_id={org}&min_severity={min_severity}", token=server.read_token)
    assert response.status_code == 200
    return response.json()


def embed(server, org, token=None, attributes="", copies=1, page=INTRANET):
    """An intranet page embedding the widget with the documented script tag."""
    tag = (f'<script src="{server.url}/widget/scim-banner.js" data-org="{org}" '
           f'data-token="{token or server.read_token}" {attributes} async></script>')
    return page.replace("</head>", tag * copies + "</head>")


def host(page):
    return page.locator("#scimwatch-banner")


def bar(page):
    return host(page).locator(".bar")


def items(page):
    return host(page).locator("#scimwatch-keys > li")


def review(page):
    return host(page).get_by_role("button", name="Review")


def test_the_bar_summarises_the_keys_from_warning_up_most_urgent_first(server, host_pages, org, page, console):
    for severity in ("info", "expired", "warning", "critical"):
        add_key(server, org, severity)
    expected = payload(server, org)
    assert [b["severity"] for b in expected["banners"]] == ["expired", "critical", "warning"]

    page.goto(host_pages.url(embed(server, org)))

    expect(bar(page).locator("p")).to_have_text("Expired" + expected["summary"]["text"])
    expect(bar(page).locator("p")).to_have_attribute("role", "alert")
    expect(review(page)).to_have_text("Review 3 keys")
    review(page).click()
    expect(items(page).locator("h2")).to_have_text(
        [b["severity"].capitalize() + b["title"] for b in expected["banners"]])
    assert console["errors"] == []


@pytest.mark.parametrize("minimum, count", [("info", 4), ("critical", 2), ("expired", 1), ("bogus", 3)])
def test_data_min_severity_chooses_what_the_bar_counts(server, host_pages, org, page, minimum, count):
    for severity in ("info", "expired", "warning", "critical"):
        add_key(server, org, severity)
    page.goto(host_pages.url(embed(server, org, attributes=f'data-min-severity="{minimum}"')))
    expect(review(page)).to_have_text(f"Review {count} key" + ("s" if count > 1 else ""))


def test_only_info_keys_show_no_bar_by_default(server, host_pages, org, page, console):
    add_key(server, org, "info")
    with page.expect_response(re.compile(r"/api/v1/banners")):
        page.goto(host_pages.url(embed(server, org)))
    page.wait_for_timeout(300)
    expect(host(page)).to_have_count(0)
    assert console["warnings"] == []


def test_server_strings_stay_inert_text(server, host_pages, org, page, console):
    add_key(server, org, "critical", org_name=XSS, directory_name=XSS, label=XSS, notes=XSS)
    page.goto(host_pages.url(embed(server, org)))

    expect(bar(page)).to_contain_text(XSS)
    review(page).click()
    expect(items(page)).to_contain_text(XSS)
    items(page).locator("summary").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.querySelector('img')") is None
    assert console["errors"] == []


def test_dismissing_a_warning_bar_with_the_keyboard_lasts_until_the_summary_changes(server, host_pages, org, page):
    add_key(server, org, "warning")
    url = host_pages.url(embed(server, org))
    page.goto(url)
    expect(bar(page)).to_be_visible()

    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.activeElement.ariaLabel")
    assert focused == "Dismiss until something changes: 1 Atlassian key needs rotating (Google Workspace)"
    page.keyboard.press("Enter")
    expect(host(page)).to_have_count(0)

    with page.expect_response(re.compile(r"/api/v1/banners")):
        page.reload()
    page.wait_for_timeout(300)
    expect(host(page)).to_have_count(0)

    add_key(server, org, "warning", directory_name="Okta sandbox")
    page.goto(url)
    expect(review(page)).to_have_text("Review 2 keys")


class ClockedServer:
    """The real app in this process with its clock in the test's hand, reached by the page at https://scimwatch.test."""

    def __init__(self, data_dir, page, now):
        self.now = now
        self.app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: self.now,
                               "BANNER_ORIGINS": "https://intranet.example"})
        self.client = self.app.test_client()
        page.route("https://scimwatch.test/**", self.forward)

    def forward(self, route):
        request, url = route.request, urlsplit(route.request.url)
        answer = self.client.open(url.path + (f"?{url.query}" if url.query else ""), method=request.method,
                                  headers=request.headers)
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.get_data())

    def add_key(self, **fields):
        response = self.client.post("/api/v1/keys", json=fields, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 201, response.get_json()

    def close(self):
        self.app.extensions["scimwatch"].close()


def test_a_dismissal_lasts_across_the_days_of_a_warning_and_ends_when_it_turns_critical(data_dir, page):
    start = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    scimwatch = ClockedServer(data_dir, page, start)
    scimwatch.add_key(org_id="acme", directory_name="Okta production", expires_at="2026-12-07T18:00:00Z")
    script = ('<script src="https://scimwatch.test/widget/scim-banner.js" data-org="acme" '
              'data-token="' + ADMIN_TOKEN + '"></script>')
    page.route("https://intranet.example/", lambda route: route.fulfill(
        content_type="text/html", body=INTRANET.replace("</head>", script + "</head>")))

    def visit(now):
        scimwatch.now = now
        with page.expect_response(re.compile(r"/api/v1/banners\?")):
            page.goto("https://intranet.example/")
        page.wait_for_timeout(200)

    visit(start)  # 5 days 12 hours left: warning
    expect(bar(page)).to_contain_text("Okta production expires in 5 days (Mon 7 Dec)")
    host(page).get_by_role("button", name=re.compile("^Dismiss")).click()
    visit(start + timedelta(days=1, hours=17))  # 3 days 19 hours left: the same warning, still dismissed
    expect(host(page)).to_have_count(0)
    visit(start + timedelta(days=2, hours=13))  # 2 days 23 hours left: critical, and not dismissible
    expect(bar(page)).to_contain_text("CriticalOkta production expires in 2 days (Mon 7 Dec)")
    expect(host(page).get_by_role("button", name=re.compile("^Dismiss"))).to_have_count(0)
    visit(start + timedelta(days=4, hours=13))  # 23 hours left
    expect(bar(page)).to_contain_text("Okta production expires today (Mon 7 Dec)")
    scimwatch.close()


def test_a_critical_or_expired_bar_cannot_be_dismissed_even_if_its_id_was(server, host_pages, org, page):
    add_key(server, org, "expired")
    add_key(server, org, "warning")
    url = host_pages.url(embed(server, org))
    page.goto(url)
    page.evaluate("id => localStorage.setItem('scimwatch-banner', JSON.stringify([id]))",
                  payload(server, org)["summary"]["id"])
    page.reload()

    expect(bar(page)).to_contain_text("Expired")
    expect(host(page).get_by_role("button")).to_have_text(["Review 2 keys"])


def test_a_refresh_with_the_same_payload_announces_nothing_and_a_page_alerts_once(server, host_pages, org, page):
    add_key(server, org, "critical")
    page.clock.install()
    page.goto(host_pages.url(embed(server, org)))
    expect(bar(page).locator("p")).to_have_attribute("role", "alert")
    find = "document.getElementById('scimwatch-banner').shadowRoot.querySelector('[role=alert]')"
    page.evaluate(f"window.firstAlert = {find}")

    with page.expect_response(re.compile(r"/api/v1/banners")):
        page.clock.run_for("05:01")
    page.wait_for_timeout(300)
    assert page.evaluate(f"window.firstAlert === {find}")

    add_key(server, org, "expired")
    with page.expect_response(re.compile(r"/api/v1/banners")):
        page.clock.run_for("05:01")
    expect(bar(page)).to_contain_text("Expired")
    expect(bar(page).locator("p")).to_have_attribute("role", "status")
    expect(host(page).locator("[role=alert]")).to_have_count(0)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def malformed_json(page):
    page.route("**/api/v1/banners*", lambda route: route.fulfill(
        status=200, body="{not json", content_type="application/json",
        headers={"Access-Control-Allow-Origin": "*"}))


FAILURES = {
    "server down": "cannot reach http://127.0.0.1:{port}",
    "rejected token": "the server refused the token (HTTP 401)",
    "origin not allowed": "the server does not allow this page's origin (SCIMWATCH_BANNER_ORIGINS)",
    "malformed JSON": "unexpected answer from the server (HTTP 200)",
}


def failing_page(case, server, host_pages, org, page, attributes=""):
    """Opens a page whose banner request fails in the given way; returns the cause the widget should name."""
    add_key(server, org, "critical")
    token, hostname, port = None, "127.0.0.1", unused_port()
    if case == "server down":
        attributes += f' data-server="http://127.0.0.1:{port}"'
    elif case == "rejected token":
        token = "not-a-token"
    elif case == "origin not allowed":
        hostname = "localhost"
    elif case == "malformed JSON":
        malformed_json(page)
    with page.expect_console_message(lambda m: m.type == "warning"):
        page.goto(host_pages.url(embed(server, org, token=token, attributes=attributes), hostname=hostname))
    return FAILURES[case].format(port=port)


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_a_failure_shows_nothing_by_default_and_warns_once(case, server, host_pages, org, page, console):
    cause = failing_page(case, server, host_pages, org, page)
    page.wait_for_timeout(300)

    expect(host(page)).to_have_count(0)
    assert [w for w in console["warnings"] if w.startswith("scimwatch")] == [f"scimwatch: {cause}"]
    assert console["errors"] == []


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_with_data_show_errors_a_failure_shows_its_cause(case, server, host_pages, org, page, console):
    cause = failing_page(case, server, host_pages, org, page, 'data-show-errors="true"')

    expect(bar(page).locator("p")).to_have_text(f"scimwatchSCIM key warnings could not load: {cause}.")
    expect(host(page).locator("[role=alert]")).to_have_count(0)
    assert console["errors"] == []


def test_loading_the_script_twice_shows_one_bar(server, host_pages, org, page):
    add_key(server, org, "critical")
    add_key(server, org, "warning")
    page.goto(host_pages.url(embed(server, org, copies=2)))

    expect(review(page)).to_have_text("Review 2 keys")
    page.wait_for_timeout(300)
    expect(host(page)).to_have_count(1)
    expect(bar(page)).to_have_count(1)


def test_position_bottom_puts_the_bar_after_the_page_content(server, host_pages, org, page):
    add_key(server, org, "warning")
    page.goto(host_pages.url(embed(server, org, attributes='data-position="bottom"')))

    expect(bar(page)).to_be_visible()
    assert page.evaluate("document.body.lastElementChild.id") == "scimwatch-banner"


@pytest.mark.parametrize("theme, scheme, fill", [
    ("dark", "light", "rgb(66, 34, 31)"), ("light", "dark", "rgb(255, 236, 235)"), ("auto", "dark", "rgb(66, 34, 31)")])
def test_data_theme_overrides_the_readers_colour_scheme(server, host_pages, org, browser, theme, scheme, fill):
    add_key(server, org, "critical")
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(host_pages.url(embed(server, org, attributes=f'data-theme="{theme}"')))
    expect(bar(page)).to_have_css("background-color", fill)
    context.close()


def four_keys(server, org):
    for severity in ("expired", "critical", "warning", "info"):
        add_key(server, org, severity)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375, 1440])
def test_the_collapsed_bar_is_compact_at_every_width(server, host_pages, org, browser, shots, width, scheme):
    four_keys(server, org)
    context = browser.new_context(viewport={"width": width, "height": 740 if width == 375 else 800},
                                  color_scheme=scheme)
    page = context.new_page()
    page.goto(host_pages.url(embed(server, org, attributes='data-min-severity="info"')))
    expect(review(page)).to_have_text("Review 4 keys")

    height = host(page).bounding_box()["height"]
    page.screenshot(path=shots / f"intranet-{width}-{scheme}.png")
    with (shots / "heights.txt").open("a") as log:
        log.write(f"widget intranet {width} {scheme}: {height:g} px\n")
    assert height <= HEIGHT_LIMITS[width]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    review(page).click()
    items(page).first.locator("summary").click()
    page.screenshot(path=shots / f"intranet-{width}-{scheme}-open.png")
    context.close()


def test_widget_fits_the_size_budget():
    assert len(gzip.compress(WIDGET.read_bytes(), 9)) <= SIZE_BUDGET
