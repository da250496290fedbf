"""The UI's channels and escalation fields (DESIGN §12, §14), the settings page's channels and calendar token."""
from __future__ import annotations

import re

import pytest
from conftest import ADMIN_TOKEN
from test_ui import csrf_token, post, sign_in

from server import create_app

SECRET = "T0SECRET/B0SECRET"
FIELDS = {"org_id": "acme", "expires_at": "2027-01-10", "directory_name": "Okta production", "notify": ""}


@pytest.fixture
def app(data_dir, tmp_path, receiver):
    config = tmp_path / "apprise.txt"
    config.write_text(f"ops={receiver.url}/{SECRET}\nsecurity,ops={receiver.url}/sec/{SECRET}\n", encoding="utf-8")
    made = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "APPRISE_CONFIG": config,
                       "CHANNELS": "security"})
    yield made
    made.extensions["scimwatch"].close()


@pytest.fixture
def ui(app):
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def only_key(app) -> dict:
    [key] = app.extensions["scimwatch"].registry.list()
    return key


def test_a_key_form_saves_channels_and_escalation_as_the_api_would(app, ui):
    escalation = "3d=security@example.com\r\nexpired=cio@example.com, ciso@example.com"
    answer = post(ui, "/ui/keys/new", {**FIELDS, "channels": "OPS, security", "escalation": escalation})
    assert answer.status_code == 303
    key = only_key(app)
    assert key["channels"] == ["ops", "security"]
    assert key["escalation"] == {"3d": ["security@example.com"], "expired": ["cio@example.com", "ciso@example.com"]}
    page = ui.get(f"/ui/keys/{key['id']}").text
    assert "ops, security" in page and "from 3d: security@example.com; from expired: cio@example.com" in page
    edit = ui.get(f"/ui/keys/{key['id']}/edit").text
    assert 'value="ops, security"' in edit
    assert "3d=security@example.com\nexpired=cio@example.com,ciso@example.com</textarea>" in edit


def test_emptying_the_fields_in_an_edit_removes_them(app, ui):
    post(ui, "/ui/keys/new", {**FIELDS, "channels": "ops", "escalation": "1d=security@example.com"})
    key = only_key(app)
    assert post(ui, f"/ui/keys/{key['id']}/edit", {**FIELDS, "channels": "", "escalation": ""}).status_code == 303
    assert "channels" not in only_key(app) and "escalation" not in only_key(app)


@pytest.mark.parametrize("field, typed, message", [
    ("channels", "ops, pager", "&#39;pager&#39; is not a channel tag; the known tags are ops, security"),
    ("escalation", "3d=security@example.com\nsoon=cio@example.com", "&#39;soon&#39; is not a stage; a stage is Nd"),
    ("escalation", "3d security@example.com", "must be STAGE=ADDRESS[,ADDRESS], such as 3d=security@example.com"),
    ("escalation", "expired=not-an-address", "stage expired: &#39;not-an-address&#39; is not a valid email address"),
])
def test_a_bad_channel_or_escalation_answers_the_form_again_with_the_message_by_the_field(app, ui, field, typed,
                                                                                           message):
    answer = post(ui, "/ui/keys/new", {**FIELDS, field: typed})
    assert answer.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error"[^>]*>(.*?)</p>', answer.text, re.S)
    assert error and message in error.group(1)
    assert typed.replace("\n", "") in answer.text.replace("\n", "").replace("&#39;", "'")
    assert app.extensions["scimwatch"].registry.list() == []


def test_the_form_lists_the_known_tags_and_the_default_channels(ui):
    form = ui.get("/ui/keys/new").text
    assert "Comma-separated tags from SCIMWATCH_APPRISE_CONFIG: ops, security. Every key also posts to security." \
        in form


def test_settings_show_each_channels_tag_services_and_state_but_never_its_url(ui, receiver):
    page = ui.get("/ui/settings").text
    rows = re.findall(r'<tr><th scope="row" data-label="Tag"><code>(\w+)</code>(.*?)</th>'
                      r'<td data-label="Services">(.*?)</td><td data-label="State"><strong>(\w+)</strong>', page)
    assert rows == [("ops", "", "JSON, JSON", "ok"),
                    ("security", ' <span class="meta">(every key)</span>', "JSON", "ok")]
    assert SECRET.split("/")[0] not in page and receiver.address not in page


def test_the_calendar_token_button_makes_a_calendar_token_shown_once_with_the_feed_address(app, ui):
    assert 'action="/ui/settings/calendar-token"' in ui.get("/ui/settings").text
    answer = post(ui, "/ui/settings/calendar-token")
    assert answer.status_code == 201
    token = re.search(r'id="new-token" value="(sw_[^"]+)"', answer.text).group(1)
    assert f"http://localhost/api/v1/calendar.ics?token={token}" in answer.text
    feed = app.test_client().get(f"/api/v1/calendar.ics?token={token}")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    [made] = [t for t in app.extensions["scimwatch"].tokens.list() if t["scope"] == "calendar"]
    assert token not in str(made)


def test_the_calendar_token_button_without_its_csrf_token_makes_nothing(app, ui):
    csrf_token(ui)
    assert ui.post("/ui/settings/calendar-token").status_code == 400
    assert [t for t in app.extensions["scimwatch"].tokens.list() if t["scope"] == "calendar"] == []
