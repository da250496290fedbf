"""The admin web UI in headless chromium against a real `python -m server`: sign-in, forms, markup, layout.

Screenshots of every page at 1280 and 375 px go to $SCIMWATCH_UI_SHOTS when set (else a temp folder),
with their heights in heights.json, for a person to look at.
"""
from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import LiveServer
from playwright.sync_api import expect

XSS = ['<img src=x onerror="window.__pwned=1;alert(1)">', '"><script>window.__pwned=1;alert(1)</script>']
WIDTHS = {"1280": {"width": 1280, "height": 800}, "375": {"width": 375, "height": 812}}
# Screenshots as an admin in Berlin sees them: each UTC time with the local time beside it.
READER = {"timezone_id": "Europe/Berlin", "locale": "en-GB"}


def at(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


ACME = "3f2a9c1e-7b4d-4e8a-9c61-0d5e2f1a7b10"
LABS = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
FLEET = [
    {"org_id": ACME, "org_name": "Acme Corporation", "directory_name": "Contractors", "identity_provider": "entra",
     "expires_at": at(days=-3), "notify": ["it-ops@acme.example"]},
    {"org_id": ACME, "org_name": "Acme Corporation", "directory_name": "Okta production",
     "identity_provider": "okta", "expires_at": at(days=2, hours=3), "notify": ["it-ops@acme.example"],
     "notes": "Rotate in the Tuesday window.\nAsk Sam for Okta admin."},
    {"org_id": ACME, "org_name": "Acme Corporation", "directory_name": "Google Workspace",
     "identity_provider": "google", "expires_at": at(days=8, hours=3)},
    {"org_id": ACME, "org_name": "Acme Corporation", "directory_name": "OneLogin EU", "identity_provider": "onelogin",
     "expires_at": at(days=25, hours=3)},
    {"org_id": ACME, "org_name": "Acme Corporation", "directory_name": "JumpCloud", "identity_provider": "jumpcloud",
     "expires_at": at(days=200)},
    {"org_id": LABS, "org_name": "Acme Labs (sandbox)", "directory_name": "Okta sandbox", "identity_provider": "okta",
     "expires_at": at(days=12, hours=3)},
]


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SCIMWATCH_UI_SHOTS") or tmp_path_factory.mktemp("ui-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real server for the module, with a realistic fleet and the reminders for it already run."""
    live = LiveServer(tmp_path_factory.mktemp("ui"))
    live.keys = {fields["directory_name"]: live.add_key(**fields) for fields in FLEET}
    assert live.api("POST", "/api/v1/reminders/run").status_code == 200
    yield live
    live.stop()


class Watched:
    """A signed-in page whose console errors, page errors and dialogs are collected."""

    def __init__(self, browser, server, **options):
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.server = server

    def sign_in(self, token: str | None = None):
        page = self.page
        page.goto(self.server.url + "/ui/")
        expect(page).to_have_url(re.compile(r"/ui/login$"))
        page.fill("#token", token or self.server.admin_token)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/ui/$"))
        return self

    def forgive(self, status: int):
        """Drop the browser's own log line for an answer the test asked for (a 404 page, a refused form)."""
        self.problems = [p for p in self.problems if f"status of {status}" not in p]

    def assert_clean(self):
        """No console error, page error or dialog, and no payload ran."""
        assert self.problems == []
        assert self.dialogs == []
        assert self.page.evaluate("window.__pwned") is None

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, server):
    opened = []

    def open_page(**options) -> Watched:
        opened.append(Watched(browser, server, **options))
        return opened[-1]

    yield open_page
    for one in opened:
        one.close()


def key_id(server, name: str) -> str:
    return server.keys[name]["id"]


# Sign-in


