"""The browser extension, loaded unpacked in headless chromium, against the real server."""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import HtmlPages
from extension_helpers import ADMIN, ExtensionBrowser, banner_titles, bar_text, build_extension, manifest
from playwright.sync_api import expect
from standins import ADMIN_OVERVIEW

from server.domain import palette

ORG_A = "org-a"
ORG_B = "org-b"
BADGE_RED = [201, 55, 44, 255]  # critical and expired: Atlassian's red
BADGE_ORANGE = [165, 72, 0, 255]  # warning
BADGE_BLUE = [12, 102, 228, 255]  # info
BADGE_GREY = [98, 111, 134, 255]  # not known


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


def wait_for_titles(page, expected: list[str], timeout: float = 10):
    """Waits until the bar lists exactly these keys (none: no bar)."""
    deadline = time.monotonic() + timeout
    while (titles := banner_titles(page)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert titles == expected


WARNING_A = "Okta A: SCIM API key expires in 6 days"
CRITICAL_B = "Okta B: SCIM API key expires in 2 days"
CONNECTED = ("Saved. Connected to {url}: 2 keys due. Open admin.atlassian.com to see the warnings."
             " This token only reads warnings: tracking keys from their directory pages needs a track token.")


def summary(server, org_id=None, min_severity="warning") -> dict:
    """The summary the server makes for what the bar on that page shows."""
    query = f"?min_severity={min_severity}" + (f"&org_id={org_id}" if org_id else "")
    return server.api("GET", "/api/v1/banners" + query, token="read").json()["summary"]


def bar(page):
    return page.locator("#scimwatch-banner .bar")


def test_installing_opens_the_options_which_say_where_a_token_comes_from(chromium):
    deadline = time.monotonic() + 10
    while not (opened := [p for p in chromium.context.pages if p.url == chromium.url("options.html")]):
        assert time.monotonic() < deadline, "the options page did not open on install"
        chromium.in_worker("() => new Promise((done) => setTimeout(done, 100))")  # lets Playwright see new tabs
    options = opened[0]
    options.wait_for_load_state()
    assert options.locator("#token-help").text_content() == "Where does a token come from?"
    assert "tokens create --scope track" in options.text_content("body")
    assert "--scope read" in options.text_content("body")  # warnings only
    assert "never synced" in options.text_content("body")


def test_the_options_page_saves_a_working_server_and_token_in_local_storage_only(chromium, server):
    status = chromium.connect(server.url + "/", server.read_token)

    assert status == CONNECTED.format(url=server.url)
    assert chromium.storage("local")["scimwatch:options"] == {"server": server.url, "token": server.read_token}
    assert chromium.storage("sync") == {}
    page = chromium.open(chromium.url("options.html"))
    page.wait_for_function("document.querySelector('#server-url').value !== ''")
    assert page.input_value("#server-url") == server.url
    assert page.input_value("#token") == server.read_token
    assert page.locator("#server-managed").is_hidden() and page.locator("#token").is_editable()


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
    assert "scimwatch:options" not in chromium.storage("local")
    assert chromium.storage("sync") == {}


def test_a_token_an_older_version_kept_in_sync_storage_moves_to_local_storage(playwright_instance, extension_dir,
                                                                               tmp_path, server):
    first = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile")
    first.in_worker("(options) => chrome.storage.sync.set({'scimwatch:options': options})",
                    {"server": server.url, "token": server.read_token})
    first.close()

    again = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile")
    try:
        badge = again.wait_for_badge("2")
        assert again.storage("local")["scimwatch:options"] == {"server": server.url, "token": server.read_token}
        assert again.storage("sync") == {}
    finally:
        again.close()
    assert badge["colour"] == BADGE_RED


def test_settings_from_enterprise_policy_win_and_the_options_say_so(chromium, server):
    # Enterprise policy cannot be installed in a test profile: the worker's managed storage answers as policy would.
    chromium.in_worker("""(policy) => {
        chrome.storage.managed.get = async () => policy;
        return globalThis.refresh();
    }""", {"server": server.url, "token": server.read_token})
    assert chromium.wait_for_badge("2")["colour"] == BADGE_RED

    page = chromium.open(chromium.url("options.html"))
    page.wait_for_function("document.querySelector('#server-url').value !== ''")
    assert page.input_value("#server-url") == server.url
    assert page.locator("#server-managed").is_visible() and page.locator("#token-managed").is_visible()
    assert page.text_content("#server-managed") == "Managed by your organisation"
    assert not page.locator("#server-url").is_editable() and not page.locator("#token").is_editable()
    assert page.locator("#save").is_disabled()
    assert "scimwatch:options" not in chromium.storage("local")


def test_an_org_page_shows_that_orgs_bar_and_a_page_without_org_every_orgs(connected, server):
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])
    assert bar_text(page) == "Warning" + summary(server, ORG_A)["text"]
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"

    everything = connected.open(f"{ADMIN}/")
    wait_for_titles(everything, [CRITICAL_B, WARNING_A])
    assert bar_text(everything) == "Critical" + summary(server)["text"]
    assert connected.page_errors == []


