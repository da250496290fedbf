"""SMTP outage runs: many reminder cycles against a mail server that fails in every way; count losses and duplicates.

Each cycle the SMTP server is, at random: fine, down, refusing with 4xx, refusing with 5xx, dying after a few
messages, or slow. The clock moves 12 hours per cycle, so keys pass through their stages, and some keys are
rotated on the way. After the faults, fine cycles run until nothing is outstanding. Every accepted message is
traced to the deliveries it carried through the Message-ID written in the delivery log before sending.
"""
from __future__ import annotations

import asyncio
import random
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import requests
from aiosmtpd.controller import Controller

from server import create_app
from server.notify import deliveries

from . import fleet
from .serving import Server
from .table import Row

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MODES = ("fine", "down", "refuse-4xx", "refuse-5xx", "dies", "slow")


class FaultySmtp:
    """aiosmtpd on loopback whose behaviour the run changes between cycles."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.accepted: list[bytes] = []
        self.mode, self.accept_before_dying = "fine", 0
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "refuse-4xx":
            return "451 4.3.0 try again later"
        if self.mode == "refuse-5xx":
            return "554 5.7.1 rejected"
        if self.mode == "slow":
            await asyncio.sleep(0.02)
        if self.mode == "dies" and self.accept_before_dying <= 0:
            self.controller.server.close()
            server.transport.close()
            return "421 4.3.2 shutting down"
        self.accept_before_dying -= 1
        self.accepted.append(envelope.original_content or envelope.content)
        return "250 OK"

    def set_mode(self, mode: str, rng: random.Random) -> None:
        """Switch behaviour for the next cycle: listening unless `down`."""
        self.stop()
        self.mode, self.accept_before_dying = mode, rng.randint(0, 5)
        if mode != "down":
            self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        """Return the Message-ID of every accepted message."""
        return [message_from_bytes(raw)["Message-ID"] for raw in self.accepted]


def outage_fields(number, orgs, now, rng):
    """Keys expiring within 1 to 35 days; a third share one address, so some emails are digests."""
    fields = fleet.key_fields(number, orgs, now, rng)
    fields.update(expires_at=(now + timedelta(days=rng.uniform(1, 35))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  notify=["team@example.com" if number % 3 == 0 else f"owner{number}@example.com"])
    return fields


def fault_cycles(cycles: int, modes, rng: random.Random, set_mode, cycle, registry, clock: dict) -> dict[str, int]:
    """Run `cycles` cycles, each in a random mode, rotating a key now and then, 12 hours apart; then fine
    cycles until nothing is due (at most five). Return how often each mode came up."""
    seen = dict.fromkeys(modes, 0)
    for _ in range(cycles):
        mode = rng.choice(modes)
        seen[mode] += 1
        set_mode(mode)
        cycle()
        if rng.random() < 0.1:
            key = rng.choice(registry.list())
            registry.rotate(key["id"], {"expires_at": (clock["now"] + timedelta(days=rng.uniform(2, 20)))
                                        .strftime("%Y-%m-%dT%H:%M:%SZ")}, clock["now"])
        clock["now"] += timedelta(hours=12)
    set_mode("fine")
    recovery = 0
    while cycle()["due"] and recovery < 5:
        recovery += 1
    return seen


def run(cycles: int = 60, keys: int = 120, seed_value: int = 6) -> list[Row]:
    """Run the outage cycles and recovery; return one row with cycles, deliveries, losses and duplicates."""
    rng = random.Random(seed_value)
    clock = {"now": START}
    smtp = FaultySmtp()
    carried: dict[str, list[str]] = {}  # Message-ID -> delivery ids it carried
    attempts: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="scimwatch-outage-") as folder:
        fleet.seed(Path(folder), keys, orgs=10, now=START, fields=outage_fields)
        app = create_app({"DATA_DIR": folder, "ADMIN_TOKEN": fleet.ADMIN_TOKEN, "CLOCK": lambda: clock["now"],
                          "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port,
                          "SMTP_SECURITY": "none"})
        service = deliveries.service_for(app)
        registry = app.extensions["scimwatch"].registry

        def cycle() -> dict:
            report = service.run_cycle()
            for record in service.log.list():
                if attempts.get(record["id"]) != record["message_id"]:
                    attempts[record["id"]] = record["message_id"]
                    carried.setdefault(record["message_id"], []).append(record["id"])
            return report

        try:
            modes_seen = fault_cycles(cycles, MODES, rng, lambda mode: smtp.set_mode(mode, rng), cycle, registry, clock)
            final = service.log.list()
        finally:
            smtp.stop()
            app.extensions["scimwatch"].close()
    arrivals: dict[str, int] = {}
    for message_id in smtp.message_ids():
        for delivery in carried.get(message_id, []):
            arrivals[delivery] = arrivals.get(delivery, 0) + 1
    delivered = [record for record in final if record["status"] != "cancelled"]
    lost = [r["id"] for r in delivered if r["status"] != "sent" or not arrivals.get(r["id"])]
    duplicates = sum(count - 1 for count in arrivals.values() if count > 1)
    cancelled = len(final) - len(delivered)
    faults = ", ".join(f"{mode} {count}" for mode, count in modes_seen.items())
    return [Row(f"SMTP outage run: {cycles} cycles ({faults}), {keys} keys",
                f"{len(delivered)} reminders, {len(lost)} lost, {duplicates} duplicates, {cancelled} cancelled "
                f"by rotation, {len(smtp.accepted)} emails", "-", "-", "0 lost, 0 duplicates",
                not lost and not duplicates)]


def crash_run(trials: int = 5, keys: int = 200, seed_value: int = 6) -> list[Row]:
    """SIGKILL the server in the middle of its reminder burst, restart it; count lost and repeated reminders."""
    rng = random.Random(seed_value)
    smtp = FaultySmtp()
    smtp.set_mode("slow", rng)
    now = datetime.now(UTC)

    def due_fields(number, orgs, now, rng):
        fields = fleet.key_fields(number, orgs, now, rng)
        fields.update(expires_at=(now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      notify=[f"owner{number}@example.com"])
        return fields

    env = {"SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
           "SCIMWATCH_SMTP_PORT": str(smtp.port), "SCIMWATCH_SMTP_SECURITY": "none"}
    try:
        with tempfile.TemporaryDirectory(prefix="scimwatch-crash-mail-") as folder:
            data_dir = Path(folder) / "data"
            fleet.seed(data_dir, keys, orgs=10, now=now, fields=due_fields)
            for _ in range(trials):
                # The server starts its first reminder cycle at once; kill it somewhere inside the burst.
                server = Server(data_dir, fleet.ADMIN_TOKEN, module="server", env=env, settle=False)
                time.sleep(rng.uniform(0.2, 1.5))
                server.kill()
            with Server(data_dir, fleet.ADMIN_TOKEN, module="server", env=env) as server:
                requests.post(server.url + "/api/v1/reminders/run", timeout=300,
                              headers={"Authorization": f"Bearer {fleet.ADMIN_TOKEN}"}).raise_for_status()
    finally:
        smtp.stop()
    arrivals: dict[str, int] = {}
    for raw in smtp.accepted:
        recipient = message_from_bytes(raw)["To"]
        arrivals[recipient] = arrivals.get(recipient, 0) + 1
    lost = keys - len(arrivals)
    duplicates = sum(count - 1 for count in arrivals.values())
    return [Row(f"SIGKILL mid-reminder-burst: {trials} kills, {keys} reminders, slow SMTP",
                f"{lost} lost, {duplicates} sent twice", "-", "-", "0 lost (a kill may repeat what was in flight)",
                lost == 0)]
