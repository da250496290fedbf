"""Reminder planning (DESIGN §6): which (key, stage, recipient) reminders are due, grouped into digests. Pure."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from . import expiry
from .times import DAY, format_time, parse_time

# Delivery statuses: `sent` is final; `pending` and `failed` are outstanding and retried every cycle;
# `cancelled` means the key was rotated, deleted or no longer mails that recipient.
OUTSTANDING = ("pending", "failed")
# A channel recipient is "channel:<tag>": delivery ids lowercase recipients, so tags are lower case.
CHANNEL_PREFIX = "channel:"
_STAGE = re.compile(r"(?:([1-9][0-9]{0,2})d|expired(?:\+([1-9][0-9]{0,3})d)?)\Z")
STAGE_FORMS = "Nd (days before expiry, such as 3d), expired, or expired+Nd (days after, such as expired+7d)"


@dataclass(frozen=True)
class Reminder:
    """One delivery: a key's stage for one recipient, sent at most once per expiry."""

    delivery_id: str
    key_id: str
    expires_at: str
    stage: str
    recipient: str


@dataclass
class DigestItem:
    """One key in a digest, with every reminder about it that this email delivers."""

    key: Mapping
    severity: str | None
    days_left: int
    reminders: list[Reminder] = field(default_factory=list)

    def urgency(self) -> tuple:
        """Sort key: most urgent severity first, then soonest expiry."""
        rank = expiry.urgency_rank(self.severity) if self.severity else len(expiry.SEVERITY_ORDER)
        return (rank, self.key["expires_at"], self.key["id"])


@dataclass
class Digest:
    """One email to one recipient: every key due for them this cycle, most urgent first."""

    recipient: str
    items: list[DigestItem]

    @property
    def reminders(self) -> list[Reminder]:
        """Every reminder this email delivers."""
        return [reminder for item in self.items for reminder in item.reminders]


@dataclass
class Plan:
    """What one cycle must do: reminders to send, and outstanding deliveries that no longer apply."""

    due: list[Reminder]
    cancelled: list[tuple[Mapping, str]]
    keys: dict[str, Mapping]


def delivery_id(key_id: str, expires_at: str, stage: str, recipient: str) -> str:
    """Return the identity of a delivery: one per (key, expiry, stage, recipient, case-insensitive)."""
    return f"{key_id}|{expires_at}|{stage}|{recipient.lower()}"


def stage_days(stage: str) -> int:
    """Return how many days before expiry a stage begins (`3d` 3, `expired` 0, `expired+7d` -7), or raise ValueError."""
    match = _STAGE.match(stage) if isinstance(stage, str) else None
    if not match:
        raise ValueError(f"{str(stage)[:40]!r} is not a stage; a stage is {STAGE_FORMS}")
    before, after = match.groups()
    return int(before) if before else -int(after or 0)


@dataclass(frozen=True)
class Audience:
    """Who hears about every key besides its own lists: SCIMWATCH_NOTIFY, _CHANNELS and _ESCALATION."""

    notify: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    escalation: Mapping[str, Iterable[str]] = field(default_factory=dict)
    # The tags SCIMWATCH_APPRISE_CONFIG defines (None: any); a key's tag no longer there is skipped.
    known_tags: frozenset[str] | None = None


def recipients(key: Mapping, audience: Audience, stage: str) -> list[str]:
    """Return who receives a key's stage, de-duplicated case-insensitively.

    The key's own and the global addresses; every address escalated at or before this stage (the key's
    escalation and SCIMWATCH_ESCALATION: "from that stage on"); then `channel:<tag>` for the key's own
    and the default channels.
    """
    reached = stage_days(stage)
    escalated = [address for escalation in (key.get("escalation") or {}, audience.escalation)
                 for since, addresses in escalation.items() if reached <= stage_days(since) for address in addresses]
    tags = [CHANNEL_PREFIX + tag for tag in (*(key.get("channels") or ()), *audience.channels)
            if audience.known_tags is None or tag in audience.known_tags]
    seen, found = set(), []
    for recipient in (*key.get("notify", ()), *audience.notify, *escalated, *tags):
        if recipient.lower() not in seen:
            seen.add(recipient.lower())
            found.append(recipient)
    return found


