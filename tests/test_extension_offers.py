"""The extension on a directory page: it reads the key's expiry and offers to track, record or correct it,
end to end through the real server, in chromium with the extension loaded."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from extension_helpers import (
    DIRECTORY_ORG,
    ExtensionBrowser,
    build_extension,
    click_offer,
    directory_url,
    offer,
    serve_admin_page,
    wait_for_offer,
)
from playwright.sync_api import expect

PUBLIC = "https://scimwatch.example.com"
OKTA_ID = "8d1c2e3f-4a5b-4c6d-9e7f-0a1b2c3d4e5f"
XSS = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def extension_dir(tmp_path_factory):
    return build_extension(tmp_path_factory.mktemp("extension") / "unpacked")


@pytest.fixture
def server(live_server_factory):
    """A live server whose emails and banners carry signed links under PUBLIC, with a track token."""
    server = live_server_factory(env={"SCIMWATCH_PUBLIC_URL": PUBLIC})
    made = server.api("POST", "/api/v1/tokens", json={"scope": "track", "label": "browser extension"})
    server.track_token = made.json()["token"]
    return server


@pytest.fixture
def chromium(playwright_instance, extension_dir, tmp_path, server):
    """The extension in a fresh en-US profile; PUBLIC is the server behind its public address."""
    browser = ExtensionBrowser(playwright_instance, extension_dir, tmp_path / "profile", locale="en-US")

    def forward(route):
        request = route.request
        answer = requests.request(request.method, request.url.replace(PUBLIC, server.url, 1),
                                  data=request.post_data_buffer, headers={
                                      name: value for name, value in request.headers.items()
                                      if name.lower() in ("content-type", "accept")},
                                  allow_redirects=False, timeout=10)
        route.fulfill(status=answer.status_code, body=answer.content,
                      headers={"Content-Type": answer.headers.get("Content-Type", "text/html")})

    browser.context.route(f"{PUBLIC}/**", forward)
    yield browser
    assert browser.page_errors == []
    browser.close()


def shown(day: date) -> str:
    """A day as the page and the offers write it for en-US: Mar 1, 2027."""
    return f"{day:%b} {day.day}, {day.year}"


def days_ahead(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def open_directory(chromium, expires: date | str | None, name: str = "Okta production", directory: str = "okta",
                   fixture: str = "directory-app.html", extra: dict | None = None):
    """Opens the app's directory page showing that name and expiry (None: no date); returns the page."""
    url = directory_url(directory)
    text = shown(expires) if isinstance(expires, date) else (expires or "")
    replace = {'"Okta production"': _json(name), '"Mar 1, 2027"': _json(text)} if fixture == "directory-app.html" \
        else {}
    serve_admin_page(chromium.context, url, fixture, {**replace, **(extra or {})})
    return chromium.open(url)


def _json(text: str) -> str:
    return json.dumps(text)


def keys(server) -> list[dict]:
    return server.api("GET", "/api/v1/keys").json()["keys"]


def already_tracked(server, expires_at: str) -> dict:
    """Adds the app page's directory to scimwatch through the API, as if typed in before."""
    return server.add_key(org_id=DIRECTORY_ORG, directory_id=OKTA_ID, directory_name="Okta production",
                          expires_at=expires_at)


def connect_tracking(chromium, server) -> str:
    status = chromium.connect(server.url, server.track_token)
    assert status.endswith("It can also track keys from their directory pages."), status
    return status


