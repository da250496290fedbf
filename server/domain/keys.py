"""Key records: validating input, making, updating and rotating records. Pure, no I/O."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from .reminders import stage_days
from .runbook import IDENTITY_PROVIDERS, KINDS
from .times import DAY, check_year, format_time, parse_time

SECRET_FIELDS = frozenset({"api_key", "apikey", "key", "secret", "token", "value", "password",
                           "api_token", "bearer_token", "scim_token", "key_value"})
EDITABLE_FIELDS = ("org_id", "org_name", "directory_id", "directory_name", "identity_provider",
                   "kind", "label", "expires_at", "notify", "thresholds", "notes", "channels", "escalation")
# Editable but optional in a stored record (records made before them lack them); null removes them.
OPTIONAL_FIELDS = ("thresholds", "channels", "escalation")
# Set by the server and refused on input: `source` says where a record came from (api, ui, cli, extension,
# import, atlassian); `upstream_id` and `removed_upstream` are the Atlassian sync's (DESIGN §16);
# `page_url` and `last_seen_at` come from observations (§13), `acknowledged_*` from an acknowledgement (§14).
SERVER_FIELDS = frozenset({"id", "created_at", "updated_at", "rotated_at", "history", "source", "upstream_id",
                           "removed_upstream", "page_url", "last_seen_at", "acknowledged_by", "acknowledged_at"})
ACKNOWLEDGEMENT_FIELDS = ("acknowledged_by", "acknowledged_at")
SHORT_TEXT_LIMIT = 200
NOTES_LIMIT = 2000
NOTIFY_LIMIT = 50
ROTATION_PERIOD = 365 * DAY

NEVER_STORED = "scimwatch never stores key values: record only the expiry date and where the key is used"
# URL-safe ids: they are placed into admin.atlassian.com links. An id made only of dots would be a
# `.` or `..` path segment and move the link out of /o/{org_id}/, so at least one character is not a dot.
_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]*[A-Za-z0-9_~-][A-Za-z0-9._~-]*\Z")
# RFC 5321 addresses without quoting: a dot-atom local part (atoms joined by single dots) of at most 64
# characters, an ASCII domain of dotted labels of at most 63 characters, 254 characters in all (the
# 256-character path less its angle brackets). SMTP without SMTPUTF8 carries nothing else.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LOCAL_PART = ATOM + r"(?:\." + ATOM + ")*"
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(r"(?=[^@]{1,64}@)(?=.{1,254}\Z)" + LOCAL_PART + "@" + DOMAIN_LABEL
                           + r"(?:\." + DOMAIN_LABEL + r")+\Z", re.ASCII)
# Refused in every text field. Controls (C0, DEL, C1) and line breaks would break mail headers and
# terminal output; bidirectional controls and marks reorder the server's own sentences around a name
# (a date shown as "21-21-6202"); unpaired surrogates cannot be stored or mailed as UTF-8.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_NEWLINE_AND_TAB = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class ValidationError(ValueError):
    """Input that breaks the key rules; `fields` maps each bad field to what is wrong."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{name}: {text}" for name, text in fields.items()))
        self.fields = fields


