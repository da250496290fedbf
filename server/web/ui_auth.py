"""Signing in to the admin UI: a signed session cookie for /ui/ only, checked on every request, and a throttle."""
from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ..domain import tokens
from ..domain.times import format_time
from ..store import exchange
from .ui_common import UI_PREFIX, scimwatch, secure, ui, utc_text

SESSION_HOURS = 12
FAILURE_LIMIT = 10
FAILURE_WINDOW = timedelta(minutes=10)
# Addresses the throttle remembers at most; past that it forgets the stalest first.
THROTTLE_ADDRESSES = 10_000
CONFIGURED = "configured"
THROTTLE_EXTENSION = "scimwatch.ui.throttle"


class UiSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only under /ui/: the API and the banners never pay for them."""

    def open_session(self, app, request):
        """Open the session of a /ui/ request; None (a null session) for any other path."""
        if not request.path.startswith(UI_PREFIX):
            return None
        return super().open_session(app, request)

    def get_cookie_path(self, app) -> str:
        """Send the cookie to /ui/ only."""
        return UI_PREFIX


def cookie_settings(public_url: str) -> dict:
    """Return the Flask settings of the UI's session cookie (Secure when the server is reached over https)."""
    return {"SESSION_COOKIE_NAME": "scimwatch_ui", "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
            "PERMANENT_SESSION_LIFETIME": timedelta(hours=SESSION_HOURS),
            # A session lasts 12 hours from sign-in, not from the last click.
            "SESSION_REFRESH_EACH_REQUEST": False}


class SignInThrottle:
    """Failed sign-ins per address; FAILURE_LIMIT of them within FAILURE_WINDOW refuse that address until it passes."""

    def __init__(self, limit: int = FAILURE_LIMIT, window: timedelta = FAILURE_WINDOW,
                 max_addresses: int = THROTTLE_ADDRESSES):
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._failures: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def refused_until(self, address: str, now: datetime) -> datetime | None:
        """Return when this address may try again, or None when it may try now."""
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or len(failures) < self.limit or failures[0] <= now - self.window:
                return None
            return failures[0] + self.window

    def failed(self, address: str, now: datetime) -> None:
        """Count one failed sign-in from an address."""
        with self._lock:
            failures = self._failures.pop(address, None)
            if failures is None:
                self._make_room(now)
                failures = deque(maxlen=self.limit)
            failures.append(now)
            self._failures[address] = failures  # most recently failed last

    def succeeded(self, address: str) -> None:
        """Forget an address's failures once it signs in."""
        with self._lock:
            self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _make_room(self, now: datetime) -> None:
        if len(self._failures) < self.max_addresses:
            return
        stale = [address for address, failures in self._failures.items() if failures[-1] <= now - self.window]
        for address in stale:
            del self._failures[address]
        while len(self._failures) >= self.max_addresses:
            self._failures.popitem(last=False)


def _configured_mark() -> str:
    # Names SCIMWATCH_ADMIN_TOKEN without revealing it: a new token (after a restart) ends old sessions.
    admin_token, secret = scimwatch().settings["ADMIN_TOKEN"], current_app.secret_key
    key = secret.encode() if isinstance(secret, str) else secret or b""
    return hmac.new(key, tokens.token_hash(admin_token).encode(), hashlib.sha256).hexdigest()


def _who(bearer: tokens.Bearer) -> str:
    return f"token:{bearer.record['id']}" if bearer.record is not None else f"{CONFIGURED}:{_configured_mark()}"


def current_bearer() -> tokens.Bearer | None:
    """Return the admin token this session signed in with, or None when the session is absent or over.

    Checked on every request: the session ends 12 hours after sign-in, when its token is revoked,
    and (for SCIMWATCH_ADMIN_TOKEN) when the configured token changes.
    """
    who, signed_in_at = session.get("who"), session.get("signed_in_at")
    if not isinstance(who, str) or not isinstance(signed_in_at, int | float):
        return None
    age = scimwatch().now().timestamp() - signed_in_at
    if not 0 <= age < SESSION_HOURS * 3600:
        return None
    kind, _, ident = who.partition(":")
    if kind == CONFIGURED:
        configured = scimwatch().settings["ADMIN_TOKEN"]
        return tokens.Bearer("admin", None) if configured and hmac.compare_digest(ident, _configured_mark()) else None
    record = scimwatch().tokens.records.get(ident) if kind == "token" else None
    return tokens.Bearer(record["scope"], record) if record and tokens.allows(record["scope"], "admin") else None