def is_channel(recipient: str) -> bool:
    """Whether a delivery goes to an Apprise channel (`channel:<tag>`) rather than an email address."""
    return recipient.startswith(CHANNEL_PREFIX)


def plan(keys: Iterable[Mapping], deliveries: Mapping[str, Mapping], now: datetime, *,
         thresholds=expiry.DEFAULT_THRESHOLDS, repeat_days: int = 7, audience: Audience = Audience()) -> Plan:
    """Return the reminders due at `now`: each key's current stage not yet sent, plus outstanding retries.

    1. For each key within its largest threshold of expiry (or expired), find its current stage.
    2. For each of its recipients, that stage is due unless its delivery was already sent.
    3. Every pending or failed delivery is due again while its key still has that expiry and
       still mails that recipient; otherwise it is cancelled with the reason.
    """
    horizons: dict[int, str] = {}
    by_id: dict[str, Mapping] = {}
    due: dict[str, Reminder] = {}
    for key in keys:
        by_id[key["id"]] = key
        key_thresholds = key.get("thresholds") or thresholds
        widest = max(key_thresholds)
        if widest not in horizons:
            horizons[widest] = format_time(now + widest * DAY)
        # RFC 3339 UTC strings sort in time order: most keys are skipped without parsing a date.
        if key["expires_at"] > horizons[widest]:
            continue
        stage = expiry.current_stage(parse_time(key["expires_at"]), now, key_thresholds, repeat_days)
        if stage is None:
            continue
        for recipient in recipients(key, audience, stage):
            identity = delivery_id(key["id"], key["expires_at"], stage, recipient)
            record = deliveries.get(identity)
            if record is None or record["status"] != "sent":
                due[identity] = Reminder(identity, key["id"], key["expires_at"], stage, recipient)

    cancelled = []
    for record in deliveries.values():
        if record["status"] not in OUTSTANDING or record["id"] in due:
            continue
        reason = _why_not_applicable(record, by_id.get(record["key_id"]), audience)
        if reason:
            cancelled.append((record, reason))
        else:
            due[record["id"]] = Reminder(record["id"], record["key_id"], record["expires_at"], record["stage"],
                                         record["recipient"])
    used = {reminder.key_id for reminder in due.values()}
    return Plan(list(due.values()), cancelled, {key_id: by_id[key_id] for key_id in used})


def _why_not_applicable(record: Mapping, key: Mapping | None, audience: Audience) -> str | None:
    if key is None:
        return "the key was deleted"
    if key["expires_at"] != record["expires_at"]:
        return f"the key now expires at {key['expires_at']} (rotated or corrected)"
    if record["recipient"].lower() not in {found.lower() for found in recipients(key, audience, record["stage"])}:
        what = "channel" if is_channel(record["recipient"]) else "address"
        return f"the {what} no longer receives this key's reminders"
    return None


def digests(due: Iterable[Reminder], keys: Mapping[str, Mapping], now: datetime) -> list[Digest]:
    """Group due reminders into one digest per recipient, keys most urgent first."""
    by_recipient: dict[str, dict[str, DigestItem]] = {}
    names: dict[str, str] = {}
    for reminder in due:
        address = reminder.recipient.lower()
        names.setdefault(address, reminder.recipient)
        items = by_recipient.setdefault(address, {})
        if reminder.key_id not in items:
            key = keys[reminder.key_id]
            expires_at = parse_time(key["expires_at"])
            items[reminder.key_id] = DigestItem(key, expiry.severity(expires_at, now),
                                                expiry.days_left(expires_at, now))
        items[reminder.key_id].reminders.append(reminder)
    return [Digest(names[address], sorted(items.values(), key=DigestItem.urgency))
            for address, items in sorted(by_recipient.items())]
