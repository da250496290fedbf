"""Time parsing and formatting: RFC 3339 in UTC with a trailing Z, or a plain date."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

DAY = timedelta(days=1)
# Key expiry dates live in this range; it also keeps a rotation's +365 days clear of datetime's limits.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999

# ASCII digits only: a bare \d would also match every other script's digits (Arabic-Indic, fullwidth...).
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# RFC 3339 date-time: the offset is mandatory, fractions optional.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


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
    if not _RFC3339.match(text):
        raise ValueError(
            f"{text[:40]!r} is not an RFC 3339 time such as 2026-12-06T00:00:00Z or a date such as 2026-12-06"
        )
    normalized = text.upper().replace(" ", "T").replace("Z", "+00:00")
    # Python before 3.11 rejects more than 6 fraction digits; we keep whole seconds anyway.
    normalized = re.sub(r"\.[0-9]{1,9}", "", normalized)
    try:
        parsed = datetime.fromisoformat(normalized).astimezone(UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}") from None
    return check_year(parsed)


def check_year(moment: datetime) -> datetime:
    """Return `moment` if its UTC year is in the range scimwatch accepts, else raise ValueError."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"{format_time(moment)} is outside the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return moment


def format_time(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with a Z, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
