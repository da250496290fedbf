"""The calendar feed (DESIGN §15): every key's expiry as an iCalendar (RFC 5545) event with alarms."""
from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import icalendar
from flask import Blueprint, Response, current_app, request

from ..domain import calendar, tokens
from .api import query_id, scimwatch
from .errors import ApiError

calendar_api = Blueprint("calendar_api", __name__, url_prefix="/api/v1")

PRODID = "-//scimwatch//key expiry calendar//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
# How many distinct feeds (one per org filter) keep their first-served time; past it the memory starts afresh.
_MAX_REMEMBERED = 1000
_QUERY = ("org_id", "token")


@calendar_api.get("/calendar.ics")
def calendar_feed():
    """Return the keys' expiries as an iCalendar feed; needs the calendar or admin scope."""
    unknown = sorted(name for name in request.args if name not in _QUERY)
    if unknown:
        raise ApiError(400, f"unknown query parameter {unknown[0][:100]!r}; this takes org_id and token",
                       code="invalid", fields={name[:100]: "unknown query parameter" for name in unknown})
    _authorise()
    org_id = query_id("org_id")
    context = scimwatch()
    body = _render(context.registry.list(org_id), context.settings["THRESHOLDS"], org_id)
    etag = hashlib.sha256(body).hexdigest()[:32]
    modified = _first_served(org_id or "", etag, context.now())
    headers = {"ETag": f'"{etag}"', "Last-Modified": _http_date(modified),
               # The URL may carry a token: no shared cache may keep it, and every client revalidates.
               "Cache-Control": "private, no-cache"}
    if _not_modified(etag, modified):
        return Response(status=304, headers=headers)
    return Response(body, status=200, headers=headers, content_type=CONTENT_TYPE)


def _authorise() -> None:
    """Accept a bearer token in the header or, for calendar clients that cannot send one, in ?token=.

    A request that has an Authorization header is judged by it alone, as on every other route.
    """
    values = request.args.getlist("token")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    in_header = scheme.lower() == "bearer" and bool(presented.strip())
    challenge = {"WWW-Authenticate": 'Bearer realm="scimwatch"'}
    if len(values) > 1:
        raise ApiError(400, "give ?token= once", code="invalid", fields={"token": "given more than once"})
    token = presented.strip() if in_header else values[0].strip() if values else ""
    if not token:
        raise ApiError(401, "send the token as Authorization: Bearer <token> or as ?token=<token>", headers=challenge)
    context = scimwatch()
    bearer = context.tokens.identify(token)
    if bearer is None:
        raise ApiError(401, "the token is not valid", headers=challenge)
    if not tokens.allows(bearer.scope, "calendar"):
        raise ApiError(403, f"this token has the {bearer.scope} scope; this needs calendar")
    context.tokens.note_use(bearer)


def _render(keys: list[dict], thresholds, org_id: str | None) -> bytes:
    """Return the feed's bytes: CRLF line endings and lines folded at 75 octets (icalendar does both)."""
    feed = icalendar.Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", f"scimwatch key expiries{f' ({org_id})' if org_id else ''}")
    feed.add("x-wr-timezone", "UTC")
    for fact in calendar.events(keys, thresholds):
        event = icalendar.Event()
        event.add("uid", fact.uid)
        event.add("dtstamp", fact.stamp)
        event.add("last-modified", fact.stamp)
        event.add("dtstart", fact.start)
        event.add("sequence", fact.sequence)
        event.add("summary", fact.summary)
        event.add("description", fact.description)
        event.add("url", fact.url)
        event.add("transp", "TRANSPARENT")
        for reminder in fact.alarms:
            alarm = icalendar.Alarm()
            alarm.add("uid", f"{fact.uid.partition('@')[0]}-{reminder.days}d@{calendar.UID_DOMAIN}")
            alarm.add("action", "DISPLAY")
            alarm.add("description", reminder.description)
            alarm.add("trigger", timedelta(days=-reminder.days))
            event.add_component(alarm)
        feed.add_component(event)
    return feed.to_ical()


_lock = threading.Lock()


def _first_served(org_id: str, etag: str, now: datetime) -> datetime:
    """Return when this app first served this feed's current bytes: its Last-Modified.

    Keys' own times miss a deletion; the time a body was first seen does not (after a restart it is the
    first request's time, later than any change before, so a client only refetches once).
    """
    memory = current_app.extensions.setdefault("scimwatch_calendar", {})
    with _lock:
        seen = memory.get(org_id)
        if seen is None or seen[0] != etag:
            if len(memory) >= _MAX_REMEMBERED:
                memory.clear()
            seen = memory[org_id] = (etag, now.astimezone(UTC).replace(microsecond=0))
    return seen[1]


def _not_modified(etag: str, modified: datetime) -> bool:
    """Return whether the client's copy is current (If-None-Match wins over If-Modified-Since, RFC 9110)."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and modified <= since


def _http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
