"""The banner API: payload shape, severities, order, per-provider steps, and CORS."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ADMIN_TOKEN

from server import create_app
from server.domain.runbook import IDENTITY_PROVIDERS

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
BANNER_FIELDS = {"id", "key_id", "severity", "title", "message", "org_id", "org_name", "directory_id",
                 "directory_name", "identity_provider", "kind", "label", "expires_at", "days_left", "steps",
                 "docs_url", "action_url", "dismissible", "expires_text", "relative_text"}


@pytest.fixture
def pinned(data_dir):
    """An app whose clock is pinned to NOW, with extra settings per test."""
    apps = []

    def make(**settings):
        app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW, **settings})
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["scimwatch"].close()


def add(client, admin, remaining, **fields):
    body = {"org_id": ORG, "org_name": "Acme", "directory_name": "Okta", "identity_provider": "okta",
            "expires_at": (NOW + remaining).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}
    response = client.post("/api/v1/keys", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def banners(client, admin, query=""):
    response = client.get("/api/v1/banners" + query, headers=admin)
    assert response.status_code == 200
    return response.get_json()


def test_the_payload_has_the_design_shape(pinned, admin):
    client = pinned()
    key = add(client, admin, timedelta(days=6, hours=5))
    payload = banners(client, admin)
    assert payload["generated_at"] == "2026-11-29T09:00:00Z"
    [banner] = payload["banners"]
    assert set(banner) == BANNER_FIELDS
    assert banner["id"] == f"{key['id']}:{key['expires_at']}:warning"
    assert banner["severity"] == "warning" and banner["days_left"] == 6
    assert banner["title"] == "Okta: SCIM API key expires in 6 days"
    assert "provision" in banner["message"] and banner["message"].startswith("Okta (Acme): ")
    assert banner["expires_text"] == "Sat 5 Dec 2026, 14:00 UTC" and banner["relative_text"] == "in 6 days"
    assert banner["docs_url"] == "https://support.atlassian.com/provisioning-users/docs/manage-scim-api-key-expiration/"
    assert banner["action_url"] == f"https://admin.atlassian.com/o/{ORG}/overview"
    assert banner["dismissible"] is True


@pytest.mark.parametrize("remaining, severity, days, title", [
    (-timedelta(days=3, hours=6), "expired", -4, "Okta: SCIM API key expired 3 days ago"),
    (-timedelta(days=1), "expired", -1, "Okta: SCIM API key expired 1 day ago"),
    (-timedelta(hours=1), "expired", -1, "Okta: SCIM API key expired today"),
    (timedelta(0), "expired", 0, "Okta: SCIM API key expired today"),
    (timedelta(hours=5), "critical", 0, "Okta: SCIM API key expires today"),
    (timedelta(days=1, hours=1), "critical", 1, "Okta: SCIM API key expires in 1 day"),
    (timedelta(days=3), "critical", 3, "Okta: SCIM API key expires in 3 days"),
    (timedelta(days=3, seconds=1), "warning", 3, "Okta: SCIM API key expires in 3 days"),
    (timedelta(days=14), "warning", 14, "Okta: SCIM API key expires in 14 days"),
    (timedelta(days=14, seconds=1), "info", 14, "Okta: SCIM API key expires in 14 days"),
    (timedelta(days=30), "info", 30, "Okta: SCIM API key expires in 30 days"),
])
def test_severity_days_left_and_title_at_each_boundary(pinned, admin, remaining, severity, days, title):
    client = pinned()
    add(client, admin, remaining)
    [banner] = banners(client, admin)["banners"]
    assert (banner["severity"], banner["days_left"], banner["title"]) == (severity, days, title)
    assert banner["dismissible"] is (severity != "expired")


def test_a_key_more_than_30_days_out_has_no_banner(pinned, admin):
    client = pinned()
    add(client, admin, timedelta(days=30, seconds=1))
    assert banners(client, admin)["banners"] == []


def test_banners_come_most_urgent_first(pinned, admin):
    client = pinned()
    for days, name in ((20, "info"), (-2, "expired"), (10, "warning-late"), (2, "critical"), (5, "warning-soon")):
        add(client, admin, timedelta(days=days), directory_name=name)
    order = [b["directory_name"] for b in banners(client, admin)["banners"]]
    assert order == ["expired", "critical", "warning-soon", "warning-late", "info"]


def test_banners_filter_by_org_and_directory(pinned, admin):
    client = pinned()
    add(client, admin, timedelta(days=5), directory_id="dir-a")
    add(client, admin, timedelta(days=5), directory_id="dir-b")
    add(client, admin, timedelta(days=5), org_id="other-org")
    assert len(banners(client, admin)["banners"]) == 3
    assert {b["org_id"] for b in banners(client, admin, f"?org_id={ORG}")["banners"]} == {ORG}
    only_b = banners(client, admin, f"?org_id={ORG}&directory_id=dir-b")["banners"]
    assert [b["directory_id"] for b in only_b] == ["dir-b"]
    assert banners(client, admin, "?org_id=nobody")["banners"] == []


def test_the_banner_id_changes_when_severity_escalates_or_the_key_rotates(pinned, admin, data_dir):
    client = pinned()
    key = add(client, admin, timedelta(days=15))
    first = banners(client, admin)["banners"][0]["id"]
    client.patch(f"/api/v1/keys/{key['id']}", json={"expires_at": "2026-12-10"}, headers=admin)
    second = banners(client, admin)["banners"][0]["id"]
    assert first.endswith(":info") and second.endswith(":warning") and first != second
    client.patch(f"/api/v1/keys/{key['id']}", json={"expires_at": "2026-12-01T12:00:00Z"}, headers=admin)
    third = banners(client, admin)["banners"][0]["id"]
    assert third == f"{key['id']}:2026-12-01T12:00:00Z:critical:2"
    client.post(f"/api/v1/keys/{key['id']}/rotate", headers=admin)
    assert banners(client, admin)["banners"] == []


STEP_FACTS = {
    "okta": ["Applications → Atlassian Cloud → Provisioning → Integration", "API token",
             "Test API Credentials", "Tasks → Retry Selected", "Retry All Groups"],
    "entra": ["Admin Credentials", "Secret Token", "Test Connection", "Provision on demand", "Restart provisioning"],
    "google": ["Autoprovisioning"],
    "onelogin": ["SCIM Bearer Token", "API Status", "Users → Provisioning"],
    "jumpcloud": ["Identity Management", "deactivate → update token → reactivate"],
    "pingfederate": ["Outbound Provisioning → Target", "API key", "channel"],
    "pingone": ["PingOne"],
    "other": ["identity provider"],
}


@pytest.mark.parametrize("provider", sorted(IDENTITY_PROVIDERS))
def test_steps_are_written_for_the_keys_identity_provider(pinned, admin, provider):
    client = pinned()
    add(client, admin, timedelta(days=5), identity_provider=provider, directory_name="Corp directory")
    steps = banners(client, admin)["banners"][0]["steps"]
    text = " ".join(steps)
    assert steps[0].startswith("Before you start, open")
    assert "Security → Identity providers → Corp directory → User provisioning" in text
    assert "Regenerate API key" in text and "shown" in text and "only once" in text
    assert "Record the new expiry date in scimwatch" in steps[-1]
    for fact in STEP_FACTS[provider]:
        assert fact in text, (provider, fact)


def test_other_kinds_of_key_get_their_own_title_and_steps(pinned, admin):
    client = pinned()
    add(client, admin, timedelta(days=5), kind="api_token", identity_provider="other")
    [banner] = banners(client, admin)["banners"]
    assert banner["title"] == "Okta: API token expires in 5 days"
    assert any("id.atlassian.com" in step for step in banner["steps"])
    assert "api-tokens" in banner["docs_url"]


def test_public_banners_need_no_token(pinned):
    client = pinned(PUBLIC_BANNERS="true")
    assert client.get("/api/v1/banners").status_code == 200
    assert client.get("/api/v1/keys").status_code == 401


ALLOWED = ["https://admin.atlassian.com", "https://intranet.example.com",
           "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
           "moz-extension://0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"]
DENIED = ["https://admin.atlassian.com.evil.example", "https://evil.example", "http://admin.atlassian.com",
          "https://admin.atlassian.com:8443", "https://xadmin.atlassian.com", "https://intranet.example.com.evil",
          "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", "chrome-extension://qrstuvwxyzqrstuvwxyzqrstuvwxyzqr",
          "chrome-extension://abcdefghijklmnopabcdefghijklmnopa", "null", "moz-extension://not-a-uuid"]


@pytest.mark.parametrize("origin", ALLOWED)
def test_cors_allows_atlassian_configured_and_extension_origins(pinned, admin, origin):
    client = pinned(BANNER_ORIGINS="https://intranet.example.com")
    response = client.get("/api/v1/banners", headers={**admin, "Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Credentials" not in response.headers
    preflight = client.options("/api/v1/banners", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


@pytest.mark.parametrize("origin", DENIED)
def test_cors_sends_nothing_to_other_origins_and_look_alikes(pinned, admin, origin):
    client = pinned(BANNER_ORIGINS="https://intranet.example.com")
    response = client.get("/api/v1/banners", headers={**admin, "Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/api/v1/banners", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_covers_only_the_banner_api(pinned, admin):
    client = pinned()
    for path in ("/api/v1/keys", "/healthz", "/api/v1/banners/x"):
        response = client.get(path, headers={**admin, "Origin": "https://admin.atlassian.com"})
        assert "Access-Control-Allow-Origin" not in response.headers, path


def test_an_unauthorized_banner_request_is_still_readable_by_an_allowed_origin(pinned):
    client = pinned()
    response = client.get("/api/v1/banners", headers={"Origin": "https://admin.atlassian.com"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://admin.atlassian.com"


def test_banners_follow_the_clock_second_by_second_across_day_boundaries(data_dir, admin):
    clock = {"now": NOW}
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: clock["now"]})
    client = app.test_client()
    add(client, admin, timedelta(days=3, seconds=2), org_id="org-a")
    add(client, admin, timedelta(days=30, seconds=1), org_id="org-a")
    seen = []
    for seconds in range(5):
        clock["now"] = NOW + timedelta(seconds=seconds)
        seen.append([(b["severity"], b["days_left"]) for b in banners(client, admin, "?org_id=org-a")["banners"]])
    assert seen == [[("warning", 3)],
                    [("warning", 3), ("info", 30)],
                    [("critical", 3), ("info", 29)],
                    [("critical", 2), ("info", 29)],
                    [("critical", 2), ("info", 29)]]
    clock["now"] = NOW
    assert [b["severity"] for b in banners(client, admin, "?org_id=org-a")["banners"]] == ["warning"]
    app.extensions["scimwatch"].close()


def test_the_served_json_is_the_banner_payload(data_dir, admin):
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW})
    client = app.test_client()
    for days in (-1, 2, 9, 20):
        add(client, admin, timedelta(days=days), directory_name='Quote " and \\ backslash ✓')
    registry = app.extensions["scimwatch"].registry
    served = client.get("/api/v1/banners", headers=admin)
    assert served.mimetype == "application/json"
    assert served.get_json() == registry.banners(NOW) == json.loads(registry.banners_json(NOW))
    assert len(served.get_json()["banners"]) == 4
    app.extensions["scimwatch"].close()


def review_keys(client, admin):
    """The usability review's org (DESIGN §5b examples), its clock moved to NOW."""
    add(client, admin, -timedelta(days=3, hours=6), directory_name="Contractors (Entra ID)",
        identity_provider="entra")
    add(client, admin, timedelta(days=2), directory_name="Okta production")
    add(client, admin, timedelta(days=12), directory_name="Google Workspace", identity_provider="google")
    add(client, admin, timedelta(days=25), directory_name="OneLogin EU", identity_provider="onelogin")
    add(client, admin, timedelta(days=200), directory_name="JumpCloud", identity_provider="jumpcloud")