def test_a_new_admin_tracks_a_directory_then_records_its_rotation_without_typing_a_date(chromium, server):
    connect_tracking(chromium, server)
    soon, renewed = days_ahead(6), days_ahead(6 + 365)
    page = open_directory(chromium, soon, extra={'"wait": false': f'"wait": false, "next": {_json(shown(renewed))}'})

    assert wait_for_offer(page, "created") == {
        "state": "created", "text": "Not tracked",
        "buttons": [f"Track this key in scimwatch (expires {shown(soon)})", "\u00d7"]}
    assert keys(server) == []  # nothing is saved before the admin says so
    click_offer(page, f"Track this key in scimwatch (expires {shown(soon)})")
    confirm = wait_for_offer(page, "confirm")
    assert confirm["text"] == f"TrackSave “Okta production” to scimwatch, expiring {shown(soon)}?"
    assert keys(server) == []
    click_offer(page, "Save")
    assert wait_for_offer(page, "recorded")["text"] == f"SavedTracked: scimwatch will warn before {shown(soon)}."
    [key] = keys(server)
    assert (key["org_id"], key["directory_id"], key["directory_name"]) == (DIRECTORY_ORG, OKTA_ID, "Okta production")
    assert key["expires_at"] == f"{soon.isoformat()}T00:00:00Z" and key["source"] == "extension"
    assert key["page_url"] == directory_url("okta")
    expect(page.locator("#scimwatch-banner .bar")).to_contain_text("Okta production")  # the bar follows at once

    page.locator("#regenerate").click()  # the app draws the page again with the new key's date
    rotated = wait_for_offer(page, "rotated")
    assert rotated["text"] == f"New expiryThe page shows {shown(renewed)}; scimwatch has {shown(soon)}."
    click_offer(page, "Record the new expiry")
    assert wait_for_offer(page, "recorded")["text"] == \
        f"SavedRecorded the new expiry, {shown(renewed)}: reminders start over."
    [key] = keys(server)
    assert key["expires_at"] == f"{renewed.isoformat()}T00:00:00Z"
    assert [entry["previous_expires_at"] for entry in key["history"]] == [f"{soon.isoformat()}T00:00:00Z"]
    expect(page.locator("#scimwatch-banner")).to_have_count(0)  # nothing is due any more


@pytest.mark.parametrize("fixture, directory_id, expires", [
    ("directory-month-first.html", OKTA_ID, "Mar 1, 2027"),
    ("directory-day-first.html", "entra-42", "Mar 1, 2027"),
    ("directory-iso.html", "onelogin-7", "Mar 1, 2027"),
    ("directory-sentence.html", "gws-1", "Mar 1, 2027"),
    ("directory-numeric.html", "okta-staging", "Jan 3, 2027"),  # 01/03/2027 in an en-US browser
    ("directory-moved.html", "okta-eu", "Mar 1, 2027"),
])
def test_each_saved_layout_offers_to_track_its_key_with_the_date_it_shows(chromium, server, fixture, directory_id,
                                                                          expires):
    connect_tracking(chromium, server)
    page = open_directory(chromium, None, fixture=fixture)
    assert wait_for_offer(page, "created")["buttons"][0] == f"Track this key in scimwatch (expires {expires})"
    click_offer(page, f"Track this key in scimwatch (expires {expires})")
    click_offer(page, "Save")
    wait_for_offer(page, "recorded")
    [key] = keys(server)
    assert key["directory_id"] == directory_id


@pytest.mark.parametrize("fixture", ["directory-no-date.html", "directory-conflict.html"])
def test_a_page_without_a_clear_date_offers_nothing_and_sends_nothing(chromium, server, fixture):
    connect_tracking(chromium, server)
    page = open_directory(chromium, None, fixture=fixture)
    page.wait_for_timeout(1500)  # longer than the reader's settling delay: nothing may come
    assert offer(page) is None and keys(server) == []


def test_the_same_date_offers_nothing_and_reports_it_quietly_once_a_day(chromium, server):
    connect_tracking(chromium, server)
    soon = days_ahead(20)
    added = already_tracked(server, f"{soon.isoformat()}T15:30:00Z")  # the page shows the day only
    page = open_directory(chromium, soon)
    chromium.in_worker("""() => new Promise((done) => {
        const check = () => chrome.storage.local.get('scimwatch:seen-days').then((s) =>
            s['scimwatch:seen-days'] ? done() : setTimeout(check, 100));
        check();
    })""")
    [key] = keys(server)
    assert key["expires_at"] == added["expires_at"] and key["history"] == [] and key["last_seen_at"]
    assert offer(page) is None
    page.reload()
    page.wait_for_timeout(1500)
    assert keys(server)[0]["last_seen_at"] == key["last_seen_at"]  # not again the same day
    assert offer(page) is None


