"""What the extension needs from the server: a dry run of an observation, and CORS for its origin alone."""
import json

import pytest

from server.store.storage import DATA_FILE

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
PAGE = f"https://admin.atlassian.com/o/{ORG}/user-provisioning/directory/dir-1"
EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
SEEN = {"org_id": ORG, "directory_id": "dir-1", "directory_name": "Okta production",
        "expires_at": "2027-03-01", "page_url": PAGE}


@pytest.fixture
def track(client, admin):
    made = client.post("/api/v1/tokens", json={"scope": "track", "label": "extension"}, headers=admin).get_json()
    return {"Authorization": f"Bearer {made['token']}"}


def stored_keys(data_dir) -> dict:
    path = data_dir / DATA_FILE
    return json.loads(path.read_text()).get("keys", {}) if path.exists() else {}


def dry_run(client, headers, **overrides):
    return client.post("/api/v1/observations?dry_run=true", json={**SEEN, **overrides}, headers=headers)


def test_a_dry_run_says_each_result_and_the_key_as_stored_and_writes_nothing(client, track, data_dir):
    assert dry_run(client, track).get_json() == {"result": "created", "key": None, "dry_run": True}
    assert stored_keys(data_dir) == {}
    key = client.post("/api/v1/observations", json=SEEN, headers=track).get_json()["key"]
    before = stored_keys(data_dir)
    for expires_at, result in (("2027-03-01", "unchanged"), ("2028-03-01", "rotated"), ("2027-01-01", "corrected")):
        answer = dry_run(client, track, expires_at=expires_at)
        assert answer.status_code == 200
        assert answer.get_json() == {"result": result, "key": key, "dry_run": True}
    assert stored_keys(data_dir) == before


def test_a_dry_run_validates_like_a_real_one_and_a_read_token_gets_403(client, track, admin):
    bad = dry_run(client, track, expires_at="1 Mar 2027")
    assert bad.status_code == 400 and "expires_at" in bad.get_json()["error"]["fields"]
    made = client.post("/api/v1/tokens", json={"scope": "read", "label": "old"}, headers=admin).get_json()
    # The extension learns its token cannot track from this 403, before any body check.
    refused = client.post("/api/v1/observations?dry_run=true", json={},
                          headers={"Authorization": f"Bearer {made['token']}"})
    assert refused.status_code == 403 and "track" in refused.get_json()["error"]["message"]
    assert client.post("/api/v1/observations?dry_run=maybe", json=SEEN, headers=track).status_code == 400


def test_an_extension_origin_may_post_observations_and_read_the_answer(client, track):
    preflight = client.options("/api/v1/observations", headers={
        "Origin": EXTENSION, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert {"authorization", "content-type"} <= set(preflight.headers["Access-Control-Allow-Headers"].lower()
                                                     .replace(" ", "").split(","))
    answer = client.post("/api/v1/observations", json=SEEN, headers={**track, "Origin": EXTENSION})
    assert answer.status_code == 201 and answer.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("origin", ["https://admin.atlassian.com", "https://evil.example", "null",
                                    "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP"])
def test_pages_may_not_post_observations_across_origins(client, track, origin):
    preflight = client.options("/api/v1/observations", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    answer = client.post("/api/v1/observations", json=SEEN, headers={**track, "Origin": origin})
    assert "Access-Control-Allow-Origin" not in answer.headers
