"""HTTP API v1 (DESIGN §4): keys and banners."""
from __future__ import annotations

import functools
import json

from flask import Blueprint, current_app, jsonify, request, url_for

from ..domain import expiry, keys, tokens
from .errors import ApiError

api = Blueprint("api", __name__, url_prefix="/api/v1")


def scimwatch():
    """Return this app's scimwatch resources (store, registry, settings, clock)."""
    return current_app.extensions["scimwatch"]


def require(scope: str, *, public_setting: str | None = None):
    """Decorate a view so it needs a bearer token with `scope` (or none when the setting allows)."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            context = scimwatch()
            if public_setting and context.settings[public_setting]:
                return view(*args, **kwargs)
            scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
            challenge = {"WWW-Authenticate": 'Bearer realm="scimwatch"'}
            if scheme.lower() != "bearer" or not presented.strip():
                raise ApiError(401, "send the token as Authorization: Bearer <token>", headers=challenge)
            bearer = context.tokens.identify(presented.strip())
            if bearer is None:
                raise ApiError(401, "the bearer token is not valid", headers=challenge)
            if not tokens.allows(bearer.scope, scope):
                raise ApiError(403, f"this token has the {bearer.scope} scope; this needs {scope}")
            context.tokens.note_use(bearer)
            return view(*args, **kwargs)

        return guarded

    return decorate


NO_BODY = object()


class _DuplicateMember(ValueError):
    """A JSON object names the same member twice; json.loads would silently keep the last."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _refuse_duplicates(pairs: list) -> dict:
    """Build a JSON object, refusing one that names a member more than once."""
    members: dict = {}
    for name, value in pairs:
        if name in members:
            raise _DuplicateMember(name)
        members[name] = value
    return members


def json_body(*, optional: bool = False):
    """Return the request's JSON body, refusing what is not JSON with the right error.

    With `optional`, an empty body returns NO_BODY (a JSON `null` is still a body, and is refused later).
    """
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if optional and not raw.strip():
        return NO_BODY
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as JSON with Content-Type: application/json")
    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_duplicates)
    except _DuplicateMember as duplicate:
        name = duplicate.name[:80]
        raise ApiError(400, f"the body names the member {name!r} more than once; send each member once",
                       code="bad_json", fields={name: "appears more than once"}) from None
    except UnicodeError:
        raise ApiError(400, "the body is not valid UTF-8", code="bad_json") from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply", code="bad_json") from None
    except ValueError as error:
        raise ApiError(400, f"the body is not valid JSON: {error}", code="bad_json") from None
    return body


def query_id(name: str) -> str | None:
    """Return an id from the query string (None when absent or empty), refusing what cannot be an id."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        return keys.check_id(value)
    except ValueError as error:
        raise ApiError(400, f"query parameter {name} is not a valid id", code="invalid",
                       fields={name: str(error)}) from None


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def query_flag(name: str) -> bool:
    """Return a true/false query parameter (absent means false), refusing any other value."""
    value = request.args.get(name, "false").lower()
    if value not in _TRUE + _FALSE:
        raise ApiError(400, f"{name} must be true or false", code="invalid", fields={name: "must be true or false"})
    return value in _TRUE


@api.get("/keys")
@require("admin")
def list_keys():
    """List key records, soonest expiry first."""
    return jsonify(keys=scimwatch().registry.list(query_id("org_id")))


@api.post("/keys")
@require("admin")
def create_key():
    """Create a key record."""
    context = scimwatch()
    record = context.registry.add(json_body(), context.now())
    return jsonify(record), 201, {"Location": url_for("api.read_key", key_id=record["id"])}


@api.get("/keys/<key_id>")
@require("admin")
def read_key(key_id):
    """Return one key record."""
    return jsonify(scimwatch().registry.get(key_id))


@api.patch("/keys/<key_id>")
@require("admin")
def update_key(key_id):
    """Change some fields of a key record."""
    context = scimwatch()
    body = json_body()
    return jsonify(context.registry.update(key_id, body, context.now()))


@api.delete("/keys/<key_id>")
@require("admin")
def delete_key(key_id):
    """Delete a key record."""
    scimwatch().registry.remove(key_id)
    return "", 204


@api.post("/keys/<key_id>/rotate")
@require("admin")
def rotate_key(key_id):
    """Record that a key was regenerated: new expiry, history kept, reminders re-armed."""
    context = scimwatch()
    body = json_body(optional=True)
    return jsonify(context.registry.rotate(key_id, {} if body is NO_BODY else body, context.now()))


@api.post("/keys/<key_id>/acknowledge")
@require("admin")
def acknowledge_key(key_id):
    """Note who is on a key: later emails and banners say so; nothing is silenced."""
    context = scimwatch()
    return jsonify(context.registry.acknowledge(key_id, json_body(), context.now()))


@api.post("/observations")
@require("track")
def observe():
    """Record what a directory page in admin.atlassian.com showed: created, unchanged, rotated or corrected.

    With dry_run=true nothing is written: the answer says what the observation would do and which key it
    matches as stored now, so the extension can ask before it saves.
    """
    context = scimwatch()
    if query_flag("dry_run"):
        result, match = context.registry.preview_observation(json_body())
        return jsonify(result=result, key=match, dry_run=True)
    result, record = context.registry.observe(json_body(), context.now())
    return jsonify(result=result, key=record), 201 if result == "created" else 200


@api.get("/banners")
@require("read", public_setting="PUBLIC_BANNERS")
def banners():
    """Return the banner payload, optionally for one org and directory and from a minimum severity up."""
    context = scimwatch()
    min_severity = request.args.get("min_severity") or "info"
    if min_severity not in expiry.SEVERITY_ORDER:
        choices = ", ".join(expiry.SEVERITY_ORDER)
        raise ApiError(400, f"query parameter min_severity must be one of {choices}", code="invalid",
                       fields={"min_severity": f"must be one of {choices}"})
    payload = context.registry.banners_json(context.now(), query_id("org_id"), query_id("directory_id"),
                                            min_severity)
    return current_app.response_class(payload, mimetype="application/json")


@api.get("/backup")
@require("admin")
def backup():
    """Return the data file as last written, taken under the store lock: one consistent copy (DESIGN §17)."""
    response = current_app.response_class(scimwatch().store.snapshot(), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