def test_an_earlier_date_shows_the_discrepancy_and_corrects_it_on_request(chromium, server):
    connect_tracking(chromium, server)
    typed, real = days_ahead(40), days_ahead(10)
    already_tracked(server, typed.isoformat())
    page = open_directory(chromium, real)
    assert wait_for_offer(page, "corrected") == {
        "state": "corrected",
        "text": f"Dates differThe page shows {shown(real)}; scimwatch has {shown(typed)}.",
        "buttons": [f"Correct it to {shown(real)}", "\u00d7"]}
    assert keys(server)[0]["expires_at"] == f"{typed.isoformat()}T00:00:00Z"
    click_offer(page, f"Correct it to {shown(real)}")
    assert wait_for_offer(page, "recorded")["text"] == f"SavedCorrected: scimwatch now has {shown(real)}."
    [key] = keys(server)
    assert key["expires_at"] == f"{real.isoformat()}T00:00:00Z"
    assert key["history"][-1]["previous_expires_at"] == f"{typed.isoformat()}T00:00:00Z"


def test_with_auto_record_chosen_a_later_date_is_recorded_without_asking(chromium, server):
    connect_tracking(chromium, server)
    options = chromium.open(chromium.url("options.html"))
    options.check("#auto-record")
    expect(options.locator("#prefs-status")).to_have_text(
        "Saved: a later date on a directory page is recorded without asking.")
    old, new = days_ahead(3), days_ahead(368)
    already_tracked(server, old.isoformat())
    page = open_directory(chromium, new)
    assert wait_for_offer(page, "recorded")["text"] == \
        f"SavedRecorded the new expiry this page shows, {shown(new)} (was {shown(old)})."
    assert keys(server)[0]["expires_at"] == f"{new.isoformat()}T00:00:00Z"


def test_without_auto_record_a_later_date_waits_for_the_admin(chromium, server):
    connect_tracking(chromium, server)
    old, new = days_ahead(3), days_ahead(368)
    already_tracked(server, old.isoformat())
    page = open_directory(chromium, new)
    wait_for_offer(page, "rotated")
    assert keys(server)[0]["expires_at"] == f"{old.isoformat()}T00:00:00Z"


def test_with_a_read_token_it_works_as_before_and_says_tracking_needs_a_track_token(chromium, server):
    assert chromium.connect(server.url, server.read_token).endswith(
        "This token only reads warnings: tracking keys from their directory pages needs a track token.")
    page = open_directory(chromium, days_ahead(30))
    assert wait_for_offer(page, "needs_track") == {
        "state": "needs_track",
        "text": f"Read onlyExpires {shown(days_ahead(30))}. Tracking it needs a scimwatch track token.",
        "buttons": ["Open options", "\u00d7"]}
    assert keys(server) == []
    with chromium.context.expect_page() as opened:
        click_offer(page, "Open options")
    assert opened.value.url == chromium.url("options.html")
    popup = chromium.open(chromium.url("popup.html"))
    expect(popup.locator("#scimwatch-status")).to_contain_text(
        "Tracking keys from their directory pages needs a track token: see the options.")


def test_not_now_hides_the_offer_for_that_directory_and_date(chromium, server):
    connect_tracking(chromium, server)
    page = open_directory(chromium, days_ahead(30))
    wait_for_offer(page, "created")
    page.locator("#scimwatch-offer").get_by_role("button", name="Not now").click()
    assert offer(page) is None
    page.reload()
    page.wait_for_timeout(1500)
    assert offer(page) is None and keys(server) == []


def test_names_read_from_the_page_stay_inert_in_the_offer_bar_popup_and_stored_record(chromium, server):
    connect_tracking(chromium, server)
    soon = days_ahead(2)
    page = open_directory(chromium, soon, name=XSS)
    click_offer(page, f"Track this key in scimwatch (expires {shown(soon)})")
    assert XSS in wait_for_offer(page, "confirm")["text"]
    click_offer(page, "Save")
    wait_for_offer(page, "recorded")
    [key] = keys(server)
    assert key["directory_name"] == XSS
    expect(page.locator("#scimwatch-banner .bar")).to_contain_text(XSS)
    popup = chromium.open(chromium.url("popup.html"))
    expect(popup.locator("#scimwatch-keys tbody tr")).to_have_count(1)
    assert popup.locator("#scimwatch-keys tbody tr td").first.text_content().startswith(XSS)
    for view in (page, popup):
        assert view.evaluate("window.__pwned") is None
        assert view.evaluate("""() => [document, ...[...document.querySelectorAll('*')].map((e) => e.shadowRoot)
            .filter(Boolean)].some((root) => root.querySelector('img'))""") is False
    ui = requests.get(server.url + f"/api/v1/keys/{key['id']}", timeout=10,
                      headers={"Authorization": f"Bearer {server.admin_token}"})
    assert ui.json()["directory_name"] == XSS  # stored as the text it is


