"""Observations (DESIGN §13): each result, the matching rules, and validation like a key's."""
import json

import pytest

from server.domain import records
from server.store.storage import stored_tables

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
PAGE = f"https://admin.atlassian.com/o/{ORG}/user-provisioning/directory/dir-1"


def seen(**overrides):
    body = {"org_id": ORG, "directory_id": "dir-1", "directory_name": "Okta production",
            "expires_at": "2027-03-01", "page_url": PAGE}
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


@pytest.fixture
def track(client, admin):
    made = client.post("/api/v1/tokens", json={"scope": "track", "label": "extension"}, headers=admin).get_json()
    return {"Authorization": f"Bearer {made['token']}"}


def observe(client, headers, **overrides):
    return client.post("/api/v1/observations", json=seen(**overrides), headers=headers)


def test_an_untracked_directory_is_created_from_the_page(client, track, admin):
    response = observe(client, track)
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["result"] == "created"
    key = answer["key"]
    assert key["source"] == "extension" and key["expires_at"] == "2027-03-01T00:00:00Z"
    assert key["page_url"] == PAGE and key["last_seen_at"].endswith("Z")
    assert client.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == key


def test_the_same_date_is_unchanged_and_only_notes_when_it_was_seen(client, track):
    key = observe(client, track).get_json()["key"]
    again = observe(client, track)
    assert again.status_code == 200 and again.get_json()["result"] == "unchanged"
    assert again.get_json()["key"]["expires_at"] == key["expires_at"]
    assert again.get_json()["key"]["history"] == []


def test_a_later_date_is_a_rotation_with_history(client, track):
    key = observe(client, track).get_json()["key"]
    rotated = observe(client, track, expires_at="2028-03-01")
    assert rotated.status_code == 200 and rotated.get_json()["result"] == "rotated"
    record = rotated.get_json()["key"]
    assert record["id"] == key["id"] and record["expires_at"] == "2028-03-01T00:00:00Z"
    assert record["history"] == [{"rotated_at": record["rotated_at"], "previous_expires_at": key["expires_at"]}]


def test_an_earlier_date_corrects_the_record_and_notes_it(client, track, admin, data_dir):
    key = observe(client, track).get_json()["key"]
    corrected = observe(client, track, expires_at="2027-02-01")
    assert corrected.status_code == 200 and corrected.get_json()["result"] == "corrected"
    record = corrected.get_json()["key"]
    assert record["expires_at"] == "2027-02-01T00:00:00Z" and record["rotated_at"] is None
    assert record["history"] == [{"corrected_at": record["updated_at"], "previous_expires_at": key["expires_at"]}]
    # The record as stored passes the load-time checks: a restart keeps it.
    stored = stored_tables(data_dir)["keys"]
    assert [records.keys(document) for document in stored.values()] == [None]


def test_matching_by_directory_id_then_name_without_case_within_org_and_kind(client, track, admin):
    typed = client.post("/api/v1/keys", json={"org_id": ORG, "directory_name": "OKTA Production",
                                             "expires_at": "2027-03-01"}, headers=admin).get_json()
    matched = observe(client, track).get_json()
    assert matched["result"] == "unchanged" and matched["key"]["id"] == typed["id"]
    assert matched["key"]["directory_id"] == "dir-1"
    # Another org, another kind or another directory id with the same name: not this record.
    assert observe(client, track, org_id="other-org", page_url=None).get_json()["result"] == "created"
    assert observe(client, track, kind="admin_api_key").get_json()["result"] == "created"
    assert observe(client, track, directory_id="dir-2", page_url=None).get_json()["result"] == "created"
    assert observe(client, track, directory_name="renamed").get_json()["key"]["id"] == typed["id"]


def test_a_key_seen_on_its_page_links_there_in_banners(client, track):
    observe(client, track, expires_at="2026-12-20")
    banner = client.get("/api/v1/banners", headers=track).get_json()["banners"][0]
    assert banner["action_url"] == PAGE and banner["page_url"] == PAGE


