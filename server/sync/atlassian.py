"""A small client for the Atlassian admin APIs the sync reads, over the standard library (urllib).

What it reads, from Atlassian's published references:

- API Access REST API (https://developer.atlassian.com/cloud/admin/api-access/rest/intro/), bearer org admin
  API key:
  - `GET /admin/api-access/v1/orgs/{orgId}/api-tokens`, "Get all API tokens in an org" (scope
    `read:tokens:admin`; https://developer.atlassian.com/cloud/admin/api-access/rest/api-group-api-token/):
    `{"data": [{"id", "label", "status", "createdAt", "expiresAt", "lastActiveAt",
    "user": {"id", "name", "email"}}], "links": {"self", "prev", "next"}}`.
  - `GET /admin/api-access/v1/orgs/{orgId}/api-keys`, "Get all API keys in an org" (scope `read:keys:admin`;
    https://developer.atlassian.com/cloud/admin/api-access/rest/api-group-api-key/): the same envelope; each
    key has an `id`, a name and `expiresAt`, and its creator. The reference page's body example was not
    available to us, so the name is read from `name` or `label` and the creator's email from `createdBy`
    or `user`, whichever is there; only `id` and `expiresAt` are required.
  - Both page with `pageSize` and `cursor`: `links.next` is the cursor of the next page (absent or null on
    the last), and the other query parameters are repeated beside it.
- Organizations REST API v2 (https://developer.atlassian.com/cloud/admin/organization/rest/intro/),
  `GET /admin/v2/orgs/{orgId}/directories`, "Get directories"
  (https://developer.atlassian.com/cloud/admin/organization/rest/api-group-directory/, scope
  `read:directories:admin`): `{"data": [{"directoryId", "name", "icon"}], "links": {"self", "prev", "next"}}`,
  paged with `cursor` the same way.
- Rate limits (the same intro pages): a 429 may carry `Retry-After` (seconds to wait) and
  `X-RateLimit-Reset` (an ISO 8601 time such as `2026-12-01T10:00Z`, as Atlassian's rate-limiting page
  describes it, quoted in https://jira.atlassian.com/browse/JRACLOUD-69262); both are honoured, and a bare
  number of epoch seconds too.

The key is sent only in the Authorization header, to the configured base URL: redirects are not followed
(urllib would forward the header to wherever they lead), and a `links.next` pointing at another host is
refused. It never appears in a reason this module gives.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from ..domain.keys import EMAIL_PATTERN
from ..domain.times import format_time, parse_time
from ..domain.upstream import Directory, UpstreamKey

# Every call has a timeout; a sync of one org makes a few calls, so a dead host costs at most a few of these.
TIMEOUT_SECONDS = 30.0
MAX_RATE_LIMIT_WAIT = 60.0
# When a 429 names no wait at all.
DEFAULT_RATE_LIMIT_WAIT = 5.0
RATE_LIMIT_RETRIES = 3
MAX_PAGES = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class SyncFailure(Exception):
    """One org's sync stopped: `status` is what the org is marked, `reason` says why (never with a key)."""

    status = "error"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Unauthorized(SyncFailure):
    """Atlassian refused the org admin API key (401) or its scopes (403)."""

    status = "unauthorized"


class RateLimited(SyncFailure):
    """Atlassian asked to wait longer than the sync waits; the org waits for the next sync."""

    status = "rate_limited"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


class Client:
    """GET requests for one org with its admin API key: timeouts, 429 waits, cursor paging, a request count."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = TIMEOUT_SECONDS,
                 wait: Callable[[float], bool] | None = None):
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.timeout = timeout
        # Waits `seconds` unless interrupted; returns True when the server is stopping.
        self.wait = wait or _sleep
        self.requests = 0

    def items(self, path: str, params: dict | None = None) -> Iterator:
        """Yield the `data` items of every page of a listing, following `links.next`."""
        seen: set[str] = set()
        url = self._url(path, params or {})
        for _ in range(MAX_PAGES):
            page = self.get(url)
            data, links = page.get("data"), page.get("links") or {}
            if not isinstance(data, list) or not isinstance(links, dict):
                raise self._failure(SyncFailure, f"{_name(url)} answered without a data list")
            yield from data
            following = links.get("next")
            if not following:
                return
            if not isinstance(following, str) or following in seen:
                raise self._failure(SyncFailure, f"{_name(url)} gave a next-page cursor that is not usable")
            seen.add(following)
            url = self._next_url(path, params or {}, following)
        raise self._failure(SyncFailure, f"{_name(url)} has more than {MAX_PAGES} pages")

    def get(self, url: str) -> dict:
        """Return one JSON object from a GET, waiting out a 429 (at most 60 s, a few times) and retrying it."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            status, headers, body = self._fetch(url)
            if status == 429:
                delay = rate_limit_delay(headers, time.time())
                if delay > MAX_RATE_LIMIT_WAIT:
                    raise self._failure(RateLimited, f"{_name(url)} is rate limited for {delay:.0f} s, longer than "
                                        f"the {MAX_RATE_LIMIT_WAIT:.0f} s the sync waits; the next sync tries again")
                if attempt == RATE_LIMIT_RETRIES:
                    break
                if self.wait(delay):
                    raise self._failure(SyncFailure, "the server is stopping")
                continue
            if status in (401, 403):
                what = "refused the org admin API key" if status == 401 else "says the key lacks a scope it needs"
                raise self._failure(Unauthorized, f"{_name(url)} {what} (HTTP {status}){_message(body)}")
            if status != 200:
                raise self._failure(SyncFailure, f"{_name(url)} answered HTTP {status}{_message(body)}")
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                raise self._failure(SyncFailure, f"{_name(url)} answered with a body that is not JSON") from None
            if not isinstance(document, dict):
                raise self._failure(SyncFailure, f"{_name(url)} answered with JSON that is not an object")
            return document
        raise self._failure(RateLimited, f"{_name(url)} is still rate limited after {RATE_LIMIT_RETRIES} waits; "
                            "the next sync tries again")

    def _fetch(self, url: str) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(url, headers={  # noqa: S310 (the configured http(s) base URL)
            "Authorization": f"Bearer {self._key}", "Accept": "application/json", "User-Agent": "scimwatch"})
        self.requests += 1
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return response.status, dict(response.headers), _read(response)
        except urllib.error.HTTPError as answer:
            with answer:
                return answer.code, dict(answer.headers or {}), _read(answer)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise self._failure(SyncFailure, f"cannot reach {_name(url)}: {reason}") from None

    def _url(self, path: str, params: dict) -> str:
        query = urllib.parse.urlencode(params)
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _next_url(self, path: str, params: dict, following: str) -> str:
        parts = urllib.parse.urlsplit(following)
        if not parts.scheme:
            return self._url(path, {**params, "cursor": following})
        # A full URL may be followed only on the host the key is meant for.
        base = urllib.parse.urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise self._failure(SyncFailure, f"{_name(self._url(path, {}))} gave a next page on another host; "
                                "not followed")
        return following

    def _failure(self, kind: type[SyncFailure], reason: str) -> SyncFailure:
        text = reason.replace(self._key, "[key]") if self._key else reason
        return kind(text[:500])


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def _read(response) -> bytes:
    body = response.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"the answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
    return body