def test_the_page_is_read_again_when_the_app_draws_it_and_a_page_without_the_date_takes_the_offer_away(chromium,
                                                                                                     server):
    connect_tracking(chromium, server)
    soon = days_ahead(30)
    page = open_directory(chromium, soon, extra={'"wait": false': '"wait": true'})
    page.wait_for_timeout(1500)
    assert offer(page) is None  # still "Loading…"
    page.evaluate("() => app.render()")
    wait_for_offer(page, "created")
    page.evaluate("() => app.go(location.pathname.replace('okta', 'legacy'), {expires: '', directory: 'legacy'})")
    wait_for_offer(page, None)
    page.evaluate("() => { document.getElementById('app').replaceChildren(); }")
    page.evaluate(f"() => app.go(location.pathname.replace('legacy', 'okta-moved'), {{expires: {_json(shown(soon))}, "
                  f"directory: {_json(OKTA_ID)}}})")
    wait_for_offer(page, "created")
    page.evaluate("() => document.body.replaceChildren(...[...document.body.children].filter((e) => e.id !== "
                  "'scimwatch-offer'))")  # the app drops what it did not make
    wait_for_offer(page, "created")
    assert keys(server) == []
    click_offer(page, f"Track this key in scimwatch (expires {shown(soon)})")
    click_offer(page, "Save")
    wait_for_offer(page, "recorded")
    assert keys(server)[0]["page_url"] == directory_url("okta-moved")  # the address the app moved to


def test_i_have_rotated_it_in_the_bar_and_popup_opens_the_signed_confirm_page(chromium, server):
    connect_tracking(chromium, server)
    key = already_tracked(server, days_ahead(2).isoformat())
    page = chromium.open(f"https://admin.atlassian.com/o/{DIRECTORY_ORG}/overview")
    expect(page.locator("#scimwatch-banner .bar")).to_be_visible()
    page.locator("#scimwatch-banner").get_by_role("button", name="Review").click()
    link = page.locator("#scimwatch-banner").get_by_role("link", name="I've rotated it")
    assert link.get_attribute("href").startswith(f"{PUBLIC}/r/")
    with chromium.context.expect_page() as opened:
        link.click()
    confirm = opened.value
    confirm.wait_for_load_state()
    assert confirm.url.startswith(f"{PUBLIC}/r/") and "Okta production" in confirm.text_content("body")
    assert keys(server)[0]["expires_at"] == key["expires_at"]  # the GET changed nothing
    confirm.get_by_role("button", name="Record the rotation").click()
    expect(confirm.locator("body")).to_contain_text("Okta production")
    confirm.wait_for_load_state()
    renewed = server.api("GET", f"/api/v1/keys/{key['id']}").json()
    assert renewed["expires_at"] == f"{days_ahead(365).isoformat()}T00:00:00Z"  # today + 365, typed by nobody

    again = server.add_key(org_id=DIRECTORY_ORG, directory_name="Entra ID", expires_at=days_ahead(1).isoformat())
    chromium.refresh()
    popup = chromium.open(chromium.url("popup.html"))
    rotate = popup.locator("#scimwatch-keys tbody tr").filter(has_text="Entra ID").get_by_role(
        "link", name="I've rotated it")
    assert rotate.get_attribute("href").startswith(f"{PUBLIC}/r/") and rotate.get_attribute("target") == "_blank"
    with chromium.context.expect_page() as opened:
        rotate.click()
    opened.value.wait_for_load_state()
    assert "Entra ID" in opened.value.text_content("body")
    assert server.api("GET", f"/api/v1/keys/{again['id']}").json()["expires_at"] == again["expires_at"]


def test_a_page_that_never_stops_changing_is_still_read(chromium, server):
    connect_tracking(chromium, server)
    ticking = "<script>setInterval(() => { document.title = 'Okta ' + Date.now(); }, 50);</script></body>"
    page = open_directory(chromium, days_ahead(30), extra={"</body>": ticking})
    wait_for_offer(page, "created")