def test_the_bar_leaves_out_info_keys_which_the_popup_still_lists(connected, server):
    add_key(server, ORG_A, 20, "Entra A")
    connected.refresh()
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])
    popup = connected.open(connected.url("popup.html"))
    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(3)


def test_in_page_navigation_shows_the_new_orgs_bar_without_duplicates(connected):
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


def test_the_bar_comes_back_when_the_app_removes_it(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])

    page.click("#rerender")

    wait_for_titles(page, [CRITICAL_B])
    assert banner_hosts(page) == 1
    assert page.evaluate("document.body.firstElementChild.id") == "scimwatch-banner"


def test_a_refresh_that_brings_the_same_banners_leaves_the_alert_alone(connected, server):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])
    find_alert = "document.getElementById('scimwatch-banner').shadowRoot.querySelector('[role=alert]')"
    page.evaluate(f"window.firstAlert = {find_alert}")
    assert page.evaluate("window.firstAlert !== null")
    fetched = connected.storage("local")
    connected.refresh()
    # The cache was rewritten (a new fetch time) but the alert is the same element: not announced again.
    assert connected.storage("local") != fetched
    assert page.evaluate(f"window.firstAlert === {find_alert}")
    add_key(server, ORG_B, 1, "Entra B")
    connected.refresh()
    wait_for_titles(page, ["Entra B: SCIM API key expires in 1 day", CRITICAL_B])
    # One alert per page load: the new bar is polite.
    assert page.evaluate(f"{find_alert} === null")


def test_a_dismissed_warning_bar_stays_dismissed_across_reloads_and_tabs(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])

    page.locator("#scimwatch-banner").get_by_role(
        "button", name="Dismiss until something changes: 1 Atlassian key needs rotating (Okta A)").click()
    wait_for_titles(page, [])
    page.reload()
    page.wait_for_timeout(500)
    wait_for_titles(page, [])
    other_tab = connected.open(f"{ADMIN}/o/{ORG_A}/users")
    page.wait_for_timeout(500)
    wait_for_titles(other_tab, [])
    # The admin.atlassian.com page's own storage never sees the dismissal.
    assert page.evaluate("localStorage.length") == 0
    critical = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(critical, [CRITICAL_B])
    assert critical.locator("#scimwatch-banner").get_by_role("button", name="Dismiss").count() == 0


