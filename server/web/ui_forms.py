"""Key forms to API request bodies: the UI checks nothing itself, the API's validation decides (DESIGN §12)."""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from ..domain.keys import EDITABLE_FIELDS, ValidationError, parse_escalation

# Form inputs that are lists in the API: addresses one per line or comma-separated, days and tags
# comma-separated; escalation is one STAGE=ADDRESS[,ADDRESS] per line, as in SCIMWATCH_ESCALATION.
_SEPARATORS = {"notify": re.compile(r"[,\r\n]+"), "thresholds": re.compile(r"[,\s]+"),
               "channels": re.compile(r"[,\s]+")}
NOT_FIELDS = ("csrf_token",)


def form_values(form: MultiDict) -> dict[str, str]:
    """Return the text of each key field as typed (empty when absent), for showing the form again."""
    return {name: form.get(name, "") for name in EDITABLE_FIELDS}


def key_body(form: MultiDict, *, partial: bool) -> dict:
    """Return the API body a key form stands for.

    An empty field is left out of a new key (so defaults apply and required fields are reported
    missing) and is null in an edit (so it resets to its default, or is reported as required).
    Any other posted name goes through too, so the API's own rules refuse it (unknown field, key value).
    """
    body: dict = {}
    for name in form:
        if name in NOT_FIELDS:
            continue
        text = form.get(name, "")
        if not text.strip():
            if partial and name in EDITABLE_FIELDS:
                body[name] = None
            continue
        body[name] = _value(name, text)
    return body


def _value(name: str, text: str):
    if name == "notify":
        return [address.strip() for address in _SEPARATORS["notify"].split(text) if address.strip()]
    if name == "thresholds":
        # Whole numbers become numbers; anything else goes as typed, for the API to explain.
        return [int(days) if days.isdigit() and days.isascii() else days
                for days in _SEPARATORS["thresholds"].split(text.strip()) if days]
    if name == "channels":
        return [tag for tag in _SEPARATORS["channels"].split(text.strip()) if tag]
    if name == "escalation":
        try:
            return parse_escalation(text)
        except ValueError as error:
            raise ValidationError({"escalation": str(error)}) from None
    if name == "notes":
        # Browsers send a textarea's line breaks as CRLF; the record keeps what the admin typed.
        return text.replace("\r\n", "\n")
    return text


def field_errors(error: ValidationError, shown: tuple[str, ...] = EDITABLE_FIELDS) -> tuple[dict, list]:
    """Split the API's messages into those shown next to a field of the form and the rest (shown on top)."""
    by_field = {name: text for name, text in error.fields.items() if name in shown}
    others = [f"{name}: {text}" for name, text in error.fields.items() if name not in shown]
    return by_field, others
