"""Time parsing and formatting: RFC 3339 in UTC with a trailing Z, or a plain date."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

DAY = timedelta(days=1)
# Key expiry dates live in this range; it also keeps a rotation's +365 days clear of datetime's limits.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999

# ASCII digits only: a bare \d would also match every other script's digits (Arabic-Indic, fullwidth...).
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# RFC 3339 date-time: hours 00-23, minutes and seconds 00-59, an optional fraction, a mandatory offset.
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"([Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
# On the first and last day of the range an offset could carry a time across its edge. Requiring UTC
# there keeps every written time inside the range, and the rule a plain pattern (docs/openapi.json).
_EDGE_DAYS = (f"{EARLIEST_YEAR}-01-01", f"{LATEST_YEAR}-12-31")
_UTC_OFFSETS = ("Z", "z", "+00:00", "-00:00")


def utcnow() -> datetime:
    """Return the current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time or a plain date (00:00 UTC that day) into an aware UTC datetime."""
    if not isinstance(text, str):
        raise ValueError("must be a string")
    if _PLAIN_DATE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a real date") from None
        return check_year(datetime(day.year, day.month, day.day, tzinfo=UTC))
    written = _RFC3339.match(text)
    if not written:
        raise ValueError(
            f"{text[:40]!r} is not an RFC 3339 time such as 2026-12-06T00:00:00Z or a date such as 2026-12-06"
        )
    written_day, offset = written.groups()
    if not EARLIEST_YEAR <= int(written_day[:4]) <= LATEST_YEAR:
        raise ValueError(f"{text!r} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    if written_day in _EDGE_DAYS and offset not in _UTC_OFFSETS:
        raise ValueError(f"{text!r}: an offset could move it outside the years {EARLIEST_YEAR} to {LATEST_YEAR}; "
                         f"on {written_day} give the time in UTC (Z)")
    normalized = text.upper().replace(" ", "T").replace("Z", "+00:00")
    # Python before 3.11 rejects more than 6 fraction digits; we keep whole seconds anyway.
    normalized = re.sub(r"\.[0-9]{1,9}", "", normalized)
    try:
        return datetime.fromisoformat(normalized).astimezone(UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None


def check_year(moment: datetime) -> datetime:
    """Return `moment` if its UTC year is in the range scimwatch accepts, else raise ValueError."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"{format_time(moment)} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def format_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a Z, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