def _text(value, limit=SHORT_TEXT_LIMIT, newlines=False):
    """Return a free-text value as written, or raise ValueError saying which rule it breaks."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters (got {len(value)})")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode text (it holds an unpaired surrogate)")
    bidi = _BIDI_CONTROL.search(value)
    if bidi:
        raise ValueError(f"must not contain bidirectional control characters (U+{ord(bidi.group()):04X} at "
                         f"character {bidi.start() + 1}): they reorder the text shown around them")
    control = (_CONTROL_EXCEPT_NEWLINE_AND_TAB if newlines else _CONTROL).search(value)
    if control:
        allowed = "other than newline and tab" if newlines else "or line breaks"
        raise ValueError(f"must not contain control characters {allowed} (U+{ord(control.group()):04X} at "
                         f"character {control.start() + 1})")
    return value


def _name(value):
    return _text(value).strip()


def check_id(value):
    """Return an org, directory or key id as given, or raise ValueError saying why it cannot be one."""
    value = _text(value)
    if value and set(value) == {"."}:
        raise ValueError("must not be made only of dots (. and .. would move the link out of the org)")
    if not _ID_PATTERN.match(value):
        raise ValueError("must be non-empty and use only letters, digits and . _ ~ - (no spaces)")
    return value


def _choice(options):
    def check(value):
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value
    return check


def _expires_at(value):
    return format_time(parse_time(value))


def _notify(value):
    if not isinstance(value, list):
        raise ValueError("must be a list of email addresses")
    addresses: dict[str, str] = {}
    for address in value:
        if not isinstance(address, str) or not EMAIL_PATTERN.match(address):
            raise ValueError(f"{str(address)[:80]!r} is not a valid email address (such as it@example.com)")
        addresses.setdefault(address.lower(), address)
    # Repeats (compared without case) are dropped before counting: they would get one mail anyway.
    if len(addresses) > NOTIFY_LIMIT:
        raise ValueError(f"must hold at most {NOTIFY_LIMIT} different addresses (got {len(addresses)})")
    return list(addresses.values())


def _thresholds(value):
    if not isinstance(value, list) or not value or len(value) > 10:
        raise ValueError("must be a list of 1 to 10 whole numbers of days, e.g. [30, 14, 7, 3, 1]")
    # JSON does not tell 7 from 7.0, and JSON Schema counts both as integers.
    if any(isinstance(days, bool) or not isinstance(days, int | float) or not 1 <= days <= 365
           or days != int(days) for days in value):
        raise ValueError("each threshold must be a whole number of days from 1 to 365")
    return sorted({int(days) for days in value}, reverse=True)


def _channels(value, known_tags):
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError("must be a list of channel tags from SCIMWATCH_APPRISE_CONFIG, such as [\"ops\"]")
    if any(not tag.strip() for tag in value):
        raise ValueError("a channel tag must not be empty")
    # Delivery ids compare recipients without case, so tags are lower case throughout.
    tags = list(dict.fromkeys(_text(tag).strip().lower() for tag in value))
    if len(tags) > NOTIFY_LIMIT:
        raise ValueError(f"must hold at most {NOTIFY_LIMIT} different tags (got {len(tags)})")
    unknown = [tag for tag in tags if known_tags is not None and tag not in known_tags]
    if unknown:
        known = f"the known tags are {', '.join(sorted(known_tags))}" if known_tags else \
            "no channels are configured (SCIMWATCH_APPRISE_CONFIG is not set)"
        raise ValueError(f"{', '.join(repr(tag[:40]) for tag in unknown)} is not a channel tag; {known}")
    return tags


def check_escalation(value) -> dict[str, list[str]]:
    """Return an escalation {stage: [addresses]} cleaned, or raise ValueError naming the bad stage or address."""
    if not isinstance(value, dict):
        raise ValueError('must be an object from a stage to addresses, such as {"3d": ["security@example.com"]}')
    cleaned = {}
    for stage, addresses in value.items():
        stage_days(stage)
        try:
            cleaned[stage] = _notify(addresses)
        except ValueError as error:
            raise ValueError(f"stage {stage}: {error}") from None
        if not cleaned[stage]:
            raise ValueError(f"stage {stage}: must list at least one email address")
    # Earliest stage first, as people read a timeline.
    return dict(sorted(cleaned.items(), key=lambda item: -stage_days(item[0])))


def parse_escalation(text: str) -> dict[str, list[str]]:
    """Read escalation written as `3d=security@example.com;expired=cio@example.com,ciso@example.com` (unchecked).

    Parts are separated by `;` or new lines; check_escalation then checks the stages and addresses.
    """
    value: dict[str, list[str]] = {}
    for part in filter(None, (part.strip() for part in text.replace("\n", ";").split(";"))):
        stage, equals, addresses = part.partition("=")
        if not equals:
            raise ValueError(f"{part[:80]!r} must be STAGE=ADDRESS[,ADDRESS], such as 3d=security@example.com")
        value.setdefault(stage.strip(), []).extend(a.strip() for a in addresses.split(",") if a.strip())
    return value


def escalation_text(value) -> str:
    """Write an escalation the way parse_escalation reads it."""
    return ";".join(f"{stage}={','.join(addresses)}" for stage, addresses in value.items())


_RULES = {
    "org_id": check_id,
    "directory_id": check_id,
    "org_name": _name,
    "directory_name": _name,
    "label": _name,
    "notes": lambda v: _text(v, NOTES_LIMIT, newlines=True),
    "identity_provider": _choice(tuple(IDENTITY_PROVIDERS)),
    "kind": _choice(KINDS),
    "expires_at": _expires_at,
    "notify": _notify,
    "thresholds": _thresholds,
    "escalation": check_escalation,
}
_REQUIRED = ("org_id", "expires_at")
_OPTIONAL_DEFAULTS = {"org_name": "", "directory_id": "", "directory_name": "", "label": "", "notes": "",
                      "identity_provider": "other", "kind": "scim", "notify": []}


def check_fields(data, *, partial: bool, known_tags=None) -> dict:
    """Validate client input for a key; return the cleaned fields or raise ValidationError.

    `known_tags` are the channel tags of SCIMWATCH_APPRISE_CONFIG (none when unset); None checks only
    the form of `channels` (a stored record whose tag has since left the configuration stays valid).
    """
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object with the key's fields"})
    problems: dict[str, str] = {}
    cleaned: dict = {}
    rules = {**_RULES, "channels": lambda value: _channels(value, known_tags)}
    for name, value in data.items():
        if name.lower() in SECRET_FIELDS:
            problems[name] = NEVER_STORED
        elif name in SERVER_FIELDS:
            problems[name] = "is set by the server and cannot be written"
        elif name not in rules:
            problems[name] = f"unknown field; known fields are {', '.join(EDITABLE_FIELDS)}"
        elif value is None and name in _REQUIRED:
            problems[name] = "is required"
        elif value is None:
            cleaned[name] = None
        else:
            try:
                cleaned[name] = rules[name](value)
            except ValueError as error:
                problems[name] = str(error)
    if not partial:
        for name in _REQUIRED:
            if name not in data:
                problems[name] = "is required"
    if problems:
        raise ValidationError(problems)
    return cleaned


def new_key(fields: dict, now: datetime, *, source: str = "api", upstream_id: str | None = None,
            key_id: str | None = None) -> dict:
    """Return a new key record from validated fields (a new id unless `key_id` is given)."""
    stamp = format_time(now)
    record: dict = {"id": key_id or str(uuid.uuid4()), **_OPTIONAL_DEFAULTS}
    record.update({name: value for name, value in fields.items() if value is not None})
    record.update(created_at=stamp, updated_at=stamp, rotated_at=None, history=[], source=source,
                  upstream_id=upstream_id, removed_upstream=False)
    return record


def updated_key(record: dict, fields: dict, now: datetime) -> dict:
    """Return the record with validated fields applied; null resets an optional field."""
    changed = dict(record)
    for name, value in fields.items():
        if value is None:
            if name in OPTIONAL_FIELDS:
                changed.pop(name, None)
            else:
                changed[name] = _OPTIONAL_DEFAULTS[name]
        else:
            changed[name] = value
    # A directory page of one org is no deep link for another.
    if changed["org_id"] != record["org_id"]:
        changed.pop("page_url", None)
    changed["updated_at"] = format_time(now)
    return changed


def plain_copy(record) -> dict:
    """Return a plain, independent copy of a record, also of a read-only snapshot of one."""
    return json.loads(json.dumps(record, default=dict))


def check_rotation(data, now: datetime) -> tuple[str, str]:
    """Validate a rotate request body ({} when none was sent); return (rotated_at, expires_at) strings."""
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object with optional rotated_at and expires_at"})
    problems = {name: ("unknown field; rotate accepts rotated_at and expires_at"
                       if name.lower() not in SECRET_FIELDS else NEVER_STORED)
                for name in data if name not in ("rotated_at", "expires_at")}
    times = {}
    for name in ("rotated_at", "expires_at"):
        if data.get(name) is not None:
            try:
                times[name] = parse_time(data[name])
            except ValueError as error:
                problems[name] = str(error)
    if problems:
        raise ValidationError(problems)
    rotated_at = times.get("rotated_at", now)
    expires_at = times.get("expires_at", rotated_at + ROTATION_PERIOD)
    if expires_at <= rotated_at:
        raise ValidationError({"expires_at": "must be later than rotated_at"})
    try:
        check_year(expires_at)
    except ValueError as error:
        raise ValidationError({"expires_at": f"a year after rotated_at, {error}"}) from None
    return format_time(rotated_at), format_time(expires_at)


# A key rotated yearly for decades keeps its last 20 rotations: the record's size stays bounded (DESIGN §17).
HISTORY_LIMIT = 20


def rotated_key(record: dict, rotated_at: str, expires_at: str, now: datetime) -> dict:
    """Return the record after a rotation, remembering the previous expiry in its (capped) history."""
    changed = dict(record)
    changed["history"] = [*record.get("history", []),
                          {"rotated_at": rotated_at, "previous_expires_at": record["expires_at"]}][-HISTORY_LIMIT:]
    changed.update(rotated_at=rotated_at, expires_at=expires_at, updated_at=format_time(now))
    # Someone being on it was about the old key; the new one starts clear.
    for name in ACKNOWLEDGEMENT_FIELDS:
        changed.pop(name, None)
    return changed


def check_acknowledgement(data) -> str:
    """Validate an acknowledgement body {"by": name}; return the name (trimmed)."""
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object with by: who is on it"})
    problems = {name: NEVER_STORED if name.lower() in SECRET_FIELDS else "unknown field; acknowledge accepts by"
                for name in data if name != "by"}
    if "by" not in data or data["by"] is None:
        problems["by"] = "is required: the name of who is on it"
    else:
        try:
            by = _name(data["by"])
            if not by:
                raise ValueError("must not be empty")
        except ValueError as error:
            problems["by"] = str(error)
    if problems:
        raise ValidationError(problems)
    return by


def acknowledged_key(record: dict, by: str, now: datetime) -> dict:
    """Return the record noting who is on it since now; it silences nothing."""
    changed = dict(record)
    stamp = format_time(now)
    changed.update(acknowledged_by=by, acknowledged_at=stamp, updated_at=stamp)
    return changed
