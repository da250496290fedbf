"""The browser extension, loaded unpacked in headless chromium, against the real server."""
from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from conftest import HtmlPages
from extension_helpers import ADMIN, ExtensionBrowser, banner_texts, banner_titles, build_extension, manifest

ORG_A = "org-a"
ORG_B = "org-b"
BADGE_RED = [201, 55, 44, 255]  # critical
BADGE_BLUE = [0, 85, 204, 255]  # info
BADGE_DARK_RED = [93, 31, 26, 255]  # expired


@pytest.fixture(scope="module")
def extension_dir(tmp_path_factory):
    """The unpacked extension, built as `package.py build` builds it."""
    return build_extension(tmp_path_factory.mktemp("extension") / "unpacked")


@pytest.fixture
def chromium(playwright_instance, extension_dir, tmp_path):
    """A fresh chromium profile with the extension loaded."""
    browser = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile")
    yield browser
    browser.close()


def expires_in(days: int) -> str:
    """Return an expiry time that leaves `days` whole days (plus half a day)."""
    moment = datetime.now(UTC) + timedelta(days=days, hours=12)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_key(server, org_id: str, days: int, directory: str) -> dict:
    return server.add_key(org_id=org_id, org_name=f"Org {org_id[-1].upper()}", directory_name=directory,
                          identity_provider="okta", expires_at=expires_in(days))


@pytest.fixture
def server(live_server):
    """A live server holding a warning for org A and a critical key for org B."""
    add_key(live_server, ORG_A, 6, "Okta A")
    add_key(live_server, ORG_B, 2, "Okta B")
    return live_server


@pytest.fixture
def connected(chromium, server):
    """The extension connected to `server` through its options page."""
    assert chromium.connect(server.url, server.read_token).startswith("Saved.")
    return chromium


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def plain_site():
    """A web server on loopback that is not scimwatch: every path is an HTML page."""
    site = HtmlPages(fallback="<!doctype html><title>Intranet</title><p>Hello")
    yield site.origin
    site.stop()


def banner_hosts(page) -> int:
    return page.locator("#scimwatch-banner").count()


def wait_for_titles(page, expected: list[str]):
    page.wait_for_function("(n) => [...document.querySelectorAll('#scimwatch-banner')].flatMap("
                           "(h) => [...h.shadowRoot.querySelectorAll('section')]).length === n", arg=len(expected))
    assert banner_titles(page) == expected


WARNING_A = "Okta A: SCIM API key expires in 6 days"
CRITICAL_B = "Okta B: SCIM API key expires in 2 days"


def test_the_options_page_saves_a_working_server_and_token(chromium, server):
    status = chromium.connect(server.url + "/", server.read_token)

    assert status == f"Saved. Connected to {server.url}: 2 keys due."
    assert chromium.storage("sync")["scimwatch:options"] == {"server": server.url, "token": server.read_token}
    page = chromium.open(chromium.url("options.html"))
    page.wait_for_function("document.querySelector('#server-url').value !== ''")
    assert page.input_value("#server-url") == server.url
    assert page.input_value("#token") == server.read_token


@pytest.mark.parametrize("case, expected", [
    ("unreachable", "Cannot reach http://127.0.0.1:{port}: check the address and that the server is running."),
    ("bad token", "{url} refused the token (HTTP 401): paste a scimwatch read or admin token."),
    ("not scimwatch", "{plain} answers, but not as a scimwatch server: its banner API does not allow this extension."),
    ("not an address", "Enter the server's full address, for example https://scimwatch.example.com."),
])
def test_the_options_page_says_plainly_what_is_wrong_and_saves_nothing(case, expected, chromium, live_server,
                                                                      plain_site):
    port = unused_port()
    server_url, token = {
        "unreachable": (f"http://127.0.0.1:{port}", live_server.read_token),
        "bad token": (live_server.url, "not-a-token"),
        "not scimwatch": (plain_site, "any-token"),
        "not an address": ("scimwatch.example.com", live_server.read_token),
    }[case]

    status = chromium.connect(server_url, token)

    assert status == expected.format(port=port, url=live_server.url, plain=plain_site) + " Nothing was saved."
    assert chromium.storage("sync") == {}


