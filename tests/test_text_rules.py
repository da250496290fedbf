"""Text that could lie: dot-segment ids, bidi controls, C1 controls and line separators, non-ASCII digits,
duplicate JSON members and notify addresses a strict relay would refuse (issue 16, items 6 and 10)."""
from __future__ import annotations

import json

import pytest
from conftest import run_cli, server_env

from server.settings import ConfigError, load

VALID_KEY = {"org_id": "6f9c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f", "expires_at": "2026-12-06",
             "directory_name": "Okta", "label": "prod", "notes": "rotate with the IdP team"}
NAME_FIELDS = ("org_name", "directory_name", "label", "notes")
BIDI_CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
                 "\u200e", "\u200f", "\u061c"]
# C1 controls (NEL U+0085 and CSI U+009B among them) and the Unicode line and paragraph separators.
C1_AND_SEPARATORS = ["\x80", "\x85", "\x9b", "\x9f", "\u2028", "\u2029"]


def refused(response, field: str) -> str:
    """Assert a 400 in the one error shape naming `field`; return its message."""
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert field in error["fields"], error
    return error["fields"][field]


def key_count(client, admin) -> int:
    return len(client.get("/api/v1/keys", headers=admin).get_json()["keys"])


# --- ids: no dot segments -------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["org_id", "directory_id"])
@pytest.mark.parametrize("value", [".", "..", "...", "." * 200])
def test_an_id_made_only_of_dots_is_refused(client, admin, field, value):
    says = refused(client.post("/api/v1/keys", json={**VALID_KEY, field: value}, headers=admin), field)
    assert "dots" in says
    key = client.post("/api/v1/keys", json=VALID_KEY, headers=admin).get_json()
    refused(client.patch(f"/api/v1/keys/{key['id']}", json={field: value}, headers=admin), field)
    assert client.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == key


@pytest.mark.parametrize("value", ["a.b", ".a", "a.", "..a", "v1.2.3", "~.", "-..-"])
def test_an_id_with_dots_and_other_characters_is_kept(client, admin, value):
    response = client.post("/api/v1/keys", json={**VALID_KEY, "org_id": value, "directory_id": value},
                           headers=admin)
    assert response.status_code == 201
    assert response.get_json()["org_id"] == value


@pytest.mark.parametrize("value", [" org", "org ", "\u00a0org", "org\u3000"])
def test_an_id_with_surrounding_spaces_is_refused_not_trimmed(client, admin, value):
    refused(client.post("/api/v1/keys", json={**VALID_KEY, "org_id": value}, headers=admin), "org_id")


@pytest.mark.parametrize("value", [".", "..", "a b", "a/b", "%2e%2e"])
def test_a_query_id_outside_the_id_rule_is_refused(client, admin, value):
    for path, name in (("/api/v1/keys", "org_id"), ("/api/v1/banners", "org_id"),
                       ("/api/v1/banners", "directory_id")):
        refused(client.get(path, query_string={name: value}, headers=admin), name)


# --- bidi, C1 controls, line separators -----------------------------------------------------------------

@pytest.mark.parametrize("field", NAME_FIELDS)
@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_bidi_control_in_any_text_field_is_refused_saying_why(client, admin, field, char):
    text = f"Okta {char}6202-12-12"
    says = refused(client.post("/api/v1/keys", json={**VALID_KEY, field: text}, headers=admin), field)
    assert "bidirectional" in says and f"U+{ord(char):04X}" in says
    key = client.post("/api/v1/keys", json=VALID_KEY, headers=admin).get_json()
    refused(client.patch(f"/api/v1/keys/{key['id']}", json={field: text}, headers=admin), field)
    assert client.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == key
    assert key_count(client, admin) == 1


