"""Acknowledgement (DESIGN §14): who is on a key shows in banners and emails; it silences nothing."""
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from jsonschema import Draft202012Validator
from test_email_message import digest_for, expiring, html_of, received, text_of

from server import create_app

SPEC = json.loads((Path(__file__).parent.parent / "docs" / "openapi.json").read_text())


def banners_schema_check(payload):
    """The acknowledged banner matches the documented Banner schema (additionalProperties: false)."""
    schema = {**SPEC["components"]["schemas"]["BannerPayload"], "components": SPEC["components"]}
    assert [error.message for error in Draft202012Validator(schema).iter_errors(payload)] == []

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def clocked(data_dir):
    application = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW})
    with application.test_client() as client:
        yield client


def a_key(client, admin, days=2):
    expires = (NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return client.post("/api/v1/keys", headers=admin, json={
        "org_id": ORG, "org_name": "Acme", "directory_name": "Okta production", "expires_at": expires}).get_json()


def test_acknowledging_notes_who_and_when_and_banners_say_so(clocked, admin):
    key = a_key(clocked, admin)
    before = clocked.get("/api/v1/banners", headers=admin).get_json()["banners"][0]
    acknowledged = clocked.post(f"/api/v1/keys/{key['id']}/acknowledge", json={"by": " Alice "}, headers=admin)
    assert acknowledged.status_code == 200
    record = acknowledged.get_json()
    assert (record["acknowledged_by"], record["acknowledged_at"]) == ("Alice", "2026-12-03T09:00:00Z")
    payload = clocked.get("/api/v1/banners", headers=admin).get_json()
    banner = payload["banners"][0]
    assert banner["acknowledged_by"] == "Alice" and banner["acknowledged_at"] == "2026-12-03T09:00:00Z"
    assert banner["message"].endswith("Alice is on it since 3 Dec.")
    assert "Alice is on it since 3 Dec" in payload["summary"]["text"]
    banners_schema_check(payload)
    # It silences nothing: same severity, same dismissal id.
    assert (banner["severity"], banner["id"]) == (before["severity"], before["id"])


def test_a_rotation_clears_the_acknowledgement(clocked, admin):
    key = a_key(clocked, admin)
    clocked.post(f"/api/v1/keys/{key['id']}/acknowledge", json={"by": "Alice"}, headers=admin)
    rotated = clocked.post(f"/api/v1/keys/{key['id']}/rotate", headers=admin).get_json()
    assert "acknowledged_by" not in rotated and "acknowledged_at" not in rotated


@pytest.mark.parametrize("body,field", [
    ({}, "by"), ({"by": ""}, "by"), ({"by": "   "}, "by"), ({"by": None}, "by"), ({"by": 3}, "by"),
    ({"by": "a\nb"}, "by"), ({"by": "x" * 201}, "by"), ({"by": "Alice", "when": "now"}, "when"),
    ({"by": "Alice", "token": "s3cret"}, "token"), ([], "body"),
])
def test_bad_acknowledgements_are_refused(clocked, admin, body, field):
    key = a_key(clocked, admin)
    response = clocked.post(f"/api/v1/keys/{key['id']}/acknowledge", json=body, headers=admin)
    assert response.status_code == 400 and field in response.get_json()["error"]["fields"]
    assert "acknowledged_by" not in clocked.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json()


def test_acknowledging_needs_admin_and_a_known_key(clocked, admin):
    assert clocked.post("/api/v1/keys/nope/acknowledge", json={"by": "A"}, headers=admin).status_code == 404
    made = clocked.post("/api/v1/tokens", json={"scope": "track", "label": "x"}, headers=admin).get_json()
    key = a_key(clocked, admin)
    refused = clocked.post(f"/api/v1/keys/{key['id']}/acknowledge", json={"by": "A"},
                           headers={"Authorization": f"Bearer {made['token']}"})
    assert refused.status_code == 403


def test_an_email_carries_one_line_per_acknowledged_item_escaped():
    digest = digest_for(expiring(2, directory_name="Okta", acknowledged_by="<b>Alice</b>",
                                 acknowledged_at="2026-12-03T08:00:00Z"),
                        expiring(3, directory_name="Entra"))
    message = received(digest)
    text = text_of(message)
    assert text.count("is on it since") == 1 and "<b>Alice</b> is on it since 3 Dec" in text
    html = html_of(message)
    assert "&lt;b&gt;Alice&lt;/b&gt; is on it since 3 Dec" in html and "<b>Alice</b>" not in html