def test_the_bar_never_links_to_the_page_the_admin_is_on(connected):
    page = connected.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [WARNING_A])
    page.locator("#scimwatch-banner").get_by_role("button", name="Review").click()
    links = page.locator("#scimwatch-banner #scimwatch-keys a")
    assert links.all_text_contents() == ["Atlassian's instructions"]

    page.evaluate(f"history.pushState({{}}, '', '/o/{ORG_A}/users')")
    page.locator("#scimwatch-banner").get_by_role("link", name="Open Org A in Atlassian Administration").wait_for()
    overview = page.locator("#scimwatch-banner").get_by_role("link", name="Open Org A in Atlassian Administration")
    assert overview.get_attribute("href") == f"{ADMIN}/o/{ORG_A}/overview"
    assert overview.get_attribute("target") is None  # same site: the same tab


def test_the_badge_counts_the_keys_coloured_by_the_most_urgent_and_names_them(chromium, live_server):
    urgent = add_key(live_server, ORG_B, 2, "Okta B")
    add_key(live_server, ORG_A, 20, "Okta A")
    chromium.connect(live_server.url, live_server.read_token)
    assert chromium.badge() == {"text": "2", "colour": BADGE_RED, "title": "scimwatch: Critical · 2 Atlassian keys "
                                "need rotating\nOkta B: SCIM API key expires in 2 days\nOkta A: SCIM API key expires "
                                "in 20 days"}

    live_server.api("DELETE", f"/api/v1/keys/{urgent['id']}")
    chromium.refresh()
    assert chromium.badge() == {"text": "1", "colour": BADGE_BLUE, "title": "scimwatch: Info · 1 Atlassian key "
                                "needs rotating\nOkta A: SCIM API key expires in 20 days"}

    for days, name in ((8, "C"), (9, "D"), (10, "E")):
        add_key(live_server, ORG_A, days, name)
    chromium.refresh()
    badge = chromium.badge()
    assert (badge["text"], badge["colour"]) == ("4", BADGE_ORANGE)
    assert badge["title"].endswith("\nE: SCIM API key expires in 10 days\n+1 more")

    for key in live_server.api("GET", "/api/v1/keys").json()["keys"]:
        live_server.api("DELETE", f"/api/v1/keys/{key['id']}")
    chromium.refresh()
    assert chromium.badge() == {"text": "", "colour": BADGE_GREY, "title": "scimwatch: no SCIM API key is due"}


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
        badge = again.wait_for_badge("3")
    finally:
        again.close()
    assert badge["text"] == "3" and badge["colour"] == BADGE_RED
    assert "\nEntra A: SCIM API key expires today\n" in badge["title"]


def test_an_expired_key_turns_the_badge_red_and_its_bar_cannot_be_dismissed(chromium, live_server):
    add_key(live_server, ORG_A, -2, "Okta A")
    chromium.connect(live_server.url, live_server.read_token)

    assert chromium.badge() == {"text": "1", "colour": BADGE_RED, "title": "scimwatch: Expired · 1 Atlassian key "
                                "needs rotating\nOkta A: SCIM API key expired 1 day ago"}
    page = chromium.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, ["Okta A: SCIM API key expired 1 day ago"])
    assert bar_text(page) == "ExpiredSCIM provisioning has stopped for Okta A (expired 1 day ago)."
    assert page.locator("#scimwatch-banner").get_by_role("button").all_text_contents() == ["Review 1 key"]


def test_before_it_is_connected_the_popup_points_to_the_options(chromium):
    popup = chromium.open(chromium.url("popup.html"))

    popup.wait_for_selector("#scimwatch-status:not(:empty)")
    assert popup.text_content("#scimwatch-status") == "Not connected to a scimwatch server yet: open the options."
    assert popup.locator("#scimwatch-keys").is_hidden()
    assert chromium.badge()["text"] == ""


def test_the_worker_refreshes_on_an_alarm(connected):
    alarm = connected.in_worker("() => chrome.alarms.get('scimwatch:refresh')")
    assert alarm["periodInMinutes"] == 15


def popup_rows(popup) -> list[dict]:
    return popup.eval_on_selector_all("#scimwatch-keys tbody tr", """(rows) => rows.map((row) => ({
        cells: [...row.cells].map((cell) => [...cell.childNodes].map((n) => n.textContent)),
        link: row.querySelector('a').href}))""")