def test_an_org_page_shows_only_that_orgs_banners_and_a_page_without_org_shows_all(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])
    [text] = banner_texts(page)
    assert "Okta A" in text and "Org A" in text
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"

    everything = connected.open(f"{ADMIN}/")
    wait_for_titles(everything, [CRITICAL_B, WARNING_A])
    assert connected.page_errors == []


def test_in_page_navigation_shows_the_new_orgs_banners_without_duplicates(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])

    page.click("#to-org-b")
    wait_for_titles(page, [CRITICAL_B])
    page.click("#to-no-org")
    wait_for_titles(page, [CRITICAL_B, WARNING_A])
    page.go_back()
    wait_for_titles(page, [CRITICAL_B])
    # A pushState that changes nothing in the page.
    page.evaluate(f"history.pushState({{}}, '', '/o/{ORG_A}/users')")
    wait_for_titles(page, [WARNING_A])
    assert banner_hosts(page) == 1
    assert connected.page_errors == []


def test_the_banner_comes_back_when_the_app_removes_it(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])

    page.click("#rerender")

    wait_for_titles(page, [CRITICAL_B])
    assert banner_hosts(page) == 1
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"


def test_a_refresh_that_brings_the_same_banners_leaves_the_alerts_alone(connected, server):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])
    find_alert = "document.getElementById('scimwatch-banner').shadowRoot.querySelector('[role=alert]')"
    page.evaluate(f"window.firstAlert = {find_alert}")
    fetched = connected.storage("local")
    connected.refresh()
    # The cache was rewritten (a new fetch time) but the alert is the same element: not announced again.
    assert connected.storage("local") != fetched
    assert page.evaluate(f"window.firstAlert === {find_alert}")
    add_key(server, ORG_B, 1, "Entra B")
    connected.refresh()
    wait_for_titles(page, ["Entra B: SCIM API key expires in 1 day", CRITICAL_B])
    assert page.evaluate(f"window.firstAlert !== {find_alert}")


def test_a_dismissed_banner_stays_dismissed_across_reloads_and_tabs(connected):
    page = connected.open(f"{ADMIN}/")
    wait_for_titles(page, [CRITICAL_B, WARNING_A])

    page.locator("#scimwatch-banner").get_by_role("button", name=f"Dismiss: {WARNING_A}").click()
    wait_for_titles(page, [CRITICAL_B])
    page.reload()
    wait_for_titles(page, [CRITICAL_B])
    other_tab = connected.open(f"{ADMIN}/")
    wait_for_titles(other_tab, [CRITICAL_B])
    # The admin.atlassian.com page's own storage never sees the dismissal.
    assert page.evaluate("localStorage.length") == 0


def test_the_badge_shows_the_most_urgent_days_left_coloured_by_severity(chromium, live_server):
    urgent = add_key(live_server, ORG_B, 2, "Okta B")
    add_key(live_server, ORG_A, 20, "Okta A")
    chromium.connect(live_server.url, live_server.read_token)
    assert chromium.badge() == {"text": "2d", "colour": BADGE_RED, "title": "scimwatch: " + CRITICAL_B}

    live_server.api("DELETE", f"/api/v1/keys/{urgent['id']}")
    chromium.refresh()
    assert chromium.badge() == {"text": "20d", "colour": BADGE_BLUE,
                                "title": "scimwatch: Okta A: SCIM API key expires in 20 days"}

    live_server.api("PATCH", "/api/v1/keys/" + live_server.api("GET", "/api/v1/keys").json()["keys"][0]["id"],
                    json={"expires_at": expires_in(200)})
    chromium.refresh()
    assert chromium.badge()["text"] == ""


def test_a_page_load_asks_the_worker_for_fresh_banners(connected, server):
    add_key(server, ORG_A, 1, "Entra A")

    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")

    wait_for_titles(page, ["Entra A: SCIM API key expires in 1 day", WARNING_A])


def test_the_worker_fetches_on_browser_start(playwright_instance, extension_dir, tmp_path, server):
    first = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile")
    first.connect(server.url, server.read_token)
    first.close()
    add_key(server, ORG_A, 0, "Entra A")

    again = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile")
    try:
        badge = again.wait_for_badge("0d")
    finally:
        again.close()
    assert badge == {"text": "0d", "colour": BADGE_RED, "title": "scimwatch: Entra A: SCIM API key expires today"}


