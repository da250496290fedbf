"""The keys API: every endpoint's success and error paths, in the one error shape."""
import json
from datetime import UTC, datetime

import pytest
from conftest import ADMIN_TOKEN, stored_bytes

from server import create_app

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"


def a_key(**overrides):
    fields = {"org_id": ORG, "org_name": "Acme", "directory_name": "Okta", "identity_provider": "okta",
              "expires_at": "2027-01-15", "notify": ["it@acme.example"]}
    fields.update(overrides)
    return fields


def assert_error(response, status, code=None):
    """Check the one error shape and return its error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_creating_a_key_returns_it_with_a_location(client, admin):
    response = client.post("/api/v1/keys", json=a_key(), headers=admin)
    assert response.status_code == 201
    key = response.get_json()
    assert response.headers["Location"] == f"/api/v1/keys/{key['id']}"
    assert key["expires_at"] == "2027-01-15T00:00:00Z"
    assert key["identity_provider"] == "okta" and key["kind"] == "scim"
    assert key["history"] == [] and key["rotated_at"] is None
    assert key["created_at"].endswith("Z")
    assert client.get(response.headers["Location"], headers=admin).get_json() == key


def test_optional_fields_get_defaults(client, admin):
    key = client.post("/api/v1/keys", json={"org_id": ORG, "expires_at": "2027-01-15"}, headers=admin).get_json()
    assert key["identity_provider"] == "other" and key["kind"] == "scim" and key["notify"] == []


def test_keys_are_listed_soonest_expiry_first_and_filtered_by_org(client, admin):
    for day, org in (("2027-03-01", ORG), ("2027-01-01", ORG), ("2027-02-01", "other-org")):
        client.post("/api/v1/keys", json=a_key(expires_at=day, org_id=org), headers=admin)
    everything = client.get("/api/v1/keys", headers=admin).get_json()["keys"]
    assert [k["expires_at"][:10] for k in everything] == ["2027-01-01", "2027-02-01", "2027-03-01"]
    only_acme = client.get(f"/api/v1/keys?org_id={ORG}", headers=admin).get_json()["keys"]
    assert [k["expires_at"][:10] for k in only_acme] == ["2027-01-01", "2027-03-01"]


def test_patch_changes_only_the_given_fields_and_null_resets(client, admin):
    key = client.post("/api/v1/keys", json=a_key(label="prod", thresholds=[10, 5]), headers=admin).get_json()
    response = client.patch(f"/api/v1/keys/{key['id']}", json={"org_name": "Acme Ltd", "label": None,
                                                               "thresholds": None}, headers=admin)
    assert response.status_code == 200
    changed = response.get_json()
    assert changed["org_name"] == "Acme Ltd" and changed["label"] == "" and "thresholds" not in changed
    assert changed["directory_name"] == "Okta" and changed["created_at"] == key["created_at"]


def test_patch_cannot_clear_a_required_field(client, admin):
    key = client.post("/api/v1/keys", json=a_key(), headers=admin).get_json()
    error = assert_error(client.patch(f"/api/v1/keys/{key['id']}", json={"expires_at": None}, headers=admin), 400)
    assert "expires_at" in error["fields"]


def test_delete_removes_the_key(client, admin):
    key = client.post("/api/v1/keys", json=a_key(), headers=admin).get_json()
    response = client.delete(f"/api/v1/keys/{key['id']}", headers=admin)
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"/api/v1/keys/{key['id']}", headers=admin), 404, "not_found")
    assert_error(client.delete(f"/api/v1/keys/{key['id']}", headers=admin), 404)


def test_rotate_defaults_to_365_days_from_now_and_keeps_history(data_dir, admin):
    pinned = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN,
                         "CLOCK": lambda: datetime(2026, 11, 29, 9, 30, tzinfo=UTC)})
    client = pinned.test_client()
    key = client.post("/api/v1/keys", json=a_key(expires_at="2026-12-06"), headers=admin).get_json()
    response = client.post(f"/api/v1/keys/{key['id']}/rotate", headers=admin)
    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["rotated_at"] == "2026-11-29T09:30:00Z"
    assert rotated["expires_at"] == "2027-11-29T09:30:00Z"
    assert rotated["history"] == [{"rotated_at": "2026-11-29T09:30:00Z", "previous_expires_at": "2026-12-06T00:00:00Z"}]
    pinned.extensions["scimwatch"].close()


def test_rotate_accepts_explicit_times(client, admin):
    key = client.post("/api/v1/keys", json=a_key(), headers=admin).get_json()
    rotated = client.post(f"/api/v1/keys/{key['id']}/rotate", json={"rotated_at": "2026-12-01T08:00:00Z"},
                          headers=admin).get_json()
    assert rotated["expires_at"] == "2027-12-01T08:00:00Z"
    rotated = client.post(f"/api/v1/keys/{key['id']}/rotate", json={"expires_at": "2027-06-30"},
                          headers=admin).get_json()
    assert rotated["expires_at"] == "2027-06-30T00:00:00Z" and len(rotated["history"]) == 2


def test_rotate_refuses_an_expiry_before_the_rotation_and_unknown_fields(client, admin):
    key = client.post("/api/v1/keys", json=a_key(), headers=admin).get_json()
    path = f"/api/v1/keys/{key['id']}/rotate"
    error = assert_error(client.post(path, json={"rotated_at": "2027-01-01", "expires_at": "2026-01-01"},
                                     headers=admin), 400)
    assert "expires_at" in error["fields"]
    error = assert_error(client.post(path, json={"rotated_at": "2999-06-01"}, headers=admin), 400)
    assert "outside the years" in error["fields"]["expires_at"]
    error = assert_error(client.post(path, json={"api_key": "abc"}, headers=admin), 400)
    assert "never stores key values" in error["fields"]["api_key"]
    assert_error(client.post("/api/v1/keys/nope/rotate", headers=admin), 404)
    assert client.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == key


@pytest.mark.parametrize("field, value, says", [
    ("org_id", "", "letters, digits"),
    ("org_id", "a/b", "letters, digits"),
    ("org_id", 42, "string"),
    ("expires_at", "2026-02-30", "not a real date"),
    ("expires_at", "next week", "RFC 3339"),
    ("identity_provider", "azure", "one of"),
    ("kind", "ssh", "one of"),
    ("notify", ["not-an-address"], "not a valid email"),
    ("notify", ["zoë@example.com"], "not a valid email"),
    ("notify", "it@acme.example", "list"),
    ("notify", [f"u{i}@acme.example" for i in range(51)], "at most 50"),
    ("org_name", "x" * 201, "at most 200"),
    ("directory_name", "Okta\r\nBcc: victim@example.com", "line breaks"),
    ("notes", "n" * 2001, "at most 2000"),
    ("thresholds", [0], "1 to 365"),
    ("thresholds", [True], "1 to 365"),
    ("label", ["x"], "string"),
])
def test_each_bad_field_gets_its_own_message(client, admin, field, value, says):
    error = assert_error(client.post("/api/v1/keys", json=a_key(**{field: value}), headers=admin), 400, "invalid")
    assert list(error["fields"]) == [field]
    assert says in error["fields"][field]
    assert client.get("/api/v1/keys", headers=admin).get_json() == {"keys": []}


def test_required_fields_are_named_when_missing(client, admin):
    error = assert_error(client.post("/api/v1/keys", json={"org_name": "Acme"}, headers=admin), 400)
    assert error["fields"] == {"org_id": "is required", "expires_at": "is required"}


@pytest.mark.parametrize("secret_field", ["api_key", "key", "secret", "token", "value", "API_KEY"])
def test_a_key_value_is_refused_and_never_stored(client, admin, data_dir, secret_field):
    error = assert_error(client.post("/api/v1/keys", json=a_key(**{secret_field: "s3cr3t-value"}), headers=admin),
                         400)
    assert "never stores key values" in error["fields"][secret_field]
    stored = stored_bytes(data_dir).decode()
    assert "s3cr3t-value" not in stored


def test_unknown_and_server_made_fields_are_refused(client, admin):
    error = assert_error(client.post("/api/v1/keys", json=a_key(colour="red", id="mine"), headers=admin), 400)
    assert "unknown field" in error["fields"]["colour"]
    assert "set by the server" in error["fields"]["id"]


def test_a_secret_field_in_a_patch_is_refused(client, admin):
    key = client.post("/api/v1/keys", json=a_key(), headers=admin).get_json()
    assert_error(client.patch(f"/api/v1/keys/{key['id']}", json={"secret": "x"}, headers=admin), 400)


@pytest.mark.parametrize("body, content_type, status, code", [
    ("{", "application/json", 400, "bad_json"),
    ("[1, 2]", "application/json", 400, "invalid"),
    ('"text"', "application/json", 400, "invalid"),
    ("", "application/json", 400, "bad_json"),
    (b"\xff\xfe", "application/json", 400, "bad_json"),
    ("org_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"org_id": "a"}', "text/plain", 415, "unsupported_media_type"),
    ("x" * (64 * 1024 + 1), "application/json", 413, "payload_too_large"),
])
def test_malformed_bodies_get_a_json_error(client, admin, body, content_type, status, code):
    response = client.post("/api/v1/keys", data=body, content_type=content_type, headers=admin)
    assert_error(response, status, code)


def test_a_body_just_under_the_limit_is_read(client, admin):
    body = json.dumps(a_key(notes="n" * 2000))
    padded = body + " " * (64 * 1024 - len(body))
    assert client.post("/api/v1/keys", data=padded, content_type="application/json", headers=admin).status_code == 201


def test_unknown_paths_and_methods_are_json_errors(client, admin):
    assert_error(client.get("/api/v1/nothing", headers=admin), 404, "not_found")
    response = client.put("/api/v1/keys", headers=admin)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/keys"), ("POST", "/api/v1/keys"), ("GET", "/api/v1/keys/x"),
    ("PATCH", "/api/v1/keys/x"), ("DELETE", "/api/v1/keys/x"), ("POST", "/api/v1/keys/x/rotate"),
    ("GET", "/api/v1/banners"),
])
def test_every_api_route_needs_a_token(client, method, path):
    error = assert_error(client.open(path, method=method), 401, "unauthorized")
    assert "Bearer" in error["message"]
    assert_error(client.open(path, method=method, headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(client.open(path, method=method, headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)


def test_a_read_token_cannot_touch_keys_but_can_read_banners(app, client):
    token = app.extensions["scimwatch"].issue_token("read")
    read = {"Authorization": f"Bearer {token}"}
    error = assert_error(client.get("/api/v1/keys", headers=read), 403, "forbidden")
    assert "read scope" in error["message"]
    assert_error(client.post("/api/v1/keys", json=a_key(), headers=read), 403)
    assert client.get("/api/v1/banners", headers=read).status_code == 200


def test_tokens_are_stored_only_as_hashes(app, data_dir):
    token = app.extensions["scimwatch"].issue_token("admin")
    stored = stored_bytes(data_dir).decode()
    assert token not in stored
    assert app.extensions["scimwatch"].scope_of(token) == "admin"


def test_healthz_needs_no_token_and_says_what_it_is(client, admin):
    client.post("/api/v1/keys", json=a_key(), headers=admin)
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["service"] == "scimwatch"
    assert health["db"] == {"status": "ok"}
    assert client.get("/healthz", headers=admin).get_json()["db"] == {
        "status": "ok", "keys": 1, "quarantine": {"count": 0, "records": []}}


def test_the_widget_script_is_served_with_caching_headers(client):
    response = client.get("/widget/scim-banner.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "max-age=300" in response.headers["Cache-Control"]
    assert b"ScimwatchBanner" in response.data
    again = client.get("/widget/scim-banner.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
