"""The delivery log and the reminder cycle: plan, record `pending`, send, record `sent` or `failed`."""
from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime

from ..domain import reminders
from ..domain.times import format_time, parse_time
from ..store import retention
from ..store.storage import Store, thaw
from . import email_message
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
        self.attempts = {"sent": 0, "failed": 0}
        self.completed_at: datetime | None = None

    def note(self, seconds: float, report: Mapping, finished: datetime) -> None:
        """Add one finished (not dry) cycle."""
        self.count += 1
        self.seconds += seconds
        for index, bound in enumerate(CYCLE_BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1
        for outcome in self.attempts:
            self.attempts[outcome] += report[outcome]
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
    return {"id": reminder.delivery_id, "key_id": reminder.key_id, "expires_at": reminder.expires_at,
            "stage": reminder.stage, "recipient": reminder.recipient, "status": "pending",
            "attempts": previous["attempts"] if previous else 0, "error": error,
            "message_id": message_id, "created_at": previous["created_at"] if previous else stamp,
            "updated_at": stamp, "sent_at": None}


def outcome_record(pending: dict, error: str | None, now: datetime) -> dict:
    """Return the record after one attempt: `sent`, or `failed` with the reason."""
    stamp = format_time(now)
    return {**pending, "status": "failed" if error else "sent", "attempts": pending["attempts"] + 1,
            "error": error, "updated_at": stamp, "sent_at": None if error else stamp}


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
            return {"dry_run": True, "sent": 0, "failed": 0, "messages": 0,
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
        return reminders.plan(self.context.registry.keys.all(), known, now, thresholds=settings["THRESHOLDS"],
                              repeat_days=settings["EXPIRED_REPEAT_DAYS"], notify=settings["NOTIFY"])

    def _run(self, now: datetime) -> dict:
        settings = self.context.settings
        known = self.log.by_id()
        plan = self._plan(known, now)
        digests = [(digest, email_message.new_message_id(settings["MAIL_FROM"]))
                   for digest in reminders.digests(plan.due, plan.keys, now)]
        pending = {reminder.delivery_id: pending_record(reminder, known.get(reminder.delivery_id), message_id, now)
                   for digest, message_id in digests for reminder in digest.reminders}
        self.log.save([*pending.values(), *(cancelled_record(r, why, now) for r, why in plan.cancelled)])
        outcomes = self._send(digests, pending, now)
        retention.prune_deliveries(self.log.records, self.context.registry.keys, now,
                                   settings["DELIVERY_RETENTION_DAYS"])
        self.last_check = now
        self.mail["outstanding"] = sum(1 for r in outcomes if r["status"] == "failed")
        return {"dry_run": False, "sent": sum(1 for r in outcomes if r["status"] == "sent"),
                "failed": self.mail["outstanding"], "messages": len(digests),
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
                    self._note_mail(error, finished)
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

    def _note_mail(self, error: str | None, now: datetime) -> None:
        if error is None:
            self.mail.update(status="ok", last_error=None, failing_since=None, last_sent_at=format_time(now))
        else:
            self.mail.update(status="failing", last_error=error,
                             failing_since=self.mail["failing_since"] or format_time(now))

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
        mail["alert"] = False
        if mail["failing_since"]:
            hours = (now - parse_time(mail["failing_since"])).total_seconds() / 3600
            if hours > settings["ALERT_AFTER_HOURS"]:
                mail.update(alert=True, reason=f"mail has been failing for {hours:.0f} hours, longer than "
                                               f"SCIMWATCH_ALERT_AFTER_HOURS={settings['ALERT_AFTER_HOURS']}")
        return {"scheduler": scheduler, "mail": mail,
                "last_check": format_time(self.last_check) if self.last_check else None}


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
