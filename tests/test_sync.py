"""Atlassian sync (DESIGN §16) against a stand-in of Atlassian's admin APIs on loopback: paging, 429s,
wrong keys, timeouts, malformed bodies, untracked directories, and org admin keys that never leak."""
from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from atlassian_standin import Fault, Org, StandIn, api_key, api_token, directory
from conftest import ADMIN_TOKEN, run_cli, server_env, stored_bytes

from server import create_app
from server.settings import ConfigError, load
from server.sync import service as sync
from server.sync.atlassian import rate_limit_delay

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ORG_A, KEY_A = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "ATATT3xFfGF0aaaaSecretOrgAdminKeyA="
ORG_B, KEY_B = "0d2c7c43-5c1e-4a55-9b49-0c0f5b0a1e21", "ATATT3xFfGF0bbbbSecretOrgAdminKeyB="


@pytest.fixture
def stand_in():
    """A stand-in Atlassian on loopback."""
    server = StandIn()
    yield server
    server.stop()


def write_keys_file(path, lines, mode=0o600):
    """Write a keys file with the given lines and mode; return its path."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


class Synced:
    """An app whose keys file names orgs A and B (keys KEY_A and KEY_B) and whose Atlassian is the stand-in."""

    def __init__(self, data_dir, tmp_path, stand_in, keys=((ORG_A, KEY_A), (ORG_B, KEY_B))):
        keys_file = write_keys_file(tmp_path / "atlassian-keys", ["# org id = org admin API key", "",
                                                                  *(f"{org}={key}" for org, key in keys)])
        self.app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "ATLASSIAN_KEYS_FILE": keys_file,
                               "ATLASSIAN_API_URL": stand_in.url, "CLOCK": lambda: NOW})
        self.client = self.app.test_client()
        self.service = sync.service_for(self.app)
        self.data_dir = data_dir
        self.stand_in = stand_in

    def run(self) -> dict:
        """Run one sync through the API and return its answer."""
        response = self.client.post("/api/v1/sync/run", headers=ADMIN)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def org(self, state: dict, org_id: str) -> dict:
        return next(org for org in state["orgs"] if org["org_id"] == org_id)

    def records(self, kind: str | None = None) -> list[dict]:
        """Return the stored key records (of one kind), by upstream id."""
        records = self.client.get("/api/v1/keys", headers=ADMIN).get_json()["keys"]
        chosen = [record for record in records if kind is None or record["kind"] == kind]
        return sorted(chosen, key=lambda record: record.get("upstream_id") or "")

    def by_upstream_id(self) -> dict[str, dict]:
        """Return the stored key records by upstream id."""
        return {record["upstream_id"]: record for record in self.records()}


@pytest.fixture
def synced(data_dir, tmp_path, stand_in):
    """Orgs A and B in the keys file; A has one key, one token and one directory upstream, B has nothing."""
    stand_in.orgs[ORG_A] = Org(KEY_A, [api_key(1)], [api_token(1)], [directory(1)])
    stand_in.orgs[ORG_B] = Org(KEY_B)
    application = Synced(data_dir, tmp_path, stand_in)
    yield application
    application.app.extensions["scimwatch"].close()


# --- paging and mirroring ---------------------------------------------------------------------------

def test_an_org_of_three_pages_per_list_is_mirrored_in_nine_requests_following_each_cursor(data_dir, tmp_path,
                                                                                           stand_in):
    stand_in.orgs[ORG_A] = Org(KEY_A, [api_key(n) for n in range(5)], [api_token(n) for n in range(5)],
                               [directory(n) for n in range(5)], page_size=2)
    synced = Synced(data_dir, tmp_path, stand_in, keys=((ORG_A, KEY_A),))
    try:
        state = synced.run()
    finally:
        synced.app.extensions["scimwatch"].close()

    assert synced.org(state, ORG_A)["status"] == "ok" and synced.org(state, ORG_A)["error"] is None
    assert len(stand_in.requests) == 9
    assert synced.service.requests == 9
    for path in stand_in.paths(ORG_A).values():
        cursors = [request["query"].get("cursor") for request in stand_in.requests_to(path)]
        assert cursors == [None, "c2", "c4"], path
    assert all(request["authorization"] == f"Bearer {KEY_A}" for request in stand_in.requests)
    assert sorted(synced.service.states.get(ORG_A)["directories"][n]["directory_id"] for n in range(5)) == [
        f"dir-{n}" for n in range(5)]
    assert [record["upstream_id"] for record in synced.records("admin_api_key")] == [f"key-{n}" for n in range(5)]
    assert [record["upstream_id"] for record in synced.records("api_token")] == [f"token-{n}" for n in range(5)]


def test_keys_and_tokens_become_records_with_their_expiry_source_and_the_token_owner_as_recipient(synced):
    synced.run()

    (key,), (token,) = synced.records("admin_api_key"), synced.records("api_token")
    assert key["org_id"] == ORG_A and key["source"] == "atlassian" and key["upstream_id"] == "key-1"
    assert key["expires_at"] == "2027-03-01T12:00:00Z" and key["label"] == "automation key 1"
    assert key["notify"] == [] and key["removed_upstream"] is False
    assert token["upstream_id"] == "token-1" and token["expires_at"] == "2026-12-20T08:30:00Z"
    assert token["label"] == "ci token 1 (dev@acme.example)" and token["notify"] == ["dev@acme.example"]
    # The token is due for reminders and banners like any key.
    banners = synced.client.get("/api/v1/banners", headers=ADMIN).get_json()["banners"]
    assert [banner["key_id"] for banner in banners] == [token["id"]]


def test_odd_text_upstream_is_cleaned_and_trimmed_to_the_key_rules(synced, stand_in):
    stand_in.orgs[ORG_A].api_keys = [{**api_key(1), "name": "line\nbreak \ud800 " + "x" * 300}]
    stand_in.orgs[ORG_A].api_tokens = [{**api_token(1), "user": {"email": "not an address"}}]

    state = synced.run()

    assert synced.org(state, ORG_A)["status"] == "ok"
    (key,), (token,) = synced.records("admin_api_key"), synced.records("api_token")
    assert key["label"].startswith("line break ? xxx") and len(key["label"]) == 200
    assert token["label"] == "ci token 1" and token["notify"] == []


def test_a_key_that_never_expires_is_left_out(synced, stand_in):
    stand_in.orgs[ORG_A].api_tokens = [api_token(1), api_token(2, expires_at=None)]

    synced.run()

    assert [record["upstream_id"] for record in synced.records("api_token")] == ["token-1"]


def test_a_second_sync_keeps_edits_and_a_key_gone_upstream_is_kept_and_marked_then_unmarked(synced, stand_in):
    stand_in.orgs[ORG_A].api_tokens = [api_token(1), api_token(2)]
    synced.run()
    first = synced.by_upstream_id()
    edited = synced.client.patch(f"/api/v1/keys/{first['token-2']['id']}", headers=ADMIN,
                                 json={"notify": ["team@acme.example"], "notes": "rotate with the CI team"})
    assert edited.status_code == 200

    synced.run()
    assert synced.records() == sorted([*(r for r in first.values() if r["upstream_id"] != "token-2"),
                                    edited.get_json()], key=lambda r: r["upstream_id"])

    stand_in.orgs[ORG_A].api_tokens = [api_token(2)]
    synced.run()
    gone = synced.by_upstream_id()
    assert gone["token-1"]["removed_upstream"] is True and gone["token-1"]["id"] == first["token-1"]["id"]
    assert gone["token-2"]["notify"] == ["team@acme.example"] and gone["token-2"]["notes"] == "rotate with the CI team"

    stand_in.orgs[ORG_A].api_tokens = [api_token(1), api_token(2)]
    synced.run()
    assert synced.by_upstream_id()["token-1"]["removed_upstream"] is False


def test_directories_without_a_recorded_scim_expiry_are_listed_as_untracked(synced, stand_in):
    stand_in.orgs[ORG_A].directories = [directory(1, "Okta EU"), directory(2, "Entra staff"),
                                        directory(3, "Contractors")]
    for fields in ({"directory_id": "dir-1"}, {"directory_name": "ENTRA STAFF"},
                   {"directory_name": "Contractors", "kind": "api_token"}, {"directory_id": "dir-3", "org_id": ORG_B}):
        created = synced.client.post("/api/v1/keys", headers=ADMIN,
                                     json={"org_id": ORG_A, "expires_at": "2027-01-01", **fields})
        assert created.status_code == 201

    state = synced.run()

    assert state["untracked"] == [{"org_id": ORG_A, "directory_id": "dir-3", "name": "Contractors"}]
    assert synced.client.get("/api/v1/sync", headers=ADMIN).get_json() == state
    synced.client.post("/api/v1/keys", headers=ADMIN,
                       json={"org_id": ORG_A, "directory_id": "dir-3", "expires_at": "2027-01-01"})
    assert synced.client.get("/api/v1/sync", headers=ADMIN).get_json()["untracked"] == []


def test_orgs_never_synced_are_pending(synced):
    state = synced.client.get("/api/v1/sync", headers=ADMIN).get_json()

    assert state == {"orgs": [{"org_id": ORG_A, "status": "pending", "last_sync_at": None, "error": None},
                              {"org_id": ORG_B, "status": "pending", "last_sync_at": None, "error": None}],
                     "untracked": []}


# --- rate limits ----------------------------------------------------------------------------------

def test_a_429_waits_for_retry_after_and_retries_the_same_request(synced, stand_in):
    path = stand_in.paths(ORG_A)["api_keys"]
    stand_in.faults[path] = [Fault(429, {"Retry-After": "1"}, b'{"message": "Too Many Requests"}')]

    state = synced.run()

    assert synced.org(state, ORG_A)["status"] == "ok"
    first, retry = stand_in.requests_to(path)
    assert retry["query"] == first["query"] and retry["at"] - first["at"] >= 0.9
    assert [r["upstream_id"] for r in synced.records("admin_api_key")] == ["key-1"]


def test_a_429_waits_until_x_ratelimit_reset(synced, stand_in):
    path = stand_in.paths(ORG_A)["api_tokens"]
    reset = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stand_in.faults[path] = [Fault(429, {"X-RateLimit-Reset": reset})]

    state = synced.run()

    assert synced.org(state, ORG_A)["status"] == "ok"
    first, retry = stand_in.requests_to(path)
    assert retry["at"] - first["at"] >= 0.9


@pytest.mark.parametrize("headers", [{"Retry-After": "120"}, {"Retry-After": "61"},
                                     {"X-RateLimit-Reset": "2999-01-01T00:00Z"}])
def test_a_429_asking_more_than_60_seconds_leaves_the_org_for_the_next_sync(synced, stand_in, headers):
    synced.run()
    before = synced.records()
    path = stand_in.paths(ORG_A)["directories"]
    stand_in.faults[path] = [Fault(429, headers)]

    state = synced.run()

    org = synced.org(state, ORG_A)
    assert org["status"] == "rate_limited" and "next sync" in org["error"]
    assert org["last_sync_at"] == "2026-11-29T09:00:00Z"  # the last good one
    assert len(stand_in.requests_to(path)) == 2  # one per sync: no retry past the bound
    assert synced.records() == before
    assert synced.org(state, ORG_B)["status"] == "ok"


def test_the_wait_is_read_from_either_header_in_atlassian_s_formats():
    now = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC).timestamp()
    assert rate_limit_delay({"X-RateLimit-Reset": "2026-12-01T10:01Z"}, now) == 30
    assert rate_limit_delay({"Retry-After": "7"}, now) == 7
    assert rate_limit_delay({"retry-after": format_datetime(datetime(2026, 12, 1, 10, 0, 40, tzinfo=UTC),
                                                            usegmt=True)}, now) == 10
    assert rate_limit_delay({"X-RateLimit-Reset": "2026-12-01T10:00Z", "Retry-After": "12"}, now) == 12
    assert rate_limit_delay({"X-RateLimit-Reset": str(int(now) + 20)}, now) == 20
    assert rate_limit_delay({"X-RateLimit-Reset": "soon"}, now) == 5


# --- refused keys, network failures, malformed bodies -----------------------------------------------

def test_a_wrong_key_marks_that_org_unauthorized_with_the_reason_and_others_still_sync(data_dir, tmp_path, stand_in):
    stand_in.orgs[ORG_A] = Org(KEY_A, [api_key(1)])
    stand_in.orgs[ORG_B] = Org("a-different-key", [api_key(2)])
    application = Synced(data_dir, tmp_path, stand_in)
    try:
        state = application.run()
    finally:
        application.app.extensions["scimwatch"].close()

    org_b = application.org(state, ORG_B)
    assert org_b["status"] == "unauthorized" and org_b["last_sync_at"] is None
    assert "HTTP 401" in org_b["error"] and "Unauthorized" in org_b["error"]
    assert application.org(state, ORG_A)["status"] == "ok"


def test_a_key_without_a_scope_marks_the_org_unauthorized_naming_it(synced, stand_in):
    stand_in.faults[stand_in.paths(ORG_A)["directories"]] = [Fault(403, body=json.dumps({"errors": [
        {"title": "Forbidden", "detail": "the API key lacks the scope read:directories:admin"}]}).encode())]

    state = synced.run()

    org = synced.org(state, ORG_A)
    assert org["status"] == "unauthorized" and "read:directories:admin" in org["error"]
    assert synced.records() == []  # all or nothing per org: keys and tokens were listed, nothing was written


def test_a_timeout_leaves_the_records_as_they_were(synced, stand_in):
    synced.run()
    before = synced.records()
    synced.service.timeout = 0.5
    stand_in.faults[stand_in.paths(ORG_A)["api_tokens"]] = [Fault(delay=3)]

    state = synced.run()

    org = synced.org(state, ORG_A)
    assert org["status"] == "error" and "timed out" in org["error"]
    assert synced.records() == before


def test_an_unreachable_atlassian_marks_every_org_error(data_dir, tmp_path, stand_in):
    application = Synced(data_dir, tmp_path, stand_in)
    stand_in.stop()
    try:
        state = application.run()
    finally:
        application.app.extensions["scimwatch"].close()
    assert {org["status"] for org in state["orgs"]} == {"error"}
    assert all("cannot reach" in org["error"] for org in state["orgs"])


@pytest.mark.parametrize("body", [
    pytest.param(b"<html>Service Unavailable</html>", id="html"),
    pytest.param(b'{"data": "not a list"}', id="data-not-a-list"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(json.dumps({"data": [{"label": "no id", "expiresAt": "2027-01-01T00:00:00Z"}]}).encode(), id="no-id"),
    pytest.param(json.dumps({"data": [{**api_token(9), "expiresAt": "soon"}]}).encode(), id="bad-expiry"),
    pytest.param(json.dumps({"data": [], "links": {"next": 5}}).encode(), id="bad-cursor"),
    pytest.param(b'{"data": [], "links": {"next": "c0"}}', id="cursor-loop"),
    pytest.param(json.dumps({"data": [{**api_token(9), "id": "line\nbreak"}]}).encode(), id="bad-id"),
])
def test_a_malformed_body_leaves_the_records_as_they_were(synced, stand_in, body):
    synced.run()
    before = synced.records()
    path = stand_in.paths(ORG_A)["api_tokens"]
    stand_in.faults[path] = [Fault(200, body=body)] * 3

    state = synced.run()

    org = synced.org(state, ORG_A)
    assert org["status"] == "error" and org["error"]
    assert synced.records() == before


def test_an_upstream_server_error_is_reported_with_its_status(synced, stand_in):
    stand_in.faults[stand_in.paths(ORG_A)["api_keys"]] = [Fault(503, body=b'{"message": "down for maintenance"}')]

    org = synced.org(synced.run(), ORG_A)

    assert org["status"] == "error" and "HTTP 503" in org["error"] and "down for maintenance" in org["error"]


def test_redirects_and_next_pages_on_another_host_are_not_followed(synced, stand_in):
    elsewhere = StandIn()
    try:
        keys_path, tokens_path = stand_in.paths(ORG_A)["api_keys"], stand_in.paths(ORG_A)["api_tokens"]
        stand_in.faults[keys_path] = [Fault(302, {"Location": elsewhere.url + keys_path})]
        org = synced.org(synced.run(), ORG_A)
        assert org["status"] == "error" and "HTTP 302" in org["error"]

        stand_in.faults[tokens_path] = [Fault(200, body=json.dumps(
            {"data": [], "links": {"next": elsewhere.url + tokens_path + "?cursor=x"}}).encode())]
        org = synced.org(synced.run(), ORG_A)
        assert org["status"] == "error" and "another host" in org["error"]
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


# --- the org admin keys stay secret -----------------------------------------------------------------

def test_the_org_admin_keys_reach_no_data_file_log_or_answer(synced, stand_in, caplog):
    caplog.set_level(logging.DEBUG)
    # Atlassian echoing the key back in an error must not carry it into a reason either.
    stand_in.faults[stand_in.paths(ORG_A)["api_keys"]] = [Fault(401, body=json.dumps(
        {"message": f"key {KEY_A} is not valid"}).encode())]
    answers = [synced.run()]
    answers.append(synced.run())
    texts = [json.dumps(answer) for answer in answers]
    for path in ("/api/v1/sync", "/api/v1/keys", "/api/v1/export?format=csv", "/api/v1/export?format=json",
                 "/healthz"):
        texts.append(synced.client.get(path, headers=ADMIN).get_data(as_text=True))
    texts += [caplog.text, stored_bytes(synced.data_dir).decode(), repr(synced.service.org_keys),
              str(synced.service.org_keys), repr(synced.app.extensions["scimwatch"].settings)]

    assert "[key]" in synced.org(answers[0], ORG_A)["error"]
    for text in texts:
        assert KEY_A not in text and KEY_B not in text


# --- not configured, /healthz, the keys file --------------------------------------------------------

def test_without_a_keys_file_sync_is_off(client, admin):
    assert client.get("/api/v1/sync", headers=admin).get_json() == {"orgs": [], "untracked": []}
    refused = client.post("/api/v1/sync/run", headers=admin)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "sync_not_configured"
    assert client.get("/healthz", headers=admin).get_json()["sync"] == {"status": "off"}


def test_healthz_counts_failing_orgs_and_untracked_directories_without_naming_them(synced, stand_in):
    stand_in.orgs[ORG_B].admin_key = "rotated-upstream"
    synced.run()

    # An admin sees the counts (a stranger not even those); nobody an org or directory name.
    assert "sync" not in synced.client.get("/healthz").get_json()
    health = synced.client.get("/healthz", headers=ADMIN).get_json()

    assert health["sync"] == {"status": "failing", "orgs": 2, "orgs_failing": 1, "untracked_directories": 1,
                              "every_hours": 6, "oldest_sync_at": "2026-11-29T09:00:00Z", "next_sync_at": None}
    assert ORG_A not in json.dumps(health) and "Directory 1" not in json.dumps(health)


@pytest.mark.parametrize("lines, line_number", [
    ([f"{ORG_A}={KEY_A}", KEY_B], 2),
    (["# comment", "", f"not an org id!={KEY_B}"], 3),
    ([f"{ORG_A}=", f"{ORG_B}={KEY_B}"], 1),
    ([f"{ORG_A}={KEY_A}", f"{ORG_A}={KEY_B}"], 2),
    ([f"{ORG_A}={KEY_A} {KEY_B}"], 1),
])
def test_a_malformed_keys_file_stops_start_up_naming_the_file_and_line_but_no_key(tmp_path, lines, line_number):
    path = write_keys_file(tmp_path / "keys", lines)

    with pytest.raises(ConfigError) as raised:
        load({"SCIMWATCH_ATLASSIAN_KEYS_FILE": str(path)})

    message = str(raised.value)
    assert message.startswith(f"SCIMWATCH_ATLASSIAN_KEYS_FILE: {path} line {line_number}:")
    assert KEY_A not in message and KEY_B not in message


def test_a_malformed_keys_file_stops_the_cli_with_that_message(tmp_path):
    path = write_keys_file(tmp_path / "keys", [f"{ORG_A}:{KEY_A}"])
    result = run_cli("keys", "list", env=server_env(tmp_path / "data", {"SCIMWATCH_ATLASSIAN_KEYS_FILE": str(path)}))
    assert result.returncode == 1
    assert f"SCIMWATCH_ATLASSIAN_KEYS_FILE: {path} line 1" in result.stderr and KEY_A not in result.stderr


def test_a_missing_keys_file_stops_start_up():
    with pytest.raises(ConfigError, match="SCIMWATCH_ATLASSIAN_KEYS_FILE: cannot read /nonexistent/keys"):
        load({"SCIMWATCH_ATLASSIAN_KEYS_FILE": "/nonexistent/keys"})


# --- while serving: the periodic job, the start-up warning, the CLI ---------------------------------

def test_a_served_sync_runs_at_start_warns_about_a_readable_keys_file_and_the_cli_runs_one_through_it(
        tmp_path, stand_in, live_server_factory):
    stand_in.orgs[ORG_A] = Org(KEY_A, [api_key(1)], [api_token(1)], [directory(1)])
    keys_file = write_keys_file(tmp_path / "keys", [f"{ORG_A}={KEY_A}"], mode=0o644)
    env = {"SCIMWATCH_ATLASSIAN_KEYS_FILE": str(keys_file), "SCIMWATCH_ATLASSIAN_API_URL": stand_in.url}
    server = live_server_factory(env)
    deadline = time.monotonic() + 20
    while server.api("GET", "/api/v1/sync").json()["orgs"][0]["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.api("GET", "/api/v1/sync").json()["orgs"][0]["status"] == "ok"
    assert server.api("GET", "/healthz").json()["sync"]["next_sync_at"]

    through_server = run_cli("sync", env=server.env)
    assert through_server.returncode == 0, through_server.stderr
    assert f"{ORG_A}  ok  last sync " in through_server.stdout
    assert f"untracked directory: {ORG_A}  dir-1  Directory 1" in through_server.stdout
    assert len(stand_in.requests) == 6  # the start-up sync and the CLI's, three lists each

    assert server.stop() == 0
    output = "".join(server.output + server.errors)
    assert "can be read by other users" in output and "chmod 600" in output
    assert KEY_A not in output and KEY_A not in through_server.stdout + through_server.stderr


def test_the_cli_sync_without_a_server_gives_the_same_output_and_fails_when_an_org_fails(tmp_path, stand_in):
    stand_in.orgs[ORG_A] = Org(KEY_A, [api_key(1)], [], [directory(1)])
    stand_in.orgs[ORG_B] = Org("a-key-that-was-regenerated")
    keys_file = write_keys_file(tmp_path / "keys", [f"{ORG_A}={KEY_A}", f"{ORG_B}={KEY_B}"])
    env = server_env(tmp_path / "data", {"SCIMWATCH_ATLASSIAN_KEYS_FILE": str(keys_file),
                                         "SCIMWATCH_ATLASSIAN_API_URL": stand_in.url})

    result = run_cli("sync", env=env)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{ORG_A}  ok  last sync 20")
    assert lines[1] == f"{ORG_B}  unauthorized  last sync never  (GET /admin/api-access/v1/orgs/{ORG_B}/api-keys " \
                       "refused the org admin API key (HTTP 401): Unauthorized)"
    assert lines[2] == f"untracked directory: {ORG_A}  dir-1  Directory 1"
    listed = run_cli("keys", "list", "--json", env=env)
    assert [key["upstream_id"] for key in json.loads(listed.stdout)["keys"]] == ["key-1"]


def test_the_cli_sync_says_how_to_turn_it_on_when_off(tmp_path, live_server):
    for env in (server_env(tmp_path / "alone"), live_server.env):
        result = run_cli("sync", env=env)
        assert result.returncode == 1
        assert result.stderr.strip() == f"Error: {sync.NOT_CONFIGURED}"



def test_the_dashboard_lists_untracked_directories_with_a_link_to_add_each_expiry(synced, stand_in):
    stand_in.orgs[ORG_A].directories = [directory(1, "Okta <EU>"), directory(2, "Entra staff")]
    synced.client.post("/api/v1/keys", headers=ADMIN, json={"org_id": ORG_A, "directory_id": "dir-2",
                                                            "expires_at": "2027-01-01"})
    synced.run()
    ui = synced.app.test_client()
    page = ui.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert ui.post("/ui/login", data={"token": ADMIN_TOKEN, "csrf_token": token}).status_code == 303

    dashboard = ui.get("/ui/").get_data(as_text=True)

    assert "Directories with no recorded SCIM expiry" in dashboard
    assert "Okta &lt;EU&gt;" in dashboard and "Okta <EU>" not in dashboard and "Entra staff" not in dashboard
    link = re.search(r'href="(/ui/keys/new\?[^"]+)"', dashboard).group(1).replace("&amp;", "&")
    form = ui.get(link).get_data(as_text=True)
    assert f'value="{ORG_A}"' in form and 'value="dir-1"' in form and 'value="Okta &lt;EU&gt;"' in form
