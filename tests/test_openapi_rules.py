"""docs/openapi.json states the server's input rules exactly: each pattern accepts what the server accepts
and nothing else, character by character and date by date (issue 16, item 12)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from server.domain.keys import ValidationError, check_fields, check_rotation
from server.domain.times import parse_time, utcnow

SPEC = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text(encoding="utf-8"))
REQUIRED = {"org_id": "o", "expires_at": "2026-12-06"}


def described(name: str):
    """Return a function telling whether a value meets the document's component schema `name`."""
    validator = Draft202012Validator({**SPEC["components"]["schemas"][name], "components": SPEC["components"]})
    return validator.is_valid


def accepted(fields: dict) -> bool:
    """Return whether the server accepts a key with these fields."""
    try:
        check_fields({**REQUIRED, **fields}, partial=False)
    except ValidationError:
        return False
    return True


def server_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


def disagreements(values, schema_says, server_says) -> list:
    return [value for value in values if schema_says(value) != server_says(value)]


# Every character up to U+3000, plus the planes' edges; each sits between two letters so no anchor decides.
CHARACTERS = [chr(code) for code in range(0x3001)] + ["\ufeff", "\ufffd", "\U0001f511", "\U000e0001", "\U0010ffff"]


@pytest.mark.parametrize("field", ["org_name", "directory_name", "label"])
def test_the_name_pattern_is_the_server_rule(field):
    texts = [f"a{char}b" for char in CHARACTERS] + ["", "x" * 200, "x" * 201, "  spaced  "]
    assert disagreements(texts, described("Name"), lambda text: accepted({field: text})) == []


def test_the_notes_pattern_is_the_server_rule():
    texts = [f"a{char}b" for char in CHARACTERS] + ["", "n" * 2000, "n" * 2001, "one\n\ttwo\n"]
    assert disagreements(texts, described("Notes"), lambda text: accepted({"notes": text})) == []


@pytest.mark.parametrize("field", ["org_id", "directory_id"])
def test_the_id_pattern_is_the_server_rule(field):
    ids = [f"a{char}b" for char in CHARACTERS] + CHARACTERS[:0x80] + [
        "", ".", "..", "." * 200, "." * 201, "a" * 200, "a" * 201, ".a", "a.", "._~-", "~", " a", "a "]
    assert disagreements(ids, described("Id"), lambda value: accepted({field: value})) == []


def test_the_email_pattern_is_the_server_rule():
    addresses = [
        "it@example.com", "a.b@example.com", ".a@example.com", "a.@example.com", "a..b@example.com",
        "l" * 64 + "@example.com", "l" * 65 + "@example.com", "a@" + "d" * 63 + ".com", "a@" + "d" * 64 + ".com",
        "a@" + ".".join(["d" * 63] * 3) + ".co", "a@" + ".".join(["d" * 63] * 3) + ".com", "a@b", "a@b.c",
        "a@-b.com", "a@b-.com", "a@b..com", "a@.b.com", "a@b.com.", "zoë@example.com", "a b@example.com",
        "a@b@c.com", "!#$%&'*+/=?^_`{|}~-@example.com", "a\"b@example.com", "@example.com", "a@", "A@EXAMPLE.COM",
        *[f"a{char}b@example.com" for char in CHARACTERS[:0x100]],
    ]
    assert disagreements(addresses, described("Email"), lambda address: accepted({"notify": [address]})) == []


def every_written_time():
    """Yield dates and date-times around every edge: month ends, leap days, the range's ends, offsets."""
    years = [1999, 2000, 2001, 2004, 2026, 2100, 2400, 2998, 2999, 3000]
    for year in years:
        for month in (0, 1, 2, 4, 12, 13):
            for day in (0, 1, 28, 29, 30, 31, 32):
                date = f"{year:04d}-{month:02d}-{day:02d}"
                yield date
                for time in ("00:00:00", "00:30:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "9:00:00"):
                    for offset in ("Z", "z", "+00:00", "-00:00", "+01:00", "-01:00", "+23:59", "+24:00",
                                   "+05:60", "+0100", ""):
                        yield f"{date}T{time}{offset}"
                yield f"{date}t12:00:00.123456789z"
                yield f"{date} 12:00:00.5+02:00"
                yield f"{date}T12:00:00.1234567890Z"


def test_the_time_pattern_is_the_server_rule():
    times = list(every_written_time())
    assert len(times) > 30_000
    assert disagreements(times, described("TimeInput"), server_time) == []


@pytest.mark.parametrize("text", ["2000-01-01T10:00:00+01:00", "2999-12-31T01:00:00-01:00"])
def test_on_the_edge_days_a_time_must_be_utc(text):
    with pytest.raises(ValueError, match="give the time in UTC"):
        parse_time(text)
    assert server_time(text[:19] + "Z") and server_time(text[:19] + "+00:00")


def test_integral_numbers_are_whole_days():
    # JSON Schema counts 7.0 as an integer; so does the server.
    assert described("Thresholds")([7.0, 3])
    assert check_fields({**REQUIRED, "thresholds": [7.0, 1e1, 3]}, partial=False)["thresholds"] == [10, 7, 3]
    for bad in ([7.5], [True], ["7"], [float("inf")]):
        assert not accepted({"thresholds": bad})


@pytest.mark.parametrize("name", ["org_name", "directory_id", "directory_name", "label", "identity_provider", "kind",
                                  "notify", "thresholds", "notes"])
def test_null_for_an_optional_field_means_its_default_on_create_and_update(name):
    body = {**REQUIRED, name: None}
    assert described("KeyInput")(body) and described("KeyPatch")({name: None})
    assert check_fields(body, partial=False)[name] is None


@pytest.mark.parametrize("name", ["org_id", "expires_at"])
def test_null_for_a_required_field_is_refused_and_described_so(name):
    assert not described("KeyInput")({**REQUIRED, name: None}) and not described("KeyPatch")({name: None})
    assert not accepted({name: None})


def test_a_rotation_takes_null_as_the_default():
    body = {"rotated_at": None, "expires_at": None}
    assert described("Rotation")(body)
    rotated_at, expires_at = check_rotation(body, utcnow())
    assert rotated_at < expires_at


@pytest.mark.parametrize("value", ["", "x", "a" * 200, ".", "..", "a b", "a" * 201, "%2e"])
def test_the_query_id_pattern_is_the_server_rule(client, admin, value):
    response = client.get("/api/v1/banners", query_string={"org_id": value}, headers=admin)
    assert (response.status_code == 200) == described("QueryId")(value)