def throttle() -> SignInThrottle:
    """Return this app's sign-in throttle."""
    return current_app.extensions[THROTTLE_EXTENSION]


def next_page(value: str | None) -> str | None:
    """Return a page address to go to after sign-in, or None unless it is a page of this UI (no open redirect)."""
    if not value or len(value) > 500 or not value.isprintable() or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(UI_PREFIX) or value.startswith("//"):
        return None
    return value


def _login_form(status: int = 200, message: str = "", headers: dict | None = None):
    notice = {"signed_out": "You are signed out.",
              "ended": "Your session ended (12 hours passed, or its token was revoked). Sign in again."}
    page = render_template("ui/login.html", title="Sign in", message=message,
                           notice=notice.get(request.args.get("why", "")),
                           next=next_page(request.values.get("next")))
    return page, status, headers or {}


@ui.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form, or sign in with an admin token."""
    if request.method == "GET":
        return _login_form()
    now, address = scimwatch().now(), request.remote_addr or "unknown"
    refused_until = throttle().refused_until(address, now)
    if refused_until is not None:
        wait = max(1, int((refused_until - now).total_seconds()))
        return _login_form(429, f"Too many failed sign-ins from your address. Try again after "
                                f"{utc_text(format_time(refused_until))}.",
                           {"Retry-After": str(wait)})
    presented = request.form.get("token", "").strip()
    bearer = scimwatch().tokens.identify(presented) if presented else None
    if bearer is None or not tokens.allows(bearer.scope, "admin"):
        throttle().failed(address, now)
        why = ("That is not an admin token: a read or other narrow token cannot sign in." if bearer
               else "That token is not valid. Paste the admin token that scimwatch printed on its first start, "
                    "or the value of SCIMWATCH_ADMIN_TOKEN.")
        return _login_form(401, why)
    throttle().succeeded(address)
    scimwatch().tokens.note_use(bearer)
    # A fresh session at sign-in: nothing from before (including the CSRF token) carries over.
    session.clear()
    session.permanent = True
    session.update(who=_who(bearer), signed_in_at=int(now.timestamp()))
    return redirect(next_page(request.form.get("next")) or url_for("ui.dashboard"), 303)


@ui.post("/logout")
def logout():
    """Sign out: the session cookie is removed."""
    session.clear()
    return redirect(url_for("ui.login", why="signed_out"), 303)


PUBLIC_ENDPOINTS = frozenset({"ui.login", "ui.static"})


# Forms that upload a whole key file (up to the import's limit, not the app's 64 KiB).
LARGE_UPLOADS = frozenset({"ui.import_file"})


@ui.before_request
def guard():
    """Before every /ui/ view: check the CSRF token of a POST, then the session (else go to sign-in)."""
    if request.method == "POST" and request.endpoint in LARGE_UPLOADS:
        # A file bigger than the app's 64 KiB is read only for a signed-in admin (the CSRF check reads it).
        if current_bearer() is None:
            session.clear()
            return redirect(url_for("ui.login"), 303)
        request.max_content_length = exchange.MAX_IMPORT_BYTES
    if request.method == "POST":
        current_app.extensions["csrf"].protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    bearer = current_bearer()
    if bearer is None:
        after: dict[str, Any] = {"why": "ended"} if "who" in session else {}
        if request.method == "GET" and request.endpoint != "ui.dashboard":
            after["next"] = request.full_path.rstrip("?")
        session.clear()
        return redirect(url_for("ui.login", **after), 303)
    g.bearer = bearer
    scimwatch().tokens.note_use(bearer)
    return None


@ui.after_request
def add_headers(response):
    """After every /ui/ view: the security headers (static files may be cached)."""
    return secure(response, cache=request.endpoint == "ui.static")
