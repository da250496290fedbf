"""HTTP API for bearer tokens (DESIGN §11): list, create (shown once), revoke."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from ..store.tokens import TokenNotFound
from .api import json_body, require, scimwatch
from .errors import ApiError

tokens_api = Blueprint("tokens_api", __name__, url_prefix="/api/v1")


@tokens_api.get("/tokens")
@require("admin")
def list_tokens():
    """List tokens by id, scope, label and use; never the token or its hash."""
    return jsonify(tokens=scimwatch().tokens.list())


@tokens_api.post("/tokens")
@require("admin")
def create_token():
    """Create a token; the answer carries it this once (only its hash is stored)."""
    token, view = scimwatch().tokens.issue(json_body())
    return jsonify({**view, "token": token}), 201, {"Location": url_for("tokens_api.list_tokens"),
                                                    "Cache-Control": "no-store"}


@tokens_api.delete("/tokens/<token_id>")
@require("admin")
def revoke_token(token_id):
    """Revoke a token: it is refused from the next request on."""
    try:
        scimwatch().tokens.revoke(token_id)
    except TokenNotFound:
        raise ApiError(404, f"no token with id {token_id[:100]!r}") from None
    return "", 204
