"""The tokens API (DESIGN §11): create (shown once), list (never the token), revoke (refused at once)."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN_TOKEN, stored_bytes, wait_for
from smtp_helpers import Clock

from server import create_app
from server.store.storage import stored_tables

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def api(data_dir, clock):
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": clock})
    yield app
    app.extensions["scimwatch"].close()


@pytest.fixture
def client(api):
    return api.test_client()


def create(client, admin, **body):
    response = client.post("/api/v1/tokens", headers=admin, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def stored_tokens(data_dir) -> dict:
    return stored_tables(data_dir)["tokens"]


def test_a_created_token_is_shown_once_and_works_for_its_scope_only(client, admin, data_dir):
    made = create(client, admin, scope="read", label="intranet portal")

    assert set(made) == {"id", "scope", "label", "created_at", "last_used_at", "token"}
    assert (made["scope"], made["label"], made["last_used_at"]) == ("read", "intranet portal", None)
    assert client.get("/api/v1/banners", headers=bearer(made["token"])).status_code == 200
    assert client.get("/api/v1/keys", headers=bearer(made["token"])).status_code == 403
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["tokens"]
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0] and "hash" not in listed[0]
    # Neither the listing nor the data file holds the token itself.
    assert made["token"] not in json.dumps(listed)
    assert made["token"] not in stored_bytes(data_dir).decode()


@pytest.mark.parametrize("scope,banners,keys", [
    ("admin", 200, 200), ("read", 200, 403), ("track", 200, 403), ("calendar", 403, 403), ("metrics", 403, 403)])
def test_each_scope_opens_what_design_says(client, admin, scope, banners, keys):
    token = create(client, admin, scope=scope)["token"]
    assert client.get("/api/v1/banners", headers=bearer(token)).status_code == banners
    assert client.get("/api/v1/keys", headers=bearer(token)).status_code == keys


def test_a_revoked_token_is_refused_from_the_next_request_on(client, admin):
    made = create(client, admin, scope="read")
    assert client.get("/api/v1/banners", headers=bearer(made["token"])).status_code == 200

    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204

    refused = client.get("/api/v1/banners", headers=bearer(made["token"]))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    again = client.delete(f"/api/v1/tokens/{made['id']}", headers=admin)
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("body,field", [
    ({}, "scope"),
    ({"scope": "root"}, "scope"),
    ({"scope": ["read"]}, "scope"),
    ({"scope": "read", "label": "x" * 201}, "label"),
    ({"scope": "read", "label": "line\nbreak"}, "label"),
    ({"scope": "read", "label": 7}, "label"),
    ({"scope": "read", "label": {}}, "label"),
    ({"scope": "read", "label": False}, "label"),
    ({"scope": "read", "token": "sw_mine"}, "token"),
    ([], "body"),
])
def test_a_bad_token_request_says_what_is_wrong_and_stores_nothing(client, admin, data_dir, body, field):
    before = stored_bytes(data_dir)
    response = client.post("/api/v1/tokens", headers=admin, json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    after = stored_bytes(data_dir)
    assert after == before


def test_only_an_admin_token_manages_tokens(client, admin):
    read = create(client, admin, scope="read")["token"]
    assert client.get("/api/v1/tokens", headers=bearer(read)).status_code == 403
    assert client.post("/api/v1/tokens", headers=bearer(read), json={"scope": "admin"}).status_code == 403
    assert client.get("/api/v1/tokens").status_code == 401




def test_last_use_is_stored_at_most_once_a_minute_per_token(client, admin, data_dir, clock):
    made = create(client, admin, scope="read")
    token = bearer(made["token"])

    client.get("/api/v1/banners", headers=token)
    # The banner request does not wait for the disk: the write happens beside it.
    wait_for(lambda: stored_tokens(data_dir)["1"].get("last_used_at") == "2026-12-02T09:00:00Z")
    clock.now += timedelta(seconds=30)
    client.get("/api/v1/banners", headers=token)
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["tokens"][0]
    # The listing shows the newest use; the file keeps the minute-old one until a minute has passed.
    assert listed["last_used_at"] == "2026-12-02T09:00:30Z"
    time.sleep(0.3)
    assert stored_tokens(data_dir)["1"]["last_used_at"] == "2026-12-02T09:00:00Z"
    clock.now += timedelta(seconds=31)
    client.get("/api/v1/banners", headers=token)
    wait_for(lambda: stored_tokens(data_dir)["1"]["last_used_at"] == "2026-12-02T09:01:01Z")


def test_a_refused_request_records_no_use(client, admin, data_dir):
    made = create(client, admin, scope="read")
    before = stored_bytes(data_dir)
    assert client.get("/api/v1/keys", headers=bearer(made["token"])).status_code == 403
    time.sleep(0.3)
    assert stored_bytes(data_dir) == before


def test_uses_not_yet_written_are_written_at_stop(api, data_dir, clock):
    client = api.test_client()
    made = create(client, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, scope="read")
    client.get("/api/v1/banners", headers=bearer(made["token"]))
    wait_for(lambda: stored_tokens(data_dir)["1"].get("last_used_at") == "2026-12-02T09:00:00Z")
    clock.now += timedelta(seconds=10)
    client.get("/api/v1/banners", headers=bearer(made["token"]))

    api.extensions["scimwatch"].close()

    assert stored_tokens(data_dir)["1"]["last_used_at"] == "2026-12-02T09:00:10Z"