def test_sign_in_by_keyboard_sets_an_httponly_lax_cookie_for_the_ui_only(watched, server):
    session = watched()
    page = session.page
    answer = page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/ui/login")
    headers = answer.all_headers()
    assert headers["content-security-policy"].startswith("default-src 'self'; frame-ancestors 'none'")
    expect(page.locator("#token")).to_be_focused()  # the only field, ready to paste into
    page.keyboard.type(server.admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keys", exact=True)).to_be_visible()
    cookies = session.context.cookies()
    assert [c["name"] for c in cookies] == ["scimwatch_ui"]
    cookie = cookies[0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/ui/"
    assert server.admin_token not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # out of reach of scripts
    session.assert_clean()


def test_a_wrong_token_shows_the_message_and_no_session(watched, server):
    session = watched()
    page = session.page
    page.goto(server.url + "/ui/login")
    page.fill("#token", "not-a-token")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button[type=submit]")
    assert posted.value.status == 401
    expect(page.locator("#token-error")).to_contain_text("That token is not valid")
    page.goto(server.url + "/ui/tokens")
    expect(page).to_have_url(server.url + "/ui/login?next=/ui/tokens")
    session.forgive(401)
    session.assert_clean()


def test_the_sign_in_throttle_answers_429_after_ten_failures(tmp_path, browser):
    live = LiveServer(tmp_path / "data")
    try:
        context = browser.new_context()
        page = context.new_page()
        statuses = []
        for attempt in range(11):
            page.goto(live.url + "/ui/login")
            page.fill("#token", f"wrong-{attempt}")
            with page.expect_response(lambda r: r.request.method == "POST") as posted:
                page.click("button[type=submit]")
            statuses.append(posted.value.status)
        assert statuses == [401] * 10 + [429]
        expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
        context.close()
    finally:
        live.stop()


# Every page: screenshots, console, layout


def visit_every_page(session: Watched, server, width: str, shots: Path, heights: dict):
    """Open each page (and each form's error state); screenshot it; check the layout fits the width."""
    page = session.page
    okta = key_id(server, "Okta production")

    def shot(name: str):
        page.wait_for_load_state("load")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} at {width} px is {overflow} px too wide"
        heights[f"{name}-{width}"] = page.evaluate("document.documentElement.scrollHeight")
        page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)

    for name, path in [("dashboard", "/ui/"), ("key", f"/ui/keys/{okta}"), ("edit", f"/ui/keys/{okta}/edit"),
                       ("delete-confirm", f"/ui/keys/{okta}/delete"), ("add", "/ui/keys/new"),
                       ("deliveries", "/ui/deliveries"), ("tokens", "/ui/tokens"), ("settings", "/ui/settings"),
                       ("not-found", "/ui/no-such-page")]:
        page.goto(server.url + path)
        shot(name)
    session.forgive(404)
    page.goto(server.url + "/ui/preview")
    expect(page.locator("#preview-status")).to_contain_text("due")
    shot("preview")
    page.goto(server.url + "/ui/keys/new")
    page.fill("#org_id", "not a uuid/")
    page.fill("#expires_at", "next friday")
    page.fill("#notify", "ops@example.com\nnot-an-address")
    page.get_by_role("button", name="Add the key", exact=True).click()
    expect(page.locator(".error-summary")).to_be_visible()
    session.forgive(400)
    shot("add-errors")
    page.goto(server.url + "/ui/tokens")
    page.select_option("#scope", "read")
    page.fill("#label", f"intranet widget ({width} px)")
    page.get_by_role("button", name="Make the token", exact=True).click()
    expect(page.locator("#new-token")).to_have_value(re.compile(r"^sw_"))
    shot("token-created")


def test_every_page_at_1280_and_375_px_fits_and_logs_no_error(watched, server, shots):
    heights: dict[str, int] = {}
    for width, viewport in WIDTHS.items():
        session = watched(viewport=viewport, **READER).sign_in()
        visit_every_page(session, server, width, shots, heights)
        session.assert_clean()
    login = watched(viewport=WIDTHS["375"], **READER)
    login.page.goto(server.url + "/ui/login")
    login.page.screenshot(path=shots / "login-375.png", full_page=True)
    login = watched(viewport=WIDTHS["1280"], **READER)
    login.page.goto(server.url + "/ui/login")
    login.page.screenshot(path=shots / "login-1280.png", full_page=True)
    (shots / "heights.json").write_text(json.dumps(heights, indent=1))
    print("page heights:", json.dumps(heights))