def _name(url: str) -> str:
    """Return 'GET /path' for a URL, without its query (the cursor is noise in a reason)."""
    return "GET " + urllib.parse.urlsplit(url).path


def _message(body: bytes) -> str:
    """Return ': <Atlassian's error message>' from an error body, when it has one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(document, dict):
        return ""
    errors = document.get("errors")
    sources = [document, *(error for error in (errors if isinstance(errors, list) else []) if isinstance(error, dict))]
    found = [source[name] for source in sources for name in ("message", "error", "title", "detail")
             if isinstance(source.get(name), str)]
    text = _CONTROL.sub(" ", "; ".join(found)).strip()[:200]
    return f": {text}" if text else ""


def rate_limit_delay(headers: dict, now: float) -> float:
    """Return the seconds a 429 asks to wait: the later of X-RateLimit-Reset and Retry-After, else a default."""
    lowered = {name.lower(): value for name, value in headers.items()}
    waits = []
    for name in ("x-ratelimit-reset", "retry-after"):
        value = str(lowered.get(name) or "").strip()
        if not value:
            continue
        if re.fullmatch(r"\d+(\.\d+)?", value):
            number = float(value)
            # A large number is a moment (epoch seconds); a small one is a number of seconds.
            waits.append(number - now if number > 1e9 else number)
            continue
        moment = _moment(value)
        if moment is not None:
            waits.append(moment.timestamp() - now)
    return max(0.0, max(waits)) if waits else DEFAULT_RATE_LIMIT_WAIT


def _moment(text: str) -> datetime | None:
    """Parse an ISO 8601 time (seconds optional, UTC when no offset) or an HTTP date; None when neither."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the listed items, checked ---------------------------------------------------------------------

def _text(value, what: str) -> str:
    """Return upstream text fit for a record: no control characters, no unpaired surrogates (JSON allows them)."""
    if not isinstance(value, str):
        raise SyncFailure(f"an item has {what} that is not text")
    return _CONTROL.sub(" ", value.encode("utf-8", "replace").decode("utf-8")).strip()


def upstream_keys(items: Iterable, what: str) -> list[UpstreamKey]:
    """Return the listed keys or tokens that expire (one with no `expiresAt` never does, and is left out).

    Raises SyncFailure for a malformed item: the org's records are then left as they were.
    """
    listed = []
    for item in items:
        if not isinstance(item, dict):
            raise SyncFailure(f"the {what} list holds an item that is not an object")
        upstream_id = item.get("id")
        if not isinstance(upstream_id, str) or not upstream_id or len(upstream_id) > 200 \
                or _text(upstream_id, "an id") != upstream_id:
            raise SyncFailure(f"the {what} list holds an item without a usable id")
        if item.get("expiresAt") is None:
            continue
        try:
            expires_at = format_time(parse_time(item["expiresAt"]))
        except ValueError as error:
            raise SyncFailure(f"{what} {upstream_id[:60]} has an expiresAt that does not parse: {error}") from None
        label = _text(item.get("label") if item.get("label") is not None else item.get("name") or "", "a label")
        owner = item.get("user") if isinstance(item.get("user"), dict) else item.get("createdBy")
        address = owner.get("email") if isinstance(owner, dict) else None
        owner_email = address.strip() if isinstance(address, str) and EMAIL_PATTERN.match(address.strip()) else None
        listed.append(UpstreamKey(upstream_id, label, expires_at, owner_email))
    return listed


def directories(items: Iterable) -> list[Directory]:
    """Return the listed directories; raise SyncFailure for a malformed item."""
    found = []
    for item in items:
        directory_id = item.get("directoryId") if isinstance(item, dict) else None
        if not isinstance(directory_id, str) or not directory_id or _text(directory_id, "an id") != directory_id:
            raise SyncFailure("the directory list holds an item without a usable directoryId")
        found.append(Directory(directory_id[:200], _text(item.get("name") or directory_id, "a name")[:200]))
    return found