def test_the_summary_names_the_most_urgent_directories_with_their_deadlines(pinned, admin):
    client = pinned()
    review_keys(client, admin)
    payload = banners(client, admin)
    assert [b["relative_text"] for b in payload["banners"]] == ["3 days ago", "in 2 days", "in 12 days", "in 25 days"]
    assert payload["banners"][1]["expires_text"] == "Tue 1 Dec 2026, 09:00 UTC"
    summary = payload["summary"]
    assert set(summary) == {"id", "severity", "count", "title", "text"}
    assert (summary["severity"], summary["count"], summary["title"]) == ("expired", 4,
                                                                         "4 Atlassian keys need rotating")
    assert summary["text"] == ("SCIM provisioning has stopped for Contractors (Entra ID) (expired 3 days ago); "
                               "Okta production expires in 2 days (Tue 1 Dec); and 2 more.")


def test_the_summary_is_null_without_banners_and_singular_for_one(pinned, admin):
    client = pinned()
    assert banners(client, admin)["summary"] is None
    add(client, admin, timedelta(days=9), directory_name="Okta EU")
    summary = banners(client, admin)["summary"]
    assert summary["title"] == "1 Atlassian key needs rotating"
    assert summary["text"] == "Okta EU expires in 9 days (Tue 8 Dec)."