@pytest.mark.parametrize("page_url", [
    "https://admin.atlassian.com/o/other-org/user-provisioning",
    "https://evil.example/o/" + ORG + "/",
    "http://admin.atlassian.com/o/" + ORG + "/x",
    f"https://admin.atlassian.com/o/{ORG}/../other/x",
    f"https://admin.atlassian.com/o/{ORG}/%2e%2e/other",
    f"https://admin.atlassian.com/o/{ORG}/a%2fb",
    f"https://admin.atlassian.com/o/{ORG}/a b",
    f"https://admin.atlassian.com/o/{ORG}/x#frag",
    f"https://admin.atlassian.com/o/{ORG}/<script>",
    f"https://admin.atlassian.com/o/{ORG}/" + "a" * 1000,
    42,
])
def test_a_page_url_outside_the_org_or_not_clean_is_refused(client, track, data_dir, page_url):
    response = observe(client, track, page_url=page_url)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "page_url" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/banners", headers=track).get_json()["banners"] == []


@pytest.mark.parametrize("body,field", [
    ({"org_id": ORG, "directory_id": "d", "expires_at": "2027-03-01", "api_key": "s3cret"}, "api_key"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "2027-03-01", "Token": "s3cret"}, "Token"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "2027-03-01", "notes": "x"}, "notes"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "not a date"}, "expires_at"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "1999-01-01"}, "expires_at"),
    ({"org_id": ORG, "directory_id": "d"}, "expires_at"),
    ({"directory_id": "d", "expires_at": "2027-03-01"}, "org_id"),
    ({"org_id": "..", "directory_id": "d", "expires_at": "2027-03-01"}, "org_id"),
    ({"org_id": ORG, "directory_id": "a b", "expires_at": "2027-03-01"}, "directory_id"),
    ({"org_id": ORG, "directory_name": "x\u202ey", "expires_at": "2027-03-01"}, "directory_name"),
    ({"org_id": ORG, "expires_at": "2027-03-01"}, "directory_id"),
    ({"org_id": ORG, "directory_name": "  ", "expires_at": "2027-03-01"}, "directory_id"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "2027-03-01", "kind": "nope"}, "kind"),
    ({"org_id": ORG, "directory_id": "d", "expires_at": "2027-03-01", "source": "api"}, "source"),
])
def test_bad_observations_are_refused_and_nothing_is_stored(client, track, data_dir, body, field):
    response = client.post("/api/v1/observations", json=body, headers=track)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert "s3cret" not in json.dumps(response.get_json())
    assert stored_tables(data_dir).get("keys", {}) == {}


def test_a_secret_field_gets_the_never_stored_message(client, track):
    response = client.post("/api/v1/observations", headers=track,
                           json={**seen(), "api_key": "s3cret"})
    assert "never stores key values" in response.get_json()["error"]["fields"]["api_key"]


def test_scopes_track_and_admin_may_observe_read_may_not(client, admin, track):
    made = client.post("/api/v1/tokens", json={"scope": "read", "label": "r"}, headers=admin).get_json()
    read = {"Authorization": f"Bearer {made['token']}"}
    assert observe(client, read).status_code == 403
    assert observe(client, {}).status_code == 401
    assert observe(client, admin).status_code == 201
    assert observe(client, track).status_code == 200
    assert client.get("/api/v1/keys", headers=track).status_code == 403


def test_the_keys_api_refuses_the_fields_observations_write(client, admin):
    response = client.post("/api/v1/keys", headers=admin,
                           json={"org_id": ORG, "expires_at": "2027-03-01", "page_url": PAGE})
    assert response.status_code == 400 and "page_url" in response.get_json()["error"]["fields"]


def test_moving_a_key_to_another_org_drops_its_page_url(client, track, admin):
    key = observe(client, track).get_json()["key"]
    moved = client.patch(f"/api/v1/keys/{key['id']}", json={"org_id": "other-org"}, headers=admin).get_json()
    assert "page_url" not in moved


def test_a_json_export_of_an_observed_key_imports_unchanged(client, track, admin):
    observe(client, track)
    exported = client.get("/api/v1/export?format=json", headers=admin)
    report = client.post("/api/v1/import", headers=admin, data=exported.data, content_type="application/json")
    assert report.status_code == 200, report.get_data(as_text=True)
