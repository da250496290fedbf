"""The delivery log and the reminder cycle: plan, record `pending`, send, record `sent` or `failed`."""
from __future__ import annotations

import builtins
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from ..domain import reminders
from ..domain.times import format_time, parse_time
from ..domain.words import counted
from ..store import retention
from ..store.storage import Store, thaw
from . import channel_message, email_message
from .channels import Channels
from .mail import MailError, transport_from_settings

log = logging.getLogger("scimwatch.cycle")
EXTENSION = "scimwatch.reminders"
# Outcomes are written at most this often during a send burst: one journal line per 100 ms,
# so a crash re-sends at most about 100 ms worth of messages (a write per message would halve the rate).
FLUSH_SECONDS = 0.1
# Upper bounds (seconds) of the cycle-duration histogram in /metrics: a quiet check to a slow 1,000-email burst.
CYCLE_BUCKETS = (0.05, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0)


class CycleStats:
    """What finished cycles add up to since start: durations for a histogram, delivery attempts by outcome."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(CYCLE_BUCKETS)  # cumulative: cycles that took at most each bound
        # (channel, outcome): "email" or "channel:<tag>", then "sent" or "failed".
        self.attempts: Counter[tuple[str, str]] = Counter({("email", "sent"): 0, ("email", "failed"): 0})
        self.completed_at: datetime | None = None

    def note(self, seconds: float, report: Mapping, finished: datetime) -> None:
        """Add one finished (not dry) cycle."""
        self.count += 1
        self.seconds += seconds
        for index, bound in enumerate(CYCLE_BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1
        for record in report["due"]:
            channel = record["recipient"] if reminders.is_channel(record["recipient"]) else "email"
            self.attempts[channel, record["status"]] += 1
        self.completed_at = finished
        log.info("reminder cycle: %d due, %d sent, %d failed, %d messages, %.3f s", len(report["due"]),
                 report["sent"], report["failed"], report["messages"], seconds,
                 extra={"due": len(report["due"]), "sent": report["sent"], "failed": report["failed"],
                        "messages": report["messages"], "duration_ms": round(seconds * 1000, 2)})


class DeliveryLog:
    """Delivery records in the store, one per (key, expiry, stage, recipient)."""

    def __init__(self, store: Store):
        self.records = store.collection("deliveries")

    def by_id(self) -> dict[str, Mapping]:
        """Return every delivery record by id (frozen)."""
        return {record["id"]: record for record in self.records.all()}

    def list(self, key_id: str | None = None) -> builtins.list[dict]:
        """Return delivery records, most recently changed first, optionally of one key."""
        records = [r for r in self.records.all() if key_id is None or r["key_id"] == key_id]
        records.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
        return [thaw(record) for record in records]

    def save(self, records: builtins.list[dict]) -> None:
        """Write records in one atomic file write."""
        if records:
            self.records.put_many(records)


def pending_record(reminder: reminders.Reminder, previous: Mapping | None, message_id: str, now: datetime) -> dict:
    """Return the record written just before a reminder is sent."""
    stamp = format_time(now)
    # A cancellation's reason does not describe the new attempt.
    error = previous["error"] if previous and previous["status"] != "cancelled" else None
    # A channel's services that already took it stay known, so a crash before the outcome re-posts no copy.
    kept = previous["services"] if previous and previous["status"] != "cancelled" and previous.get("services") else None
    services = {"services": thaw(kept)} if kept else {}
    return {"id": reminder.delivery_id, "key_id": reminder.key_id, "expires_at": reminder.expires_at,
            "stage": reminder.stage, "recipient": reminder.recipient, "status": "pending",
            "attempts": previous["attempts"] if previous else 0, "error": error,
            "message_id": message_id, "created_at": previous["created_at"] if previous else stamp,
            "updated_at": stamp, "sent_at": None, **services}


def outcome_record(pending: dict, error: str | None, now: datetime, services: list | None = None) -> dict:
    """Return the record after one attempt: `sent`, or `failed` with the reason.

    A channel delivery also keeps each of its services' results (name and sent, by position), so a
    retry sends only to the services that did not take it.
    """
    stamp = format_time(now)
    extra = {"services": services} if services is not None else {}
    return {**pending, "status": "failed" if error else "sent", "attempts": pending["attempts"] + 1,
            "error": error, "updated_at": stamp, "sent_at": None if error else stamp, **extra}


def services_sent(record: Mapping | None) -> frozenset[int]:
    """Return the positions of a channel's services that already took this delivery's message."""
    if not record or record["status"] == "cancelled":
        return frozenset()
    return frozenset(position for position, service in enumerate(record.get("services") or ()) if service["sent"])


def channel_error(services: list[dict], failure: str | None = None) -> str | None:
    """Return which of a channel's services did not take the message (names and positions, never a URL)."""
    failed = [f"{service['service']} (service {position} of {len(services)})"
              for position, service in enumerate(services, 1) if not service["sent"]]
    if not failed:
        return None
    raised = f" ({failure} while sending)" if failure else ""
    return f"not delivered by {', '.join(failed)}{raised}; retried on the next cycle"