def test_the_summary_id_changes_whenever_a_banner_id_does(data_dir, admin):
    clock = {"now": NOW}
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: clock["now"]})
    client = app.test_client()
    add(client, admin, timedelta(days=10))
    seen = [banners(client, admin)["summary"]["id"]]
    clock["now"] = NOW + timedelta(days=1)  # 9 days left: the same warning, the same id
    seen.append(banners(client, admin)["summary"]["id"])
    other = add(client, admin, timedelta(days=20))  # a second key
    seen.append(banners(client, admin)["summary"]["id"])
    client.delete(f"/api/v1/keys/{other['id']}", headers=admin)
    seen.append(banners(client, admin)["summary"]["id"])
    clock["now"] = NOW + timedelta(days=7, hours=12)  # 2 days left: critical
    seen.append(banners(client, admin)["summary"]["id"])
    clock["now"] = NOW + timedelta(days=8, hours=12)  # 1 day left: critical, one day on
    seen.append(banners(client, admin)["summary"]["id"])
    assert seen[0] == seen[1] == seen[3]
    assert len({seen[0], seen[2], seen[4], seen[5]}) == 4
    app.extensions["scimwatch"].close()


def test_min_severity_leaves_lower_banners_out_of_the_list_and_the_summary(pinned, admin):
    client = pinned()
    review_keys(client, admin)
    every = banners(client, admin)
    assert banners(client, admin, "?min_severity=info") == every
    warning = banners(client, admin, "?min_severity=warning")
    assert [b["severity"] for b in warning["banners"]] == ["expired", "critical", "warning"]
    assert warning["summary"]["count"] == 3 and warning["summary"]["id"] != every["summary"]["id"]
    assert warning["summary"]["text"].endswith("; and 1 more.")
    expired = banners(client, admin, "?min_severity=expired")
    assert [b["directory_name"] for b in expired["banners"]] == ["Contractors (Entra ID)"]
    assert expired["summary"]["text"] == ("SCIM provisioning has stopped for Contractors (Entra ID) "
                                          "(expired 3 days ago).")
    add(client, admin, timedelta(days=20), org_id="info-only")
    assert banners(client, admin, "?org_id=info-only")["summary"]["severity"] == "info"
    assert banners(client, admin, "?org_id=info-only&min_severity=warning") == {
        "generated_at": "2026-11-29T09:00:00Z", "banners": [], "summary": None}


@pytest.mark.parametrize("value", ["WARNING", "low", "0", "info,warning", "warning ", "\u0000"])
def test_an_unknown_min_severity_is_a_400_naming_the_choices(pinned, admin, value):
    client = pinned()
    response = client.get("/api/v1/banners", query_string={"min_severity": value}, headers=admin)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"min_severity": "must be one of expired, critical, warning, info"}


def test_deadlines_read_in_english_with_the_utc_time(pinned, admin):
    client = pinned()
    for when in ("2026-12-04T09:00:00Z", "2026-12-27T23:59:59Z", "2026-12-28"):
        add(client, admin, timedelta(0), expires_at=when, directory_name=when)
    texts = {b["directory_name"]: b["expires_text"] for b in banners(client, admin)["banners"]}
    assert texts == {"2026-12-04T09:00:00Z": "Fri 4 Dec 2026, 09:00 UTC",
                     "2026-12-27T23:59:59Z": "Sun 27 Dec 2026, 23:59 UTC",
                     "2026-12-28": "Mon 28 Dec 2026, 00:00 UTC"}
