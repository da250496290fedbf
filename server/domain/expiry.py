"""Expiry arithmetic: days left, banner severity and reminder stages. Pure, no I/O."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from .times import DAY

SEVERITY_ORDER = ("expired", "critical", "warning", "info")
# Upper bounds of each severity, checked in order (DESIGN §5).
_SEVERITY_LIMITS = ((timedelta(0), "expired"), (3 * DAY, "critical"), (14 * DAY, "warning"), (30 * DAY, "info"))

DEFAULT_THRESHOLDS = (30, 14, 7, 3, 1)


def days_left(expires_at: datetime, now: datetime) -> int:
    """Return whole days until expiry, floored (negative once expired)."""
    return math.floor((expires_at - now) / DAY)


def severity(expires_at: datetime, now: datetime) -> str | None:
    """Return the banner severity of a key at `now`, or None when no banner is due."""
    remaining = expires_at - now
    for limit, name in _SEVERITY_LIMITS:
        if remaining <= limit:
            return name
    return None


def urgency_rank(severity_name: str) -> int:
    """Return a sort rank: 0 for the most urgent severity."""
    return SEVERITY_ORDER.index(severity_name)


def current_stage(expires_at: datetime, now: datetime, thresholds=DEFAULT_THRESHOLDS,
                  repeat_days: int = 7) -> str | None:
    """Return the reminder stage a key is in at `now` (`7d`, `expired`, `expired+14d`), or None."""
    remaining = expires_at - now
    if remaining <= timedelta(0):
        if repeat_days <= 0:
            return "expired"
        repeats = math.floor((now - expires_at) / (repeat_days * DAY))
        return "expired" if repeats == 0 else f"expired+{repeats * repeat_days}d"
    due = [days for days in thresholds if remaining <= days * DAY]
    return f"{min(due)}d" if due else None


def days_since(moment: datetime, now: datetime) -> int:
    """Return whole days elapsed since `moment`, floored (how long ago a key expired)."""
    return math.floor((now - moment) / DAY)


def next_stage(expires_at: datetime, now: datetime, thresholds=DEFAULT_THRESHOLDS,
               repeat_days: int = 7) -> tuple[str, datetime] | None:
    """Return the first reminder stage that begins after `now` and when it begins, or None when none will.

    A threshold stage `T` begins at `expires_at - T days` (current_stage's `remaining <= T days`),
    `expired` at `expires_at`, and each repeat every `repeat_days` after it.
    """
    if now < expires_at:
        upcoming = [(expires_at - days * DAY, f"{days}d") for days in thresholds if expires_at - days * DAY > now]
        begins_at, stage = min(upcoming, default=(expires_at, "expired"))
        return stage, begins_at
    if repeat_days <= 0:
        return None
    repeats = math.floor((now - expires_at) / (repeat_days * DAY)) + 1
    return f"expired+{repeats * repeat_days}d", expires_at + repeats * repeat_days * DAY
