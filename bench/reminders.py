"""Reminder cycles: 10,000 keys with nothing due, and 1,000 reminder emails next to plain smtplib."""
from __future__ import annotations

import random
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server import create_app
from server.domain import reminders
from server.domain.times import format_time
from server.notify import deliveries, email_message

from . import fleet
from .table import Row, ms, ratio

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
IDLE_TARGET = 0.2
# DESIGN §9 asks 0.7x; issue 15 raised it to 0.8x once outcome flushes no longer rewrite the data file.
SEND_TARGET = 0.8


def quiet_fields(number, orgs, now, rng):
    """Keys that expire 40 to 400 days from now: no reminder stage is due."""
    fields = fleet.key_fields(number, orgs, now, rng)
    fields["expires_at"] = format_time(now + timedelta(days=rng.uniform(40, 400)))
    return fields


def due_fields(number, orgs, now, rng):
    """Keys that expire in 5 days, each with its own address: one email per key."""
    fields = fleet.key_fields(number, orgs, now, rng)
    fields.update(expires_at=format_time(now + timedelta(days=5)), notify=[f"owner{number}@example.com"])
    return fields


def open_app(data_dir: Path, **settings):
    return create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": fleet.ADMIN_TOKEN, "CLOCK": lambda: NOW, **settings})


def idle_cycle(keys: int, samples: int) -> list[Row]:
    """Time a cycle over `keys` keys with nothing due (and a delivery log of earlier, sent reminders)."""
    with tempfile.TemporaryDirectory() as folder:
        fleet.seed(Path(folder), keys, now=NOW, fields=quiet_fields)
        app = open_app(Path(folder))
        service = deliveries.service_for(app)
        old = [{"id": f"old-{n}", "key_id": f"gone-{n}", "expires_at": "2025-01-01T00:00:00Z", "stage": "7d",
                "recipient": "a@example.com", "status": "sent", "attempts": 1, "updated_at": "2025-01-01T00:00:00Z"}
               for n in range(keys)]
        service.log.save(old)
        first_started = time.perf_counter()
        assert service.run_cycle()["due"] == []
        first = time.perf_counter() - first_started
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            service.run_cycle()
            times.append(time.perf_counter() - started)
        app.extensions["scimwatch"].close()
    median = statistics.median(times)
    return [Row(f"reminder cycle, {keys:,} keys, nothing due (median of {samples})", ms(median),
                target=f"< {ms(IDLE_TARGET)}", passed=median < IDLE_TARGET),
            Row(f"reminder cycle, {keys:,} keys, nothing due, first after start", ms(first))]


def start_sink(port: int) -> subprocess.Popen:
    """Start aiosmtpd in its own process (so it does not share our GIL), accepting and discarding mail."""
    process = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                                "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("aiosmtpd did not start")


def plain_smtplib(port: int, messages) -> float:
    """Send prebuilt messages over one smtplib connection; return seconds."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
        for message in messages:
            connection.sendmail("scimwatch@localhost", [message.recipient], message.data)
    return time.perf_counter() - started


def send_burst(count: int, rounds: int) -> list[Row]:
    """Send `count` reminders through a full cycle and the same messages through plain smtplib; best of `rounds`."""
    port = random.Random().randint(20_000, 40_000)
    sink = start_sink(port)
    ours, baseline = [], []
    try:
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as folder:
                fleet.seed(Path(folder), count, orgs=count, now=NOW, fields=due_fields)
                app = open_app(Path(folder), MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                               SMTP_SECURITY="none")
                context = app.extensions["scimwatch"]
                plan = reminders.plan(context.registry.keys.all(), {}, NOW)
                messages = [email_message.build(d, sender="scimwatch@localhost", now=NOW,
                                                message_id=email_message.new_message_id("scimwatch@localhost"))
                            for d in reminders.digests(plan.due, plan.keys, NOW)]
                baseline.append(plain_smtplib(port, messages))
                started = time.perf_counter()
                report = deliveries.service_for(app).run_cycle()
                ours.append(time.perf_counter() - started)
                assert report["sent"] == count and report["failed"] == 0, report["failed"]
                context.close()
    finally:
        sink.terminate()
        sink.wait()
    our_rate, plain_rate = count / min(ours), count / min(baseline)
    return [Row(f"{count:,} reminder emails, full cycle over SMTP (best of {rounds})", f"{our_rate:.0f} emails/s",
                f"{plain_rate:.0f} emails/s (smtplib, same messages)", ratio(our_rate, plain_rate),
                f">= {SEND_TARGET}x", our_rate / plain_rate >= SEND_TARGET)]


def run(quick: bool = False) -> list[Row]:
    """Run both reminder figures."""
    return idle_cycle(10_000, samples=5 if quick else 20) + send_burst(1_000, rounds=1 if quick else 3)


if __name__ == "__main__":
    from .table import render

    print(render(run(quick="--quick" in sys.argv)))