def test_the_popup_lists_every_key_with_when_in_words_the_date_and_a_link(connected, server):
    add_key(server, ORG_A, -4, "Entra A")
    popup = connected.open(connected.url("popup.html"))
    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(3)

    banners = {b["directory_name"]: b for b in server.api("GET", "/api/v1/banners", token="read").json()["banners"]}
    assert popup_rows(popup) == [
        {"cells": [["Entra A", "Org A"], ["Expired", "expired 3 days ago", banners["Entra A"]["expires_text"]]],
         "link": f"{ADMIN}/o/{ORG_A}/overview"},
        {"cells": [["Okta B", "Org B"], ["Critical", "expires in 2 days", banners["Okta B"]["expires_text"]]],
         "link": f"{ADMIN}/o/{ORG_B}/overview"},
        {"cells": [["Okta A", "Org A"], ["Warning", "expires in 6 days", banners["Okta A"]["expires_text"]]],
         "link": f"{ADMIN}/o/{ORG_A}/overview"},
    ]
    assert popup.text_content("#scimwatch-status") == ("Updated just now. Tracking keys from their directory pages"
                                                        " needs a track token: see the options.")
    assert popup.evaluate("document.documentElement.scrollWidth <= innerWidth")
    drawn = popup.eval_on_selector_all(".scimwatch-severity", "(labels) => labels.map((l) => getComputedStyle(l)"
                                       ".backgroundColor)")
    assert drawn == [rgb(palette.LIGHT[severity].fill) for severity in ("expired", "critical", "warning")]


def rgb(hex_colour: str) -> str:
    value = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


def test_names_stay_inert_text_in_the_bar_the_popup_and_the_badge(chromium, live_server):
    xss = '<img src=x onerror="window.__pwned=1">'
    live_server.add_key(org_id=ORG_A, org_name=xss, directory_name=xss, identity_provider="okta",
                        expires_at=expires_in(2))
    chromium.connect(live_server.url, live_server.read_token)
    page = chromium.open(f"{ADMIN}/o/{ORG_A}/overview")
    wait_for_titles(page, [f"{xss}: SCIM API key expires in 2 days"])
    page.locator("#scimwatch-banner").get_by_role("button", name="Review").click()
    popup = chromium.open(chromium.url("popup.html"))
    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(1)
    assert popup.locator("#scimwatch-keys tbody tr td").first.text_content() == xss + xss
    for view in (page, popup):
        assert view.evaluate("window.__pwned") is None
    assert page.evaluate("document.getElementById('scimwatch-banner').shadowRoot.querySelector('img')") is None
    assert popup.locator("img").count() == 0
    assert xss in chromium.badge()["title"]


def test_the_popup_refresh_button_fetches_now(connected, server):
    popup = connected.open(connected.url("popup.html"))
    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(2)
    add_key(server, ORG_A, 9, "Entra A")

    popup.click("#scimwatch-refresh")

    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(3)


def test_with_the_server_down_the_last_bar_still_shows_and_the_badge_says_why(connected, server):
    page = connected.open(f"{ADMIN}/o/{ORG_B}/overview")
    wait_for_titles(page, [CRITICAL_B])

    server.stop()
    page.reload()
    connected.refresh()

    wait_for_titles(page, [CRITICAL_B])
    badge = connected.badge()
    assert (badge["text"], badge["colour"]) == ("?", BADGE_GREY)
    assert badge["title"].startswith(f"scimwatch: Cannot reach {server.url}, or it does not answer as a scimwatch "
                                     "server.\nLast known: Critical · 2 Atlassian keys need rotating\n")
    popup = connected.open(connected.url("popup.html"))
    popup.wait_for_selector("#scimwatch-status[data-state=error]")
    assert popup.text_content("#scimwatch-status").startswith(f"? Cannot reach {server.url}")
    assert "Showing the last known keys." in popup.text_content("#scimwatch-status")
    assert popup.locator("#scimwatch-keys tbody tr").count() == 2
    assert connected.page_errors == []