def test_an_expired_key_marks_the_badge_and_cannot_be_dismissed(chromium, live_server):
    add_key(live_server, ORG_A, -2, "Okta A")
    chromium.connect(live_server.url, live_server.read_token)

    assert chromium.badge() == {"text": "!", "colour": BADGE_DARK_RED,
                                "title": "scimwatch: Okta A: SCIM API key expired 1 day ago"}
    page = chromium.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, ["Okta A: SCIM API key expired 1 day ago"])
    assert page.locator("#scimwatch-banner").get_by_role("button").count() == 0


def test_before_it_is_connected_the_popup_points_to_the_options(chromium):
    popup = chromium.open(chromium.url("popup.html"))

    popup.wait_for_selector("#scimwatch-status:not(:empty)")
    assert popup.text_content("#scimwatch-status") == "Not connected to a scimwatch server yet: open the options."
    assert popup.locator("#scimwatch-keys").is_hidden()
    assert chromium.badge()["text"] == ""


def test_the_worker_refreshes_on_an_alarm(connected):
    alarm = connected.in_worker("() => chrome.alarms.get('scimwatch:refresh')")
    assert alarm["periodInMinutes"] == 15


def test_the_popup_lists_every_key_due_with_days_left_severity_and_org_link(connected, server):
    popup = connected.open(connected.url("popup.html"))
    popup.wait_for_selector("#scimwatch-keys tbody tr")

    rows = popup.eval_on_selector_all("#scimwatch-keys tbody tr", """(rows) => rows.map((row) => ({
        cells: [...row.cells].map((cell) => cell.textContent),
        link: row.querySelector('a').href}))""")
    assert rows == [
        {"cells": ["Okta B", "Org B", "2", "critical"], "link": f"{ADMIN}/o/{ORG_B}/overview"},
        {"cells": ["Okta A", "Org A", "6", "warning"], "link": f"{ADMIN}/o/{ORG_A}/overview"},
    ]
    assert popup.text_content("#scimwatch-status").startswith("Updated ")


def test_with_the_server_down_the_last_good_banners_still_show(connected, server):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])

    server.stop()
    page.reload()
    connected.refresh()

    wait_for_titles(page, [CRITICAL_B])
    popup = connected.open(connected.url("popup.html"))
    popup.wait_for_selector("#scimwatch-status[data-state=error]")
    assert "Last refresh failed: Cannot reach" in popup.text_content("#scimwatch-status")
    assert popup.locator("#scimwatch-keys tbody tr").count() == 2
    assert connected.badge()["text"] == "2d"
    assert banner_titles(page) == [CRITICAL_B]
    assert connected.page_errors == []


def test_the_worker_reaches_the_server_through_its_cors_rule_without_a_host_permission(chromium, server):
    granted = chromium.in_worker("() => chrome.permissions.getAll()")
    assert sorted(granted["permissions"]) == ["alarms", "storage"]
    assert granted["origins"] == [f"{ADMIN}/*"]

    fetch = """async ([url, token]) => {
        try {
            const response = await fetch(url, {headers: {Authorization: 'Bearer ' + token}});
            return response.status;
        } catch (e) {
            return String(e);
        }
    }"""
    # The banner API allows extension origins, so the worker reads it.
    assert chromium.in_worker(fetch, [server.url + "/api/v1/banners", server.read_token]) == 200
    # The keys API does not, and with no host permission the worker cannot read it.
    assert chromium.in_worker(fetch, [server.url + "/api/v1/keys", server.admin_token]) == "TypeError: Failed to fetch"


def test_the_manifest_asks_for_the_fewest_permissions_and_loads_no_remote_code(extension_dir):
    loaded = manifest(extension_dir)
    assert loaded["permissions"] == ["storage", "alarms"]
    assert loaded["host_permissions"] == [f"{ADMIN}/*"]
    assert loaded["content_scripts"][0]["matches"] == [f"{ADMIN}/*"]
    assert "content_security_policy" not in loaded
    assert loaded["browser_specific_settings"]["gecko"]["id"]
    assert loaded["background"] == {"service_worker": "service-worker.js",
                                    "scripts": ["keys.js", "service-worker.js"]}
    for page in ("options.html", "popup.html"):
        assert "http" not in "".join(
            line for line in (extension_dir / page).read_text().splitlines() if "<script" in line)