def test_every_input_has_a_label_and_the_forms_work_by_keyboard(watched, server):
    session = watched().sign_in()
    page = session.page
    for path in ("/ui/keys/new", f"/ui/keys/{key_id(server, 'JumpCloud')}", "/ui/deliveries", "/ui/tokens",
                 "/ui/settings", "/ui/preview"):
        page.goto(server.url + path)
        unlabelled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map((e) => e.name || e.id)""")
        assert unlabelled == [], path
    # Add a key with the keyboard alone: Tab between fields, Enter submits.
    page.goto(server.url + "/ui/keys/new")
    page.focus("#org_id")
    page.keyboard.type("5d0c4a61-2b7e-4f3a-9e18-6a2b9c0d1e2f")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard Org")
    page.keyboard.press("Tab")
    page.keyboard.type("Typed directory")
    page.focus("#expires_at")
    page.keyboard.type("2027-05-01")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Typed directory")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Added Typed directory.")
    session.assert_clean()


def test_local_time_is_shown_beside_utc_with_the_day_when_it_differs(watched, server):
    midnight = server.add_key(org_id=LABS, directory_name="Midnight", expires_at="2027-03-01")
    session = watched(timezone_id="America/New_York", locale="en-US").sign_in()
    page = session.page
    page.goto(server.url + f"/ui/keys/{midnight['id']}")
    local = page.locator('dd time[datetime="2027-03-01T00:00:00Z"] + .local')
    expect(page.locator('dd time[datetime="2027-03-01T00:00:00Z"]')).to_have_text("Mon 1 Mar 2027, 00:00 UTC")
    expect(local).to_have_text(re.compile(r"^ \(Sun, Feb 28, 07:00\sPM EST your time\)$"))
    page.goto(server.url + f"/ui/keys/{key_id(server, 'Okta production')}")
    expires = server.keys["Okta production"]["expires_at"]
    in_new_york = datetime.fromisoformat(expires.replace("Z", "+00:00")) - timedelta(hours=5)
    expect(page.locator(f'dd time[datetime="{expires}"] + .local')).to_contain_text(in_new_york.strftime("%I:%M"))
    session.assert_clean()
    server.api("DELETE", f"/api/v1/keys/{midnight['id']}")


def test_the_preview_is_drawn_by_the_widget_with_its_own_styles(watched, server):
    session = watched().sign_in()
    page = session.page
    page.goto(server.url + "/ui/preview")
    host = page.locator("#scimwatch-banner")
    expect(host).to_be_attached()
    # One compact bar; its list holds the keys within 30 days of both orgs, most urgent (expired) first.
    expect(host.locator(".bar")).to_have_count(1)
    expect(host.locator("#scimwatch-keys > li")).to_have_count(5)
    expect(host.locator(".bar p")).to_contain_text("Expired")
    # The shadow root's stylesheet applied under the page's policy, which has no 'unsafe-inline' (an adopted sheet).
    display = page.evaluate("getComputedStyle(document.querySelector('#scimwatch-banner').shadowRoot"
                            ".querySelector('#scimwatch-keys')).display")
    assert display == "none"  # the list starts folded, as the widget's own stylesheet says
    page.select_option("#preview-org", LABS)
    expect(host.locator("#scimwatch-keys > li")).to_have_count(1)
    session.assert_clean()


# Forms: success and error paths


def test_each_form_succeeds_and_fails_in_the_browser(watched, server):
    session = watched().sign_in()
    page = session.page
    # Add: an error keeps what was typed, then a fix saves it.
    page.goto(server.url + "/ui/keys/new")
    page.fill("#org_id", "bad id with spaces")
    page.fill("#directory_name", "Browser directory")
    page.fill("#expires_at", "2027-13-40")
    page.get_by_role("button", name="Add the key", exact=True).click()
    expect(page.locator("#org_id-error")).to_contain_text("must be non-empty and use only letters")
    expect(page.locator("#expires_at-error")).to_be_visible()
    expect(page.locator("#directory_name")).to_have_value("Browser directory")
    expect(page.locator(".error-summary")).to_be_focused()
    page.fill("#org_id", ACME)
    page.fill("#expires_at", at(days=5)[:10])
    page.get_by_role("button", name="Add the key", exact=True).click()
    expect(page.get_by_role("heading", name="Browser directory")).to_be_visible()
    key_path = page.url
    # Edit: an error, then a change.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.fill("#thresholds", "30, never")
    page.get_by_role("button", name="Save changes", exact=True).click()
    expect(page.locator("#thresholds-error")).to_contain_text("whole number of days")
    expect(page.locator("#thresholds")).to_have_value("30, never")
    page.fill("#thresholds", "10, 2")
    page.fill("#label", "edited in the browser")
    page.get_by_role("button", name="Save changes", exact=True).click()
    expect(page.locator("dl.fields")).to_contain_text("10, 2 days before expiry")
    # Rotate: a bad date, then a good one, then "now".
    page.fill("#rotate-expires_at", "tomorrow-ish")
    page.get_by_role("button", name="Record the new date", exact=True).click()
    expect(page.locator("#rotate-error")).to_contain_text("is not an RFC 3339 time")
    expect(page.locator("#rotate-expires_at")).to_have_value("tomorrow-ish")
    page.fill("#rotate-expires_at", at(days=300)[:10])
    page.get_by_role("button", name="Record the new date", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Recorded the rotation")
    page.get_by_role("button", name="I regenerated it now", exact=True).click()
    expect(page.locator(".history li")).to_have_count(2)
    # I'm on it: an empty name, then a name that the page shows as who is on it.
    page.get_by_role("button", name="I'm on it", exact=True).click()
    expect(page.locator("#acknowledge-error")).to_contain_text("must not be empty")
    page.fill("#acknowledge-by", "Alice")
    page.get_by_role("button", name="I'm on it", exact=True).click()
    expect(page.locator("#acknowledged")).to_have_text(re.compile(r"^Alice is on it since \d+ \w{3}\.$"))
    # Delete: the confirm page, then the record is gone.
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Delete Browser directory?")).to_be_visible()
    page.get_by_role("button", name="Delete the record", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Deleted Browser directory.")
    assert page.goto(key_path).status == 404
    session.forgive(404)
    # Deliveries: run a check, filter.
    page.goto(server.url + "/ui/deliveries")
    page.get_by_role("button", name="Run a check now", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Check done")
    page.select_option("#status", "sent")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(r"status=sent"))
    # Tokens: a bad label, a token shown once, its revocation.
    page.goto(server.url + "/ui/tokens")
    page.fill("#label", "x" * 201)
    page.get_by_role("button", name="Make the token", exact=True).click()
    expect(page.locator("#label-error")).to_contain_text("at most 200 characters")
    page.fill("#label", "browser token")
    page.get_by_role("button", name="Make the token", exact=True).click()
    token = page.locator("#new-token").input_value()
    assert server.api("GET", "/api/v1/banners", token=token).status_code == 200
    page.goto(server.url + "/ui/tokens")
    assert token not in page.content()
    page.get_by_role("button", name=re.compile(r"Revoke browser token")).click()
    expect(page.get_by_role("status").first).to_contain_text("Token revoked")
    assert server.api("GET", "/api/v1/banners", token=token).status_code == 401
    # Settings: a bad address, then a test email into the outbox.
    page.goto(server.url + "/ui/settings")
    page.fill("#address", "nobody at example")
    page.get_by_role("button", name="Send a test email", exact=True).click()
    expect(page.locator("#address-error")).to_contain_text("is not a valid email address")
    page.fill("#address", "ops@example.com")
    page.get_by_role("button", name="Send a test email", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Test email to ops@example.com")
    session.forgive(400)
    session.assert_clean()


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(watched, server):
    session = watched().sign_in()
    page = session.page
    before = server.api("GET", "/api/v1/keys").json()
    page.goto(server.url + "/ui/keys/new")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach((e) => e.remove())")
    page.fill("#org_id", ACME)
    page.fill("#expires_at", "2027-01-01")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Add the key", exact=True).click()
    assert posted.value.status == 400
    expect(page.locator("main")).to_contain_text("Nothing was changed")
    assert server.api("GET", "/api/v1/keys").json() == before
    session.forgive(400)
    session.assert_clean()


def test_markup_in_every_field_stays_text_on_every_page(watched, tmp_path, browser):
    live = LiveServer(tmp_path / "data")
    try:
        session = Watched(browser, live).sign_in()
        page = session.page
        for payload in XSS:
            # Through the UI's own form, every text field at once.
            page.goto(live.url + "/ui/keys/new")
            for name in ("org_name", "directory_name", "label", "notes"):
                page.fill(f"#{name}", payload)
            page.fill("#org_id", "acme")
            page.fill("#expires_at", at(days=2)[:10])
            page.fill("#notify", "ops@example.com")
            page.get_by_role("button", name="Add the key", exact=True).click()
            expect(page.locator("h1")).to_have_text(payload)
            key = page.url.rsplit("/", 1)[1]
            # Refused values come back into the form as typed, and stay text.
            page.goto(live.url + "/ui/keys/new")
            for name in ("org_id", "expires_at", "thresholds", "org_name"):
                page.fill(f"#{name}", payload)
            page.fill("#notify", payload)
            page.get_by_role("button", name="Add the key", exact=True).click()
            expect(page.locator("#org_id")).to_have_value(payload)
            page.goto(live.url + "/ui/tokens")
            page.fill("#label", payload)
            page.get_by_role("button", name="Make the token", exact=True).click()
            page.goto(live.url + "/ui/settings")
            page.fill("#address", payload)
            page.get_by_role("button", name="Send a test email", exact=True).click()
            expect(page.locator("#address")).to_have_value(payload)
            page.goto(live.url + f"/ui/keys/{key}")
            page.fill("#rotate-expires_at", payload)
            page.get_by_role("button", name="Record the new date", exact=True).click()
            expect(page.locator("#rotate-expires_at")).to_have_value(payload)
        live.api("POST", "/api/v1/reminders/run")
        for path in ("/ui/", f"/ui/keys/{key}", f"/ui/keys/{key}/edit", f"/ui/keys/{key}/delete", "/ui/deliveries",
                     "/ui/tokens", "/ui/settings", "/ui/preview", "/ui/keys/new", f"/ui/deliveries?key_id={XSS[1]}"):
            page.goto(live.url + path)
            page.wait_for_load_state("load")
            assert page.locator("script:not([src])").count() == 0, path
            assert page.locator("img").count() == 0, path
        session.forgive(400)
        session.assert_clean()
        session.close()
    finally:
        live.stop()
