"""Calendar feed facts (DESIGN §15): what each key's event says, as plain data. Pure.

The web layer turns these into iCalendar objects; keeping the facts here lets them be tested without
any calendar library and keeps the domain free of third-party imports.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from . import banners, runbook
from .times import parse_time
from .words import counted

UID_DOMAIN = "scimwatch"


@dataclass(frozen=True)
class Alarm:
    """One reminder a calendar shows: `days` before the event starts."""

    days: int
    description: str


@dataclass(frozen=True)
class Event:
    """One key's expiry as a calendar event."""

    uid: str
    summary: str
    description: str
    start: datetime
    stamp: datetime
    sequence: int
    url: str
    alarms: tuple[Alarm, ...]


def event_for(key: Mapping, thresholds: Iterable[int]) -> Event:
    """Return the event for one key record; `thresholds` apply when the key has none of its own."""
    where = banners.directory_label(key)
    kind = banners.kind_name(key)
    steps = runbook.rotation_steps(key)
    url = banners.action_url(key)
    description = "\n".join([
        f"{kind} of {where} expires at this time (UTC). Rotate it before then.",
        "",
        *(f"{number}. {step}" for number, step in enumerate(steps, start=1)),
        "",
        f"Where: {url}",
        f"Atlassian's guide: {runbook.docs_url(key.get('kind', 'scim'))}",
    ])
    days = sorted({int(day) for day in (key.get("thresholds") or thresholds)}, reverse=True)
    alarms = tuple(Alarm(day, f"{where}: {kind} expires in {counted(day, 'day')}") for day in days)
    # DTSTAMP must not be the request time: the feed's bytes (and so its ETag) change only when a key does.
    stamp = parse_time(key.get("updated_at") or key.get("created_at") or key["expires_at"])
    return Event(uid=f"{key['id']}@{UID_DOMAIN}", summary=f"{where}: {kind} expires", description=description,
                 start=parse_time(key["expires_at"]), stamp=stamp, sequence=len(key.get("history") or ()),
                 url=url, alarms=alarms)


def events(keys: Iterable[Mapping], thresholds: Iterable[int]) -> list[Event]:
    """Return one event per key, in a stable order (by expiry, then id) so the feed's bytes are stable."""
    thresholds = tuple(thresholds)
    ordered = sorted(keys, key=lambda key: (key["expires_at"], key["id"]))
    return [event_for(key, thresholds) for key in ordered]
