"""Protocol edges (issue 16, item 7): never HTML under /api/, nosniff on every answer, and JSON that a page
can inline without being broken out of."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from conftest import ADMIN_TOKEN

from server import create_app

ESCAPED = "</script><script>alert(1)</script> & <!-- -->"
KEY = {"org_id": "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "expires_at": "2026-12-06", "org_name": ESCAPED,
       "directory_id": "dir-1", "directory_name": ESCAPED, "label": "<b>&amp;</b>", "notes": "a<b>c&d",
       "notify": ["it@example.com"]}


def assert_json_error(response, status: int | None = None):
    """Assert the answer is the one JSON error shape, not an HTML page or a redirect."""
    body = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert response.headers["Content-Type"].startswith("application/json"), body[:200]
    assert "<" not in body
    if status is not None:
        assert response.status_code == status, body[:200]
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "fields"}


# --- never HTML under /api/ -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/api/v1//banners", "/api//v1/keys", "/api/v1/keys//", "/api/v1//keys/x/rotate", "/api/v1/keys/x//rotate",
    "/api/v1/banners/", "/api/v1/keys/", "/api/v1/deliveries//", "/healthz/",
])
def test_a_path_with_extra_slashes_answers_json_not_a_redirect(client, admin, path):
    for method in ("GET", "POST", "PATCH", "DELETE"):
        response = client.open(path, method=method, headers=admin)
        assert_json_error(response, 404)
        assert "Location" not in response.headers


def test_no_api_route_ends_with_a_slash_so_werkzeug_never_redirects_to_one(app):
    # The UI's pages (/ and /ui/) may: a browser follows a redirect; an API client should not have to.
    api_rules = [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(("/api/", "/healthz"))]
    assert api_rules and [rule for rule in api_rules if rule.endswith("/")] == []


def test_any_werkzeug_redirect_under_the_api_answers_json(app, client, admin):
    # A rule ending in a slash makes werkzeug redirect the slash-less path (strict_slashes).
    app.add_url_rule("/api/v1/probe/", "probe", lambda: {"probe": True})
    response = client.get("/api/v1/probe", headers=admin)
    assert response.status_code == 308
    assert_json_error(response)
    assert response.headers["Location"].endswith("/api/v1/probe/")


def test_the_live_server_answers_extra_slashes_with_json(live_server):
    headers = {"Authorization": f"Bearer {live_server.admin_token}"}
    for path in ("/api/v1//banners", "/api/v1/keys//"):
        response = requests.get(live_server.url + path, allow_redirects=False, timeout=10, headers=headers)
        assert_json_error(response, 404)
    # Werkzeug reads leading slashes as one: the real answer, in JSON, without a redirect.
    for path in ("//api/v1/banners", "///api/v1/keys", "//healthz"):
        response = requests.get(live_server.url + path, allow_redirects=False, timeout=10, headers=headers)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


# --- nosniff --------------------------------------------------------------------------------------------

def test_every_answer_says_nosniff(client, admin):
    key = client.post("/api/v1/keys", json=KEY, headers=admin)
    key_path = f"/api/v1/keys/{key.get_json()['id']}"
    answers = [
        key, client.get("/healthz"), client.get("/widget/scim-banner.js"), client.get("/api/v1/keys", headers=admin),
        client.get(key_path, headers=admin), client.patch(key_path, json={"label": "x"}, headers=admin),
        client.post(key_path + "/rotate", headers=admin), client.get("/api/v1/banners", headers=admin),
        client.get("/api/v1/deliveries", headers=admin),
        client.post("/api/v1/reminders/run?dry_run=true", headers=admin),
        client.get("/api/v1/keys"), client.get("/api/v1/nope"), client.put(key_path, headers=admin),
        client.post("/api/v1/keys", data="x", content_type="text/plain", headers=admin),
        client.post("/api/v1/keys", data="{", content_type="application/json", headers=admin),
        client.post("/api/v1/keys", data="x" * 70_000, content_type="application/json", headers=admin),
        client.options("/api/v1/banners", headers={"Origin": "https://admin.atlassian.com",
                                                   "Access-Control-Request-Method": "GET"}),
        client.get("/api/v1//banners"), client.get("/nope"), client.delete(key_path, headers=admin),
    ]
    for response in answers:
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (response.status_code, response.data[:80])


# --- JSON a page can inline -----------------------------------------------------------------------------

def assert_inline_safe(response) -> None:
    """The JSON text holds no <, > or & (they are \\u003c, \\u003e, \\u0026) yet decodes to the same text."""
    body = response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert not {"<", ">", "&"} & set(body), body[:200]


def test_json_answers_escape_markup_characters(client, admin):
    created = client.post("/api/v1/keys", json=KEY, headers=admin)
    assert created.status_code == 201
    assert_inline_safe(created)
    assert "\\u003c/script\\u003e" in created.get_data(as_text=True)
    key = created.get_json()
    assert (key["org_name"], key["label"], key["notes"]) == (ESCAPED, "<b>&amp;</b>", "a<b>c&d")
    path = f"/api/v1/keys/{key['id']}"
    for response in (client.get(path, headers=admin), client.get("/api/v1/keys", headers=admin),
                     client.patch(path, json={"directory_name": "<i>"}, headers=admin),
                     client.post(path + "/rotate", json={"expires_at": "2026-12-20"}, headers=admin),
                     client.get("/api/v1/keys/<script>", headers=admin),
                     client.post("/api/v1/keys", json={**KEY, "<x>": "&"}, headers=admin),
                     client.post("/api/v1/reminders/run?dry_run=true", headers=admin),
                     client.get("/api/v1/deliveries", headers=admin)):
        assert_inline_safe(response)
    assert client.get(path, headers=admin).get_json()["directory_name"] == "<i>"


def test_the_cached_banner_payload_escapes_markup_characters(data_dir):
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN,
                      "CLOCK": lambda: datetime(2026, 11, 29, 9, 0, tzinfo=UTC)})
    try:
        client, admin = app.test_client(), {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert client.post("/api/v1/keys", json=KEY, headers=admin).status_code == 201
        for _ in range(2):  # the second answer comes from the cache
            response = client.get("/api/v1/banners", headers=admin)
            assert_inline_safe(response)
            banner = response.get_json()["banners"][0]
            assert banner["org_name"] == ESCAPED and ESCAPED in banner["title"] + banner["message"]
    finally:
        app.extensions["scimwatch"].close()