def test_a_token_refused_later_shows_a_question_mark_and_the_cause(connected, server):
    token_id = server.api("GET", "/api/v1/tokens").json()["tokens"][0]["id"]
    assert server.api("DELETE", f"/api/v1/tokens/{token_id}").status_code == 204

    connected.refresh()

    badge = connected.badge()
    assert badge["text"] == "?"
    assert badge["title"].startswith(f"scimwatch: {server.url} refused the token (HTTP 401)")


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
    schema = json.loads((extension_dir / loaded["storage"]["managed_schema"]).read_text())
    assert schema["type"] == "object" and set(schema["properties"]) == {"server", "token"}
    for page in ("options.html", "popup.html"):
        assert "http" not in "".join(
            line for line in (extension_dir / page).read_text().splitlines() if "<script" in line)


@pytest.fixture(scope="module")
def shots():
    """Where screenshots go: $SCIMWATCH_SHOTS, or a temporary folder."""
    folder = Path(os.environ.get("SCIMWATCH_SHOTS") or f"/tmp/scimwatch-shots-{os.getpid()}") / "extension"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# DESIGN §8b: the collapsed bar's height at most, by window width.
HEIGHT_LIMITS = {1280: 56, 1440: 56, 375: 96}
DARK_CRITICAL_FILL = "rgb(66, 34, 31)"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375, 1440])
def test_on_the_admin_overview_the_bar_is_compact_at_every_width(playwright_instance, extension_dir, tmp_path,
                                                                 live_server, shots, width, scheme):
    org = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
    for days, name, provider in ((-4, "Contractors (Entra ID)", "entra"), (1, "Okta production", "okta"),
                                 (8, "Google Workspace", "google"), (25, "OneLogin EU", "onelogin")):
        live_server.add_key(org_id=org, org_name="Acme Corporation", directory_name=name, identity_provider=provider,
                            expires_at=expires_in(days))
    browser = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile", color_scheme=scheme,
                               viewport={"width": width, "height": 740 if width == 375 else 900})
    try:
        browser.context.route(f"{ADMIN}/o/**", lambda route: route.fulfill(content_type="text/html",
                                                                          body=ADMIN_OVERVIEW))
        browser.connect(live_server.url, live_server.read_token)
        page = browser.open(f"{ADMIN}/o/{org}/overview")
        wait_for_titles(page, ["Contractors (Entra ID): SCIM API key expired 3 days ago",
                               "Okta production: SCIM API key expires in 1 day",
                               "Google Workspace: SCIM API key expires in 8 days"])
        page.wait_for_timeout(300)
        height = page.locator("#scimwatch-banner").bounding_box()["height"]
        page.screenshot(path=shots / f"admin-{width}-{scheme}.png")
        with (shots / "heights.txt").open("a") as log:
            log.write(f"extension admin overview {width} {scheme}: {height:g} px\n")
        assert height <= HEIGHT_LIMITS[width]
        assert page.evaluate("document.querySelector('.top').getBoundingClientRect().top") == height
        if scheme == "dark":
            # Atlassian's own dark mode (html[data-color-mode=dark]) gets the dark palette.
            review_list = page.locator("#scimwatch-banner #scimwatch-keys > li").nth(1)
            assert review_list.evaluate("(li) => getComputedStyle(li.querySelector('b')).backgroundColor") == \
                DARK_CRITICAL_FILL
        page.locator("#scimwatch-banner").get_by_role("button", name="Review").click()
        page.screenshot(path=shots / f"admin-{width}-{scheme}-open.png")
        popup = browser.open(browser.url("popup.html"))
        popup.set_viewport_size({"width": 360, "height": 420})
        expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(4)
        popup.screenshot(path=shots / f"popup-{scheme}.png")
    finally:
        browser.close()
