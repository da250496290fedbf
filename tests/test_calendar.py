"""The calendar feed (DESIGN §15): events, alarms, SEQUENCE per rotation, scopes, caching, valid RFC 5545."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from conftest import ADMIN_TOKEN

from server import create_app

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FEED = "/api/v1/calendar.ics"


@pytest.fixture
def api(data_dir):
    app = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "CLOCK": lambda: NOW,
                      "THRESHOLDS": "30,7,1"})
    yield app
    app.extensions["scimwatch"].close()


@pytest.fixture
def client(api):
    return api.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def add_key(client, admin, **fields) -> dict:
    body = {"org_id": "acme", "org_name": "Acme", "directory_name": "Okta production", "identity_provider": "okta",
            "expires_at": "2027-01-10T12:00:00Z", **fields}
    response = client.post("/api/v1/keys", headers=admin, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_token(client, admin, scope: str) -> str:
    response = client.post("/api/v1/tokens", headers=admin, json={"scope": scope, "label": scope})
    assert response.status_code == 201
    return response.get_json()["token"]


def events(body: bytes) -> dict:
    """Parse the feed with icalendar and return its events by UID."""
    feed = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in feed.walk("VEVENT")}


# A strict line-level reader written from RFC 5545 §3.1 and §3.4-3.6, independent of icalendar.
_PARAM_VALUE = r'(?:"[^"]*"|[^";:,]*)'
_CONTENT_LINE = re.compile(rf"^([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+={_PARAM_VALUE}(?:,{_PARAM_VALUE})*)*):(.*)$")


def strict_parse(body: bytes) -> list[dict]:
    """Check CRLF endings, 75-octet folding and BEGIN/END nesting; return the components as dicts."""
    assert body.endswith(b"\r\n")
    raw_lines = body[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in raw_lines), "a bare LF or CR"
    for line in raw_lines:
        assert len(line) <= 75, f"line of {len(line)} octets: {line!r}"
        line.decode("utf-8")  # a fold never splits a UTF-8 sequence
    unfolded: list[str] = []
    for line in raw_lines:
        text = line.decode("utf-8")
        if text[:1] in (" ", "\t"):
            assert unfolded, "the first line is a continuation"
            unfolded[-1] += text[1:]
        else:
            unfolded.append(text)
    stack: list[dict] = []
    done: list[dict] = []
    for text in unfolded:
        match = _CONTENT_LINE.match(text)
        assert match, f"not a content line: {text!r}"
        name, value = match.group(1).upper(), match.group(3)
        if name == "BEGIN":
            stack.append({"_type": value, "_children": []})
        elif name == "END":
            component = stack.pop()
            assert component["_type"] == value, f"END:{value} closes {component['_type']}"
            (stack[-1]["_children"] if stack else done).append(component)
        else:
            stack[-1].setdefault(name, []).append(value)
    assert not stack, "unclosed component"
    return done


def test_one_event_per_key_with_steps_url_start_and_an_alarm_per_threshold(client, admin):
    okta = add_key(client, admin)
    entra = add_key(client, admin, directory_name="Entra staff", identity_provider="entra", thresholds=[14, 3],
                    expires_at="2027-02-01")
    response = client.get(FEED, headers=admin)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    found = events(response.data)
    assert set(found) == {f"{okta['id']}@scimwatch", f"{entra['id']}@scimwatch"}
    event = found[f"{okta['id']}@scimwatch"]
    assert event.decoded("DTSTART") == datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Okta production (Acme): SCIM API key expires"
    description = str(event["DESCRIPTION"])
    assert "1. Before you start, open Okta: Applications" in description
    assert "In Okta, click Edit, paste the new key into API token" in description
    assert str(event["URL"]) == "https://admin.atlassian.com/o/acme/overview"
    assert int(event["SEQUENCE"]) == 0
    # Alarms: the server's thresholds for a key without its own, the key's own otherwise.
    assert [alarm.decoded("TRIGGER") for alarm in event.walk("VALARM")] == [timedelta(days=-d) for d in (30, 7, 1)]
    other = found[f"{entra['id']}@scimwatch"]
    assert [alarm.decoded("TRIGGER") for alarm in other.walk("VALARM")] == [timedelta(days=-14), timedelta(days=-3)]
    assert "In Entra, paste the new key into Secret Token" in str(other["DESCRIPTION"])


def test_the_feed_is_strict_rfc_5545_for_a_second_reader(client, admin):
    # Long, non-ASCII and special characters force folding inside multi-byte characters and escaping.
    add_key(client, admin, directory_name="Société Générale — Ørsted; prod, \"EU\" ✓✓✓✓✓✓✓✓✓✓",
            org_name="Ünïcode Org ☃" * 3, notes="x")
    body = client.get(FEED, headers=admin).data
    [feed] = strict_parse(body)
    assert feed["_type"] == "VCALENDAR" and feed["VERSION"] == ["2.0"] and feed["PRODID"]
    [event] = feed["_children"]
    assert event["_type"] == "VEVENT"
    for required in ("UID", "DTSTAMP", "DTSTART", "SUMMARY", "DESCRIPTION", "SEQUENCE", "URL"):
        assert len(event[required]) == 1, required
    assert re.fullmatch(r"\d{8}T\d{6}Z", event["DTSTART"][0])
    assert len(event["_children"]) == 3 and all(alarm["_type"] == "VALARM" for alarm in event["_children"])
    for alarm in event["_children"]:
        assert alarm["ACTION"] == ["DISPLAY"] and alarm["DESCRIPTION"] and re.fullmatch(r"-P\d+D", alarm["TRIGGER"][0])
    # TEXT escaping (§3.3.11): commas and semicolons escaped, no raw newline inside a value.
    assert "Ørsted\\; prod\\, \"EU\"" in event["SUMMARY"][0]
    assert str(events(body).popitem()[1]["SUMMARY"]).startswith("Société Générale — Ørsted; prod, \"EU\" ✓")


def test_sequence_counts_rotations(client, admin):
    key = add_key(client, admin)
    uid = f"{key['id']}@scimwatch"
    assert int(events(client.get(FEED, headers=admin).data)[uid]["SEQUENCE"]) == 0
    for expires in ("2028-01-10", "2029-01-10"):
        rotated = client.post(f"/api/v1/keys/{key['id']}/rotate", headers=admin, json={"expires_at": expires})
        assert rotated.status_code == 200, rotated.get_json()
    event = events(client.get(FEED, headers=admin).data)[uid]
    assert int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTART") == datetime(2029, 1, 10, tzinfo=UTC)


def test_org_filter(client, admin):
    mine = add_key(client, admin)
    add_key(client, admin, org_id="other")
    assert set(events(client.get(FEED + "?org_id=acme", headers=admin).data)) == {f"{mine['id']}@scimwatch"}
    assert events(client.get(FEED + "?org_id=nobody", headers=admin).data) == {}


def test_token_scopes_header_and_query(client, admin):
    add_key(client, admin)
    calendar_token, read_token = make_token(client, admin, "calendar"), make_token(client, admin, "read")
    assert client.get(FEED, headers=bearer(calendar_token)).status_code == 200
    assert client.get(f"{FEED}?token={calendar_token}").status_code == 200
    assert client.get(f"{FEED}?org_id=acme&token={ADMIN_TOKEN}").status_code == 200
    refused = client.get(FEED, headers=bearer(read_token))
    assert refused.status_code == 403 and "calendar" in refused.get_json()["error"]["message"]
    assert client.get(f"{FEED}?token={read_token}").status_code == 403
    for response in (client.get(FEED), client.get(f"{FEED}?token=sw_wrong"), client.get(f"{FEED}?token="),
                     client.get(FEED, headers=bearer("sw_wrong"))):
        assert response.status_code == 401 and response.mimetype == "application/json"
        assert "sw_wrong" not in response.get_data(as_text=True)
    # A calendar token opens the feed only.
    assert client.get("/api/v1/keys", headers=bearer(calendar_token)).status_code == 403
    assert client.get(f"/api/v1/keys?token={calendar_token}").status_code == 401
    # Ambiguous or unknown query parameters are refused, not guessed at.
    # The header, when sent, decides alone, as on every route.
    assert client.get(f"{FEED}?token=sw_wrong", headers=bearer(calendar_token)).status_code == 200
    assert client.get(f"{FEED}?token={calendar_token}", headers=bearer(read_token)).status_code == 403
    twice = client.get(f"{FEED}?token={calendar_token}&token={calendar_token}")
    assert twice.status_code == 400 and twice.get_json()["error"]["fields"] == {"token": "given more than once"}
    assert client.get(f"{FEED}?tokn=x", headers=admin).status_code == 400


def test_etag_and_last_modified_give_304_until_a_key_changes(client, admin):
    key = add_key(client, admin)
    first = client.get(FEED, headers=admin)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified and first.headers["Cache-Control"] == "private, no-cache"
    again = client.get(FEED, headers={**admin, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get(FEED, headers={**admin, "If-Modified-Since": modified}).status_code == 304
    assert client.get(FEED, headers={**admin, "If-None-Match": '"other"'}).status_code == 200
    client.delete(f"/api/v1/keys/{key['id']}", headers=admin)
    # A deletion changes no key's time, yet the feed changed: both validators must miss.
    after = client.get(FEED, headers={**admin, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert events(after.data) == {}


def test_the_token_in_the_query_never_reaches_the_log(live_server_factory):
    server = live_server_factory()
    made = server.api("POST", "/api/v1/tokens", json={"scope": "calendar", "label": "phone"})
    token = made.json()["token"]
    server.add_key(org_id="acme", expires_at="2027-01-10")
    import requests
    assert requests.get(f"{server.url}{FEED}?token={token}", timeout=10).status_code == 200
    assert requests.get(f"{server.url}{FEED}?token={token}x", timeout=10).status_code == 401
    server.stop()
    logged = "".join(server.output + server.errors)
    assert token not in logged
