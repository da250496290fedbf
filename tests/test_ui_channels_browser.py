"""The key form's channels and escalation and the settings page's channels and calendar token, in chromium.

Screenshots at 1280 and 375 px go where test_ui_browser's go ($SCIMWATCH_UI_SHOTS, else a temp folder).
"""
from __future__ import annotations

import json
import re

import pytest
from conftest import LiveServer
from playwright.sync_api import expect
from test_ui_browser import READER, WIDTHS, at, shots, watched  # noqa: F401 -- fixtures used by name

SECRET = "T0SECRET/B0SECRET"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server with two tagged channels (one a default), a key posting to one, its reminders run."""
    from receivers import Receiver

    receiver = Receiver()
    folder = tmp_path_factory.mktemp("ui-channels")
    config = folder / "apprise.yml"
    config.write_text(f"version: 1\nurls:\n  - {receiver.url}/ops/{SECRET}:\n      - tag: ops\n"
                      f"  - form://{receiver.address}/sec/{SECRET}:\n      - tag: security, ops\n", encoding="utf-8")
    live = LiveServer(folder / "data", {"SCIMWATCH_APPRISE_CONFIG": str(config), "SCIMWATCH_CHANNELS": "security"})
    live.keys = {"Okta production": live.add_key(
        org_id="3f2a9c1e-7b4d-4e8a-9c61-0d5e2f1a7b10", org_name="Acme Corporation", directory_name="Okta production",
        identity_provider="okta", expires_at=at(days=2, hours=3), notify=["it-ops@acme.example"], channels=["ops"],
        escalation={"3d": ["security@acme.example"], "expired": ["cio@acme.example"]})}
    assert live.api("POST", "/api/v1/reminders/run").status_code == 200
    yield live
    live.stop()
    receiver.stop()


def test_the_channel_fields_and_settings_fit_1280_and_375_px_and_show_no_secret(watched, server, shots):  # noqa: F811
    okta = server.keys["Okta production"]["id"]
    heights: dict[str, int] = {}
    for width, viewport in WIDTHS.items():
        session = watched(viewport=viewport, **READER).sign_in()
        page = session.page

        def shot(name: str, width=width, page=page):
            page.wait_for_load_state("load")
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} at {width} px is {overflow} px too wide"
            assert "T0SECRET" not in page.content()
            heights[f"{name}-{width}"] = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)

        page.goto(server.url + f"/ui/keys/{okta}/edit")
        expect(page.locator("#channels")).to_have_value("ops")
        expect(page.locator("#escalation")).to_have_value("3d=security@acme.example\nexpired=cio@acme.example")
        shot("channels-key-form")
        page.fill("#channels", "ops, pager")
        page.fill("#escalation", "3d=security@acme.example\nsoon=cio@acme.example")
        page.get_by_role("button", name="Save changes", exact=True).click()
        expect(page.locator("#channels-error")).to_contain_text("'pager' is not a channel tag; the known tags are ops")
        session.forgive(400)
        shot("channels-key-form-errors")
        page.fill("#channels", "ops")
        page.get_by_role("button", name="Save changes", exact=True).click()
        expect(page.locator("#escalation-error")).to_contain_text("'soon' is not a stage")
        session.forgive(400)
        page.goto(server.url + f"/ui/keys/{okta}")
        shot("channels-key")
        page.goto(server.url + "/ui/settings")
        expect(page.locator("#channels-title + p + table tbody tr")).to_have_count(2)
        shot("channels-settings")
        page.get_by_role("button", name="Make a calendar token", exact=True).click()
        expect(page.locator("pre code")).to_contain_text(re.compile(r"/api/v1/calendar\.ics\?token=sw_"))
        shot("channels-calendar-token")
        session.assert_clean()
    (shots / "channels-heights.json").write_text(json.dumps(heights, indent=1))
    print("page heights:", json.dumps(heights))