@pytest.mark.parametrize("field", NAME_FIELDS)
@pytest.mark.parametrize("char", C1_AND_SEPARATORS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_c1_control_or_unicode_line_break_in_any_text_field_is_refused(client, admin, field, char):
    says = refused(client.post("/api/v1/keys", json={**VALID_KEY, field: f"Okta{char}Staff"}, headers=admin),
                   field)
    assert "control characters" in says
    assert key_count(client, admin) == 0


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\x1b"], ids=lambda c: f"U+{ord(c):04X}")
def test_notes_keep_only_newlines_and_tabs(client, admin, char):
    refused(client.post("/api/v1/keys", json={**VALID_KEY, "notes": f"one{char}two"}, headers=admin), "notes")
    kept = client.post("/api/v1/keys", json={**VALID_KEY, "notes": "one\n\ttwo"}, headers=admin)
    assert kept.status_code == 201 and kept.get_json()["notes"] == "one\n\ttwo"


def test_right_to_left_text_without_controls_is_kept(client, admin):
    names = {"org_name": "שלום Acme", "directory_name": "مدير 目录 🔑", "label": "Zoë\u200d👩‍💻"}
    response = client.post("/api/v1/keys", json={**VALID_KEY, **names}, headers=admin)
    assert response.status_code == 201
    assert {name: response.get_json()[name] for name in names} == names


def test_the_cli_refuses_a_bidi_control_too(data_dir):
    env = server_env(data_dir)
    result = run_cli("keys", "add", "--org-id", "o1", "--expires-at", "2026-12-06",
                     "--directory-name", "Okta \u202eStaff", env=env)
    assert result.returncode != 0 and "bidirectional" in result.stderr
    assert "no keys recorded" in run_cli("keys", "list", env=env).stdout


def test_keys_list_shows_invisible_characters_escaped(data_dir):
    env = server_env(data_dir)
    added = run_cli("keys", "add", "--org-id", "o1", "--expires-at", "2026-12-06",
                    "--directory-name", "Okta\u200bStaff\u2060", env=env)
    assert added.returncode == 0, added.stderr
    listed = run_cli("keys", "list", env=env).stdout
    assert "Okta\\u200bStaff\\u2060" in listed
    assert "\u200b" not in listed and "\u2060" not in listed


# --- digits -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "٢٠٢٦-12-06", "2026-١٢-06", "2026-12-٠٦", "２０２６-12-06",
    "2026-12-06T0٨:00:00Z", "2026-12-06T08:00:00.٥Z", "2026-12-06T08:00:00+0١:00", "𝟐𝟎𝟐𝟔-12-06",
])
def test_a_time_with_non_ascii_digits_is_refused(client, admin, value):
    refused(client.post("/api/v1/keys", json={**VALID_KEY, "expires_at": value}, headers=admin), "expires_at")
    key = client.post("/api/v1/keys", json=VALID_KEY, headers=admin).get_json()
    refused(client.post(f"/api/v1/keys/{key['id']}/rotate", json={"rotated_at": value}, headers=admin),
            "rotated_at")


@pytest.mark.parametrize("variable", ["SCIMWATCH_CHECK_MINUTES", "SCIMWATCH_EXPIRED_REPEAT_DAYS"])
def test_a_whole_number_setting_with_non_ascii_digits_is_refused(variable):
    with pytest.raises(ConfigError) as raised:
        load({variable: "١٥"})
    assert str(raised.value).startswith(variable)


def test_an_origin_port_with_non_ascii_digits_is_refused():
    with pytest.raises(ConfigError):
        load({"SCIMWATCH_BANNER_ORIGINS": "https://intranet.example.com:٨٠"})


# --- duplicate JSON members -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, member", [
    ('{"org_id": "a", "expires_at": "2026-12-06", "org_id": "b"}', "org_id"),
    ('{"org_id": "a", "expires_at": "2026-12-06", "label": "x", "label": "x"}', "label"),
    ('{"org_id": "a", "expires_at": "2026-12-06", "api_key": "s", "api_key": "s"}', "api_key"),
    ('{"org_id": "a", "expires_at": "2026-12-06", "notify": [], "n\\u006ftify": []}', "notify"),
])
def test_a_body_naming_a_member_twice_is_refused_naming_it(client, admin, raw, member):
    response = client.post("/api/v1/keys", data=raw, content_type="application/json", headers=admin)
    says = refused(response, member)
    assert "more than once" in says
    assert response.get_json()["error"]["code"] == "bad_json"
    assert key_count(client, admin) == 0