def cancelled_record(record: Mapping, reason: str, now: datetime) -> dict:
    """Return an outstanding record that no longer applies, with the reason."""
    return {**thaw(record), "status": "cancelled", "error": reason, "updated_at": format_time(now)}


class CycleRunning(Exception):
    """A reminder cycle is already sending; this one was not started."""

    def __init__(self, started_at: datetime):
        super().__init__(f"a reminder cycle is already running (started at {format_time(started_at)})")
        self.started_at = started_at


class ReminderService:
    """Runs reminder cycles for one app, one at a time, and reports mail health."""

    def __init__(self, context, transport=None):
        self.context = context
        self.log = DeliveryLog(context.store)
        self.transport = transport or transport_from_settings(context.settings)
        self.channels: Channels | None = context.settings["APPRISE_CONFIG"]
        # Each channel's state, like `mail` below; its services by name only (the URLs stay in the file).
        self.channel_state: dict[str, dict] = {
            entry["tag"]: {"tag": entry["tag"], "services": entry["services"], "status": "ok", "last_error": None,
                           "failing_since": None, "last_sent_at": None}
            for entry in (self.channels.describe() if self.channels else ())}
        self._cycle_lock = threading.Lock()
        # Guards taking the cycle lock together with noting when: a refused caller is told the right start time.
        self._claim_lock = threading.Lock()
        self._cycle_started_at: datetime | None = None
        self.last_check: datetime | None = None
        self.stats = CycleStats()
        self.scheduler: dict = {"status": "stopped"}
        self.mail: dict = {"status": "ok", "backend": self.transport.describe(), "last_error": None,
                           "failing_since": None, "last_sent_at": None, "outstanding": 0}

    def run_cycle(self, dry_run: bool = False) -> dict:
        """Run one reminder cycle now; return what was due and how many reminders were sent or failed.

        Raises CycleRunning at once when another cycle is sending. A dry run takes no turn: it writes
        and sends nothing, so it never waits for a running cycle (whose reminders it shows as pending).

        1. Plan from the key records and the delivery log: each key's current stage per recipient
           not yet sent, plus every pending or failed delivery still valid; cancel the others.
        2. On a dry run, stop here and return the plan.
        3. Group the due reminders into one digest per recipient, each with its Message-ID.
        4. Write every due delivery as `pending` (and the cancellations) in one atomic write.
        5. Build and send each digest over one transport session (one SMTP connection for the burst).
        6. Write `sent` or `failed` (error, attempts + 1) in batches, at least every 100 ms and at the end.
        """
        if dry_run:
            now = self.context.now()
            known = self.log.by_id()
            return {"dry_run": True, "sent": 0, "failed": 0, "messages": 0, "channel_messages": 0,
                    "due": [_describe(reminder, known.get(reminder.delivery_id))
                            for reminder in self._plan(known, now).due]}
        now = self._claim_cycle()
        started = time.monotonic()
        try:
            report = self._run(now)
            self.stats.note(time.monotonic() - started, report, self.context.now())
        finally:
            self._cycle_lock.release()
        return report

    def _claim_cycle(self) -> datetime:
        # Never wait: a caller waiting here holds a server thread for as long as the relay is slow.
        with self._claim_lock:
            if not self._cycle_lock.acquire(blocking=False):
                raise CycleRunning(self._cycle_started_at or self.context.now())
            self._cycle_started_at = self.context.now()
            return self._cycle_started_at

    def _plan(self, known: dict, now: datetime) -> reminders.Plan:
        settings = self.context.settings
        audience = reminders.Audience(notify=settings["NOTIFY"], channels=settings["CHANNELS"],
                                      escalation=settings["ESCALATION"], known_tags=frozenset(self.channel_state))
        return reminders.plan(self.context.registry.keys.all(), known, now, thresholds=settings["THRESHOLDS"],
                              repeat_days=settings["EXPIRED_REPEAT_DAYS"], audience=audience)

    def _run(self, now: datetime) -> dict:
        settings = self.context.settings
        known = self.log.by_id()
        plan = self._plan(known, now)
        every = reminders.digests(plan.due, plan.keys, now)
        digests = [(digest, email_message.new_message_id(settings["MAIL_FROM"]))
                   for digest in every if not reminders.is_channel(digest.recipient)]
        channel_digests = [(digest, f"channel-{uuid.uuid4().hex}") for digest in every
                           if reminders.is_channel(digest.recipient)]
        pending = {reminder.delivery_id: pending_record(reminder, known.get(reminder.delivery_id), message_id, now)
                   for digest, message_id in (*digests, *channel_digests) for reminder in digest.reminders}
        self.log.save([*pending.values(), *(cancelled_record(r, why, now) for r, why in plan.cancelled)])
        # Channels post on their own thread: a slow webhook never holds up the email burst. The cycle
        # waits for it (each service's send is bounded by its timeouts), so no later cycle sends it twice.
        channel_outcomes: list[dict] = []
        poster = threading.Thread(target=self._post, args=(channel_digests, pending, known, now, channel_outcomes),
                                  name="scimwatch-channels", daemon=True)
        if channel_digests:
            poster.start()
        try:
            outcomes = self._send(digests, pending, now)
        finally:
            if channel_digests:
                poster.join()
        outcomes += channel_outcomes
        retention.prune_deliveries(self.log.records, self.context.registry.keys, now,
                                   settings["DELIVERY_RETENTION_DAYS"])
        self.last_check = now
        self.mail["outstanding"] = sum(1 for r in outcomes if r["status"] == "failed"
                                       and not reminders.is_channel(r["recipient"]))
        return {"dry_run": False, "sent": sum(1 for r in outcomes if r["status"] == "sent"),
                "failed": sum(1 for r in outcomes if r["status"] == "failed"), "messages": len(digests),
                "channel_messages": len(channel_digests),
                "due": [_describe_record(record) for record in outcomes]}

    def wait_until_idle(self) -> None:
        """Return once no cycle is running (one started by the scheduler or over the API)."""
        with self._cycle_lock:
            pass

    def _send(self, digests: list, pending: dict, now: datetime) -> list[dict]:
        settings = self.context.settings
        outcomes, unsaved = [], []
        flushed = time.monotonic()
        try:
            with self.transport.session() as send:
                for digest, message_id in digests:
                    try:
                        send(email_message.build(digest, sender=settings["MAIL_FROM"], now=now,
                                                 message_id=message_id, public_url=settings["PUBLIC_URL"],
                                                 links=self.context.registry.link_for))
                        error = None
                    except MailError as failure:
                        error = str(failure)
                    finished = self.context.now()
                    _note_state(self.mail, error, finished)
                    records = [outcome_record(pending[r.delivery_id], error, finished) for r in digest.reminders]
                    outcomes += records
                    unsaved += records
                    if time.monotonic() - flushed >= FLUSH_SECONDS:
                        self.log.save(unsaved)
                        unsaved, flushed = [], time.monotonic()
        finally:
            # Whatever stops the burst, what was already sent is recorded and not sent again.
            self.log.save(unsaved)
        return outcomes

    def _post(self, digests: list, pending: dict, known: dict, now: datetime, outcomes: list) -> None:
        """Post each channel digest, saving each outcome as it comes (the channel thread of a cycle).

        Each service of a tag gets the keys with a reminder it has not taken yet; services due the same
        keys share one message (usually all of them: one message per channel per cycle).
        """
        for digest, _ in digests:
            tag = digest.recipient.removeprefix(reminders.CHANNEL_PREFIX)
            names = self.channel_state[tag]["services"]
            taken = {r.delivery_id: set(services_sent(known.get(r.delivery_id))) for r in digest.reminders}
            # The keys each service still lacks, as a tuple of item positions -> the services lacking them.
            groups: dict[tuple[int, ...], list[int]] = {}
            for position in range(len(names)):
                lacking = tuple(index for index, item in enumerate(digest.items)
                                if any(position not in taken[r.delivery_id] for r in item.reminders))
                if lacking:
                    groups.setdefault(lacking, []).append(position)
            failure = None
            for lacking, positions in groups.items():
                part = reminders.Digest(digest.recipient, [digest.items[index] for index in lacking])
                message = channel_message.build(part, now, self.context.registry.link_for)
                skip = frozenset(range(len(names))) - set(positions)
                try:
                    results = self.channels.send(tag, message.title, message.body, skip) if self.channels else []
                except Exception as error:  # a service's own exception text may quote its URL: only its type is kept
                    results, failure = [], type(error).__name__
                for position in positions:
                    if position < len(results) and results[position].sent:
                        for reminder in part.reminders:
                            taken[reminder.delivery_id].add(position)
            finished = self.context.now()
            records = []
            for reminder in digest.reminders:
                services = [{"service": name, "sent": position in taken[reminder.delivery_id]}
                            for position, name in enumerate(names)]
                records.append(outcome_record(pending[reminder.delivery_id], channel_error(services, failure),
                                              finished, services))
            _note_state(self.channel_state[tag], next((r["error"] for r in records if r["error"]), None), finished)
            # Saved at once: a channel message is slow next to an email, and a crash must not re-post it.
            self.log.save(records)
            outcomes += records

    def health(self) -> dict:
        """Return the reminder part of /healthz: scheduler (`stalled` past three intervals), mail and last check.

        Only a running scheduler can stall: an app without one (tests, the CLI) runs cycles on request.
        """
        now, settings = self.context.now(), self.context.settings
        scheduler, mail = dict(self.scheduler), dict(self.mail)
        if scheduler["status"] == "running":
            since = max(filter(None, (self.stats.completed_at, parse_time(scheduler["started_at"]))))
            limit = 3 * settings["CHECK_MINUTES"] * 60
            if (now - since).total_seconds() > limit:
                scheduler.update(status="stalled", reason=(
                    f"no reminder cycle has completed since {format_time(since)}, more than three check "
                    f"intervals of {settings['CHECK_MINUTES']} minutes"))
        limit = settings["ALERT_AFTER_HOURS"]
        channels = [_with_alert(dict(state), f"channel {tag}", now, limit) for tag, state in self.channel_state.items()]
        return {"scheduler": scheduler, "mail": _with_alert(mail, "mail", now, limit), "channels": channels,
                "last_check": format_time(self.last_check) if self.last_check else None}


