"""Signed one-click links (DESIGN §15): `/r/<token>` confirms, then records a rotation or an acknowledgement.

No session and no sign-in: the signed token is the authority. GET only shows the confirm page and changes
nothing, since mail scanners and link previews follow links; the page's form POSTs to the same address.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request

from ..domain import banners
from ..domain.keys import ValidationError
from ..domain.times import DAY, parse_time
from ..store.links import LinkRefused, Links
from ..store.registry import KeyNotFound
from .ui_common import scimwatch, secure

links = Blueprint("links", __name__, template_folder="templates")
EXTENSION = "scimwatch.links"
# The token is in the address: no other site may be told it through a Referer header.
LINK_HEADERS = {"Referrer-Policy": "no-referrer"}
REFUSALS = {
    "off": (404, "Links are off", "This server makes no one-click links (SCIMWATCH_PUBLIC_URL is not set)."),
    "tampered": (400, "This link is not valid", "The link is damaged or was not made by this server. "
                 "Nothing was changed. Copy the whole link from the email, or record it in scimwatch."),
    "expired": (410, "This link has expired", "One-click links last 60 days. Nothing was changed. "
                "A newer reminder carries a fresh link, or record it in scimwatch."),
    "used": (409, "Already recorded", "This link was already used, so nothing was changed."),
    "changed": (409, "Already recorded", "The key changed since this link was made (it was rotated or "
                "corrected), so nothing was changed."),
    "gone": (409, "Already recorded", "This key is no longer tracked, so nothing was changed."),
}


def links_of(app: Flask) -> Links:
    """Return the app's link maker."""
    return app.extensions[EXTENSION]


def _page(template: str, status: int = 200, **values):
    body = render_template(template, **values)
    response = current_app.response_class(body, status=status, mimetype="text/html")
    secure(response)
    response.headers.update(LINK_HEADERS)
    return response


def _refused(reason: str):
    status, title, message = REFUSALS[reason]
    return _page("links/refused.html", status, title=title, message=message)


def _claims_and_key(token: str):
    """Return (claims, key) of a usable token, or raise LinkRefused."""
    made = links_of(current_app)
    if not made.enabled:
        raise LinkRefused("off")
    claims = made.read(token)
    try:
        key = scimwatch().registry.get(claims["k"])
    except KeyNotFound:
        raise LinkRefused("gone") from None
    if key["expires_at"] != claims["e"]:
        raise LinkRefused("changed")
    return claims, key


def _confirm(claims, key, status=200, error="", value=None):
    now = scimwatch().now()
    default = (now + 365 * DAY).strftime("%Y-%m-%d") if claims["p"] == "rotate" else ""
    return _page("links/confirm.html", status, title="Record the rotation" if claims["p"] == "rotate"
                 else "Say you are on it", purpose=claims["p"], key=key, name=banners.directory_label(key),
                 expires=banners.expires_text(parse_time(key["expires_at"])),
                 default=value if value is not None else default, error=error,
                 acknowledged=banners.acknowledgement_text(key))


@links.get("/r/<token>")
def confirm(token):
    """Show what the link would record; change nothing."""
    try:
        claims, key = _claims_and_key(token)
    except LinkRefused as refused:
        return _refused(refused.reason)
    return _confirm(claims, key)


@links.post("/r/<token>")
def record(token):
    """Record the rotation (or acknowledgement) the link stands for, once."""
    context = scimwatch()
    now = context.now()
    with context.store.write_lock():
        try:
            claims, key = _claims_and_key(token)
        except LinkRefused as refused:
            return _refused(refused.reason)
        try:
            if claims["p"] == "rotate":
                value = request.form.get("expires_at", "").strip()
                changed = context.registry.rotate(key["id"], {"expires_at": value} if value else {}, now)
            else:
                value = request.form.get("by", "").strip()
                changed = context.registry.acknowledge(key["id"], {"by": value}, now)
        except ValidationError as error:
            return _confirm(claims, key, 400, "; ".join(error.fields.values()), value)
        links_of(current_app).spend(claims, now)
    return _page("links/done.html", title="Recorded", purpose=claims["p"], key=changed,
                 name=banners.directory_label(changed),
                 expires=banners.expires_text(parse_time(changed["expires_at"])),
                 acknowledged=banners.acknowledgement_text(changed))


def register(app: Flask) -> None:
    """Install the link pages and the link maker the emails and banners use."""
    context = app.extensions["scimwatch"]
    made = Links(context.store, context.settings["DATA_DIR"], context.settings["PUBLIC_URL"], context.now) \
        if not context.store.readonly else None
    app.extensions[EXTENSION] = made
    if made is not None and made.enabled:
        context.registry.link_for = made.url
        context.registry.banner_links = not context.settings["PUBLIC_BANNERS"]
    # The signed, single-use token is itself the CSRF guard: only whoever holds the link can post it, and a
    # cross-site form would need the token too. There is no session cookie here for a forged form to ride on.
    app.extensions["csrf"].exempt(links)
    app.register_blueprint(links)