def test_a_duplicate_member_in_a_nested_object_or_a_rotation_is_refused(client, admin):
    key = client.post("/api/v1/keys", json=VALID_KEY, headers=admin).get_json()
    for path, raw in ((f"/api/v1/keys/{key['id']}", '{"thresholds": [7], "x": {"a": 1, "a": 2}}'),
                      (f"/api/v1/keys/{key['id']}/rotate", '{"expires_at": "2027-01-01", "expires_at": "2030-01-01"}')):
        method = "PATCH" if path.endswith(key["id"]) else "POST"
        response = client.open(path, method=method, data=raw, content_type="application/json", headers=admin)
        assert response.status_code == 400 and "more than once" in response.get_json()["error"]["message"]
    assert client.get(f"/api/v1/keys/{key['id']}", headers=admin).get_json() == key


# --- notify addresses -------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    ".a@example.com", "a.@example.com", "a..b@example.com", ".@example.com", "a@.example.com",
    "a@example..com", "a@example.com.", "a@-example.com", "a@example-.com",
    "l" * 65 + "@example.com", "a@" + "d" * 64 + ".com", "a@" + ".".join(["d" * 63] * 4) + ".com",
    " it@example.com", "it@example.com ", "it@example.com\n", "a\"b@example.com", "a b@example.com",
    "a(b)@example.com", "a@b@example.com", "a@[127.0.0.1]", "a@localhost",
])
def test_a_notify_address_outside_the_dot_atom_form_is_refused(client, admin, address):
    says = refused(client.post("/api/v1/keys", json={**VALID_KEY, "notify": [address]}, headers=admin), "notify")
    assert "not a valid email address" in says


@pytest.mark.parametrize("address", [
    "it@example.com", "first.last@example.com", "o'brien+keys@mail.example.co.uk", "x@a.io",
    "l" * 64 + "@example.com", "a@" + "d" * 63 + ".com", "!#$%&'*+/=?^_`{|}~-@example.com",
    ("l" * 64 + "@" + ".".join(["d" * 61] * 3) + "." + "d" * 4)[:254],
])
def test_a_dot_atom_notify_address_is_kept(client, admin, address):
    response = client.post("/api/v1/keys", json={**VALID_KEY, "notify": [address]}, headers=admin)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["notify"] == [address]


def test_notify_addresses_are_counted_after_duplicates_are_dropped(client, admin):
    addresses = [f"u{n}@example.com" for n in range(50)]
    response = client.post("/api/v1/keys", json={**VALID_KEY, "notify": [*addresses, "U0@Example.com", *addresses]},
                           headers=admin)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["notify"] == addresses
    says = refused(client.post("/api/v1/keys", json={**VALID_KEY, "notify": [*addresses, "u50@example.com"]},
                               headers=admin), "notify")
    assert "at most 50" in says


@pytest.mark.parametrize("value", [".ops@example.com", "ops..team@example.com", "ops.@example.com"])
def test_a_notify_setting_outside_the_dot_atom_form_is_refused(value):
    with pytest.raises(ConfigError) as raised:
        load({"SCIMWATCH_NOTIFY": value})
    assert str(raised.value).startswith("SCIMWATCH_NOTIFY")


def test_a_sender_outside_the_dot_atom_form_is_refused():
    with pytest.raises(ConfigError):
        load({"SCIMWATCH_MAIL_FROM": "scim..watch@localhost"})


def test_the_error_for_a_bad_address_keeps_the_address_escaped(client, admin):
    response = client.post("/api/v1/keys", json={**VALID_KEY, "notify": ["a\u202e@example.com"]}, headers=admin)
    says = refused(response, "notify")
    assert "\u202e" not in says and "\\u202e" in says
    assert json.loads(response.get_data(as_text=True))["error"]["fields"]["notify"] == says
