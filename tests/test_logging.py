"""Log lines (SCIMWATCH_LOG_FORMAT): one per request and per reminder cycle, JSON or text, never a secret."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import requests
from conftest import run_cli, server_env

ORG = "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
PUBLIC = "https://scimwatch.example.com"
SMTP_SECRET = "smtp-secret-never-logged"


def log_lines(server) -> list[str]:
    """Return the server's stderr lines, once it has stopped."""
    assert server.stop() == 0
    return [line.rstrip("\n") for line in server.errors]


def test_json_logs_have_a_line_per_request_and_per_cycle_and_no_token_or_secret(live_server_factory):
    server = live_server_factory(env={"SCIMWATCH_LOG_FORMAT": "json", "SCIMWATCH_PUBLIC_URL": PUBLIC,
                                      "SCIMWATCH_SMTP_PASSWORD": SMTP_SECRET})
    expires = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = server.add_key(org_id=ORG, directory_name="Okta", expires_at=expires, notify=["it@acme.example"])
    calendar = server.api("POST", "/api/v1/tokens", json={"scope": "calendar", "label": "feed"}).json()["token"]
    assert server.api("GET", f"/api/v1/calendar.ics?token={calendar}&org_id={ORG}", token=None).status_code == 200
    assert server.api("GET", f"/api/v1/banners?org_id={ORG}", token="read").status_code == 200
    wrong = "sw_not_a_real_token_0123456789"
    assert server.api("GET", "/api/v1/keys", token=wrong).status_code == 401
    assert server.api("POST", "/api/v1/reminders/run").status_code == 200
    [mail] = list((server.data_dir / "outbox").glob("*.eml"))
    text = message_from_bytes(mail.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    link = re.search(r"I regenerated it: (\S+)", text).group(1)
    assert requests.get(link.replace(PUBLIC, server.url), timeout=10).status_code == 200
    secrets = {"admin token": server.admin_token, "read token": server.read_token, "calendar token": calendar,
               "wrong token": wrong, "link token": link.rpartition("/")[2], "SMTP password": SMTP_SECRET}

    lines = log_lines(server)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    # Every log line is one JSON object (the only other stderr line is the stop notice).
    assert [line for line in lines if not line.startswith("{")] == ["scimwatch stopped"]
    for name, secret in secrets.items():
        assert not [line for line in lines if secret in line], f"the {name} reached the log"
    requested = [(r["method"], r["path"], r["status"]) for r in records if r["logger"] == "scimwatch.request"]
    assert ("POST", "/api/v1/keys", 201) in requested
    assert ("GET", "/api/v1/calendar.ics", 200) in requested
    assert ("GET", "/api/v1/banners", 200) in requested
    assert ("GET", "/api/v1/keys", 401) in requested
    assert ("GET", "/r/<token>", 200) in requested
    assert all(isinstance(r["duration_ms"], float) and r["time"].endswith("Z") and r["level"] == "INFO"
               for r in records if r["logger"] == "scimwatch.request")
    cycles = [r for r in records if r["logger"] == "scimwatch.cycle"]
    # The cycle at start (nothing due yet) and the one run over the API (the key's reminder).
    assert {(r["due"], r["sent"], r["failed"]) for r in cycles} >= {(1, 1, 0)}
    assert all("duration_ms" in r for r in cycles) and key["id"] not in json.dumps(cycles)


def test_text_logs_keep_each_request_on_one_line_whatever_its_path(live_server_factory):
    server = live_server_factory()
    forged = "2026-01-01T00:00:00.000Z INFO scimwatch.request: GET /ui/ 200"
    assert server.api("GET", "/nothing%0A" + forged.replace(" ", "%20")).status_code == 404
    lines = log_lines(server)
    [line] = [line for line in lines if "/nothing" in line]
    # One line, said once: the message carries method, path, status and duration; no name=value repeats them.
    assert re.search(r"INFO scimwatch\.request: GET /nothing\\n.* 404 [0-9.]+ ms$", line), line
    assert "duration_ms=" not in line
    assert "/nothing\\n2026-01-01" in line and not any(line.startswith(forged) for line in lines)


def test_an_unknown_log_format_stops_start_up_naming_the_variable(data_dir):
    result = run_cli(env=server_env(data_dir, {"SCIMWATCH_LOG_FORMAT": "xml"}))
    assert result.returncode != 0
    assert "SCIMWATCH_LOG_FORMAT" in result.stderr and "xml" in result.stderr