def _note_state(state: dict, error: str | None, now: datetime) -> None:
    """Note one send's outcome in the mail's or a channel's state: ok, or failing since its first failure."""
    if error is None:
        state.update(status="ok", last_error=None, failing_since=None, last_sent_at=format_time(now))
    else:
        state.update(status="failing", last_error=error, failing_since=state["failing_since"] or format_time(now))


def _with_alert(state: dict, what: str, now: datetime, limit_hours: int) -> dict:
    """Return a mail or channel state with `alert` set once it has been failing longer than the limit."""
    state["alert"] = False
    if state["failing_since"]:
        hours = (now - parse_time(state["failing_since"])).total_seconds() / 3600
        if hours > limit_hours:
            state.update(alert=True, reason=f"{what} has been failing for {hours:.0f} hours, longer than "
                                            f"SCIMWATCH_ALERT_AFTER_HOURS={limit_hours}")
    return state


def messages_text(report: Mapping) -> str:
    """Return what a cycle sent, in words: '3 emails', '3 emails and 2 channel messages', '1 channel message'."""
    posted = report.get("channel_messages", 0)
    parts = [counted(report["messages"], "email")] if report["messages"] or not posted else []
    if posted:
        parts.append(counted(posted, "channel message"))
    return " and ".join(parts)


def _describe(reminder: reminders.Reminder, previous: Mapping | None) -> dict:
    return {"delivery_id": reminder.delivery_id, "key_id": reminder.key_id, "expires_at": reminder.expires_at,
            "stage": reminder.stage, "recipient": reminder.recipient,
            "status": previous["status"] if previous else "new", "attempts": previous["attempts"] if previous else 0}


def _describe_record(record: Mapping) -> dict:
    return {"delivery_id": record["id"], **{name: record[name] for name in
            ("key_id", "expires_at", "stage", "recipient", "status", "attempts", "error")}}


def install(app) -> ReminderService:
    """Give an app its reminder service and add its state to /healthz (starts nothing)."""
    context = app.extensions["scimwatch"]
    service = ReminderService(context)
    app.extensions[EXTENSION] = service
    context.health_reporters.append(service.health)
    return service


def service_for(app) -> ReminderService:
    """Return the reminder service of an app."""
    return app.extensions[EXTENSION]
