"""docs/openapi.json describes the real API: every route and no other, and real answers match its schemas."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from atlassian_standin import Org, StandIn, api_key, api_token, directory
from conftest import ADMIN_TOKEN
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from server import create_app

SPEC = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def app_routes(app) -> set[tuple[str, str]]:
    """Return (method, OpenAPI path) for every route of the app but the admin UI's HTML pages (DESIGN §12)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == "/" or rule.rule.startswith("/ui/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def documented_routes() -> set[tuple[str, str]]:
    """Return (method, path) for every operation in the document."""
    return {(method, path) for path, item in SPEC["paths"].items() for method in item if method != "parameters"}


@pytest.fixture
def api(data_dir):
    """A test client over an app with a pinned clock."""
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW})
    yield app
    app.extensions["scimwatch"].close()


def test_the_document_is_valid_openapi():
    validate(SPEC)


def test_every_route_is_described_and_every_description_is_a_route(api):
    assert app_routes(api) == documented_routes()


def test_path_parameters_are_described_by_name(api):
    for path, item in SPEC["paths"].items():
        named = set(re.findall(r"{(\w+)}", path))
        described = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert named == described, path


def check(response, method: str, path: str, exercised: set) -> None:
    """Assert the status is documented for the operation and the body matches its schema."""
    operation = SPEC["paths"][path][method]
    exercised.add(operation["operationId"])
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method.upper()} {path} answered {response.status_code}, which is not documented"
    content = documented.get("content", {})
    # An answer documented in several media types (an export) is checked against the one it came in.
    if "application/json" in content and (len(content) == 1 or response.mimetype == "application/json"):
        assert response.mimetype == "application/json"
        schema = {**content["application/json"]["schema"], "components": SPEC["components"]}
        errors = [error.message for error in Draft202012Validator(schema).iter_errors(response.get_json())]
        assert errors == [], f"{method.upper()} {path}: {errors}"
    elif content:
        assert response.mimetype in content
    else:
        assert response.get_data() == b""


def observation_answers(client):
    """Each observation result (§13) and a refusal, in the order that makes them."""
    org = "0b0b0b0b-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
    body = {"org_id": org, "directory_id": "dir-obs", "directory_name": "Seen", "expires_at": "2027-03-01",
            "page_url": f"https://admin.atlassian.com/o/{org}/user-provisioning/directory/dir-obs"}
    path = "/api/v1/observations"
    return [("post", path, client.post(path, headers=ADMIN, json={**body, "expires_at": expires}))
            for expires in ("2027-03-01", "2027-03-01", "2028-03-01", "2027-06-01")] + [
        ("post", path, client.post(path, headers=ADMIN, json={**body, "page_url": "https://evil.example/"}))]


def test_real_answers_match_the_documented_schemas(api):
    client, exercised = api.test_client(), set()
    operations = {operation["operationId"] for item in SPEC["paths"].values()
                  for name, operation in item.items() if name != "parameters"}
    created = []
    for days, provider in ((-2, "okta"), (2, "entra"), (10, "jumpcloud"), (25, "google"), (200, "other")):
        response = client.post("/api/v1/keys", headers=ADMIN, json={
            "org_id": "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "org_name": "Acme", "directory_id": f"dir-{days}",
            "directory_name": "Staff", "identity_provider": provider, "notify": ["it@example.com"],
            "thresholds": [30, 7], "expires_at": (NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")})
        check(response, "post", "/api/v1/keys", exercised)
        created.append(response.get_json()["id"])
    key = "/api/v1/keys/{key_id}"
    answers = [
        ("get", "/healthz", client.get("/healthz")),
        ("get", "/widget/scim-banner.js", client.get("/widget/scim-banner.js")),
        ("get", "/metrics", client.get("/metrics", headers=ADMIN)),
        ("get", "/metrics", client.get("/metrics")),
        ("get", "/api/v1/keys", client.get("/api/v1/keys", headers=ADMIN)),
        ("get", "/api/v1/keys", client.get("/api/v1/keys?org_id=x", headers=ADMIN)),
        ("get", "/api/v1/keys", client.get("/api/v1/keys")),
        ("post", "/api/v1/keys", client.post("/api/v1/keys", headers=ADMIN, json={"org_id": "x", "api_key": "s"})),
        ("post", "/api/v1/keys", client.post("/api/v1/keys", headers=ADMIN, data="x", content_type="text/plain")),
        ("get", key, client.get(f"/api/v1/keys/{created[0]}", headers=ADMIN)),
        ("get", key, client.get("/api/v1/keys/nope", headers=ADMIN)),
        ("patch", key, client.patch(f"/api/v1/keys/{created[1]}", headers=ADMIN, json={"label": "x", "notes": None})),
        ("post", key + "/rotate", client.post(f"/api/v1/keys/{created[2]}/rotate", headers=ADMIN)),
        ("post", key + "/rotate", client.post(f"/api/v1/keys/{created[3]}/rotate", headers=ADMIN,
                                              json={"rotated_at": "2026-11-28", "expires_at": "2027-11-28"})),
        ("get", "/api/v1/banners", client.get("/api/v1/banners", headers=ADMIN)),
        ("get", "/api/v1/banners", client.get("/api/v1/banners?min_severity=expired", headers=ADMIN)),
        ("get", "/api/v1/banners", client.get("/api/v1/banners?org_id=none", headers=ADMIN)),
        ("get", "/api/v1/banners", client.get("/api/v1/banners?min_severity=urgent", headers=ADMIN)),
        ("post", "/api/v1/reminders/run", client.post("/api/v1/reminders/run?dry_run=true", headers=ADMIN)),
        ("post", "/api/v1/reminders/run", client.post("/api/v1/reminders/run", headers=ADMIN)),
        ("post", "/api/v1/reminders/run", client.post("/api/v1/reminders/run?dry_run=maybe", headers=ADMIN)),
        ("get", "/api/v1/deliveries", client.get("/api/v1/deliveries", headers=ADMIN)),
        ("get", "/api/v1/deliveries", client.get(f"/api/v1/deliveries?key_id={created[0]}", headers=ADMIN)),
        ("delete", key, client.delete(f"/api/v1/keys/{created[4]}", headers=ADMIN)),
        ("delete", key, client.delete(f"/api/v1/keys/{created[4]}", headers=ADMIN)),
        ("post", "/api/v1/tokens", client.post("/api/v1/tokens", headers=ADMIN, json={"scope": "read", "label": "x"})),
        ("post", "/api/v1/tokens", client.post("/api/v1/tokens", headers=ADMIN, json={"scope": "root"})),
        ("get", "/api/v1/tokens", client.get("/api/v1/tokens", headers=ADMIN)),
        ("delete", "/api/v1/tokens/{token_id}", client.delete("/api/v1/tokens/nope", headers=ADMIN)),
    ]
    exported = client.get("/api/v1/export?format=csv", headers=ADMIN)
    answers += [
        ("get", "/api/v1/export", exported),
        ("get", "/api/v1/export", client.get("/api/v1/export?format=json", headers=ADMIN)),
        ("get", "/api/v1/export", client.get("/api/v1/export?format=xlsx", headers=ADMIN)),
        ("post", "/api/v1/import", client.post("/api/v1/import?dry_run=true", headers=ADMIN, data=exported.data,
                                               content_type="text/csv")),
        ("post", "/api/v1/import", client.post("/api/v1/import", headers=ADMIN, content_type="application/json",
                                               json={"keys": [{"org_id": "x", "expires_at": "2027-01-01"}]})),
        ("post", "/api/v1/import", client.post("/api/v1/import", headers=ADMIN, data="org_id,expires_at\nx,soon\n",
                                               content_type="text/csv")),
        ("post", "/api/v1/import", client.post("/api/v1/import", headers=ADMIN, data="x", content_type="text/plain")),
        ("get", "/api/v1/sync", client.get("/api/v1/sync", headers=ADMIN)),
        *observation_answers(client),
        ("post", key + "/acknowledge", client.post(f"/api/v1/keys/{created[0]}/acknowledge", headers=ADMIN,
                                                   json={"by": "Alice"})),
        ("post", key + "/acknowledge", client.post(f"/api/v1/keys/{created[0]}/acknowledge", headers=ADMIN,
                                                   json={"by": ""})),
        ("post", key + "/acknowledge", client.post("/api/v1/keys/nope/acknowledge", headers=ADMIN,
                                                   json={"by": "Alice"})),
        ("get", "/api/v1/backup", client.get("/api/v1/backup", headers=ADMIN)),
        ("get", "/api/v1/backup", client.get("/api/v1/backup")),
        ("post", "/api/v1/sync/run", client.post("/api/v1/sync/run", headers=ADMIN)),
    ]
    feed = client.get("/api/v1/calendar.ics", headers=ADMIN)
    answers += [
        ("get", "/api/v1/calendar.ics", feed),
        ("get", "/api/v1/calendar.ics", client.get(f"/api/v1/calendar.ics?org_id=x&token={ADMIN_TOKEN}")),
        ("get", "/api/v1/calendar.ics", client.get("/api/v1/calendar.ics", headers={
            **ADMIN, "If-None-Match": feed.headers["ETag"]})),
        ("get", "/api/v1/calendar.ics", client.get("/api/v1/calendar.ics?token=nope")),
        ("get", "/api/v1/calendar.ics", client.get("/api/v1/calendar.ics?color=red", headers=ADMIN)),
    ]
    made = client.post("/api/v1/tokens", headers=ADMIN, json={"scope": "metrics"}).get_json()
    check(client.delete(f"/api/v1/tokens/{made['id']}", headers=ADMIN), "delete", "/api/v1/tokens/{token_id}",
          exercised)
    for method, path, response in answers:
        check(response, method, path, exercised)
    assert len(client.get("/api/v1/banners", headers=ADMIN).get_json()["banners"]) >= 2
    assert client.get("/api/v1/deliveries", headers=ADMIN).get_json()["deliveries"]
    check(client.get("/r/anything"), "get", "/r/{token}", exercised)
    check(client.post("/r/anything", data={"expires_at": "2027-01-01"}), "post", "/r/{token}", exercised)
    assert exercised == operations


def test_sync_answers_with_orgs_match_the_documented_schemas(data_dir, tmp_path):
    stand_in = StandIn()
    stand_in.orgs["org-a"] = Org("key-a", [api_key(1)], [api_token(1)], [directory(1)])
    keys_file = tmp_path / "keys"
    keys_file.write_text("org-a=key-a\norg-b=key-b\n", encoding="utf-8")
    keys_file.chmod(0o600)
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW,
                      "ATLASSIAN_KEYS_FILE": keys_file, "ATLASSIAN_API_URL": stand_in.url})
    client, exercised = app.test_client(), set()
    try:
        check(client.get("/api/v1/sync", headers=ADMIN), "get", "/api/v1/sync", exercised)
        ran = client.post("/api/v1/sync/run", headers=ADMIN)
        check(ran, "post", "/api/v1/sync/run", exercised)
        check(client.get("/api/v1/sync", headers=ADMIN), "get", "/api/v1/sync", exercised)
        check(client.get("/healthz"), "get", "/healthz", exercised)
        check(client.get("/api/v1/keys", headers=ADMIN), "get", "/api/v1/keys", exercised)
        check(client.get("/api/v1/export?format=json", headers=ADMIN), "get", "/api/v1/export", exercised)
    finally:
        app.extensions["scimwatch"].close()
        stand_in.stop()
    assert [org["status"] for org in ran.get_json()["orgs"]] == ["ok", "error"] and ran.get_json()["untracked"]
