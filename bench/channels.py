"""Channels (DESIGN §14): a 1,000-key cycle over email plus two channels next to email alone, and a fault run.

The fault run posts to two tags (`ops` with two services, `security` with one) on a local webhook receiver
that is, at random each cycle: fine, down, answering 500, slow (1 s, inside Apprise's 4 s read timeout), or
failing one service of `ops` only. The clock moves 12 hours per cycle and some keys are rotated on the way.
After each cycle, every post a service took is checked against the delivery records: a key listed at a
service where none of its deliveries newly reached that service (per the record's per-service results), or
listed twice, is a duplicate; a delivery recorded as newly reaching a service that got no post listing its
key is lost, and so is one not sent when the faults are over.
"""
from __future__ import annotations

import http.server
import json
import random
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.notify import deliveries

from . import fleet
from .mail_faults import fault_cycles
from .reminders import NOW, due_fields, open_app, start_sink
from .table import Row, ratio

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MODES = ("fine", "down", "5xx", "slow", "one-service-5xx")
SERVICES = {"ops": ("/ops-a", "/ops-b"), "security": ("/sec",)}
LISTED_KEY = re.compile(r"^- \*\*\w+\*\* Directory (\d+) ·", re.MULTILINE)
# With a receiver that takes a message but answers after the read timeout, the post counts as failed and is
# retried (at least once, like email after a crash); slow stays inside it so the run can count exactly.
SLOW_SECONDS = 1.0


class Webhooks:
    """A local webhook receiver whose behaviour the run changes between cycles; keeps what each path took."""

    def __init__(self):
        self.mode, self.taken = "fine", []
        self.server: http.server.ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    def start(self) -> None:
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hooks.mode == "slow":
                    time.sleep(SLOW_SECONDS)
                failing = hooks.mode == "5xx" or (hooks.mode == "one-service-5xx" and self.path == "/ops-b")
                if not failing:
                    hooks.taken.append((self.path, body["message"]))
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_mode(self, mode: str) -> None:
        """Switch behaviour for the next cycle: listening unless `down`."""
        if mode == "down":
            self.stop()
        elif self.server is None:
            self.start()
        self.mode = mode

    def config(self, folder: Path) -> Path:
        """Write the Apprise configuration: every service of every tag on this receiver."""
        path = folder / "apprise.txt"
        path.write_text("".join(f"{tag}=json://127.0.0.1:{self.port}{service}\n"
                                for tag, services in SERVICES.items() for service in services), encoding="utf-8")
        return path


def cycle_ratio(count: int = 1_000, rounds: int = 3) -> list[Row]:
    """Time a full cycle of `count` due keys over SMTP plus two channels, and the same cycle over SMTP only.

    No target in DESIGN §9. The channels post on their own thread during the email burst; what they add is
    mostly the delivery log holding three times the records (each 100 ms outcome write covers the file).
    """
    port = random.Random().randint(20_000, 40_000)
    sink, hooks = start_sink(port), Webhooks()
    times: dict[bool, list[float]] = {True: [], False: []}
    smtp = {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "none"}
    try:
        for _ in range(rounds):
            for with_channels in (False, True):
                with tempfile.TemporaryDirectory() as folder:
                    fleet.seed(Path(folder), count, orgs=count, now=NOW, fields=due_fields)
                    extra = {"APPRISE_CONFIG": hooks.config(Path(folder)), "CHANNELS": "ops,security"} \
                        if with_channels else {}
                    app = open_app(Path(folder), **smtp, **extra)
                    started = time.perf_counter()
                    report = deliveries.service_for(app).run_cycle()
                    times[with_channels].append(time.perf_counter() - started)
                    expected = count * (3 if with_channels else 1)
                    assert report["sent"] == expected and report["failed"] == 0, report["failed"]
                    app.extensions["scimwatch"].close()
    finally:
        sink.terminate()
        sink.wait()
        hooks.stop()
    both, alone = min(times[True]), min(times[False])
    return [Row(f"{count:,} due keys: email + 2 channels (3 services) vs email only, full cycle (best of {rounds})",
                f"{both:.2f} s", f"{alone:.2f} s (email only)", ratio(both, alone))]


def fault_run(cycles: int = 40, keys: int = 60, seed_value: int = 6) -> list[Row]:
    """Run channel cycles through receiver faults, then fine cycles; return lost and duplicate counts."""
    rng = random.Random(seed_value)
    clock = {"now": START}
    hooks = Webhooks()

    def fields(number, orgs, now, rng):
        values = fleet.key_fields(number, orgs, now, rng)
        values.update(expires_at=(now + timedelta(days=rng.uniform(1, 35))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      notify=[], channels=["ops"] if number % 2 else ["ops", "security"])
        return values

    with tempfile.TemporaryDirectory(prefix="scimwatch-channel-faults-") as folder:
        fleet.seed(Path(folder), keys, orgs=5, now=START, fields=fields)
        app = open_app(Path(folder), APPRISE_CONFIG=hooks.config(Path(folder)), CLOCK=lambda: clock["now"])
        service = deliveries.service_for(app)
        registry = app.extensions["scimwatch"].registry
        taken_before: dict[str, set[int]] = {}
        counts = {"lost": 0, "duplicates": 0}

        def cycle() -> dict:
            """Run one cycle; check every post that arrived against the services each delivery newly reached."""
            before = len(hooks.taken)
            report = service.run_cycle()
            reached = set()  # (directory number, path) that some delivery of that key newly reached
            for record in service.log.list():
                now_taken = {position for position, one in enumerate(record.get("services") or ()) if one["sent"]}
                number = registry.get(record["key_id"])["directory_name"].removeprefix("Directory ")
                paths = SERVICES[record["recipient"].removeprefix("channel:")]
                reached |= {(number, paths[position]) for position in now_taken - taken_before.get(record["id"], set())}
                taken_before[record["id"]] = now_taken
            listed: dict[tuple[str, str], int] = {}
            for path, message in hooks.taken[before:]:
                for number in LISTED_KEY.findall(message):
                    listed[number, path] = listed.get((number, path), 0) + 1
            counts["lost"] += len(reached - set(listed))
            counts["duplicates"] += sum(count - (1 if where in reached else 0) for where, count in listed.items())
            return report

        try:
            modes_seen = fault_cycles(cycles, MODES, rng, hooks.set_mode, cycle, registry, clock)
            final = service.log.list()
        finally:
            hooks.stop()
            app.extensions["scimwatch"].close()
    delivered = [record for record in final if record["status"] != "cancelled"]
    lost = counts["lost"] + sum(1 for record in delivered if record["status"] != "sent")
    duplicates = counts["duplicates"]
    faults = ", ".join(f"{mode} {count}" for mode, count in modes_seen.items())
    return [Row(f"channel fault run: {cycles} cycles ({faults}), {keys} keys, 2 tags, 3 services",
                f"{len(delivered)} channel reminders, {lost} lost, {duplicates} duplicates, "
                f"{len(final) - len(delivered)} cancelled by rotation, {len(hooks.taken)} posts taken",
                "-", "-", "0 lost, 0 duplicates", not lost and not duplicates)]


def run(quick: bool = False) -> list[Row]:
    """Run both channel figures."""
    return cycle_ratio(rounds=1 if quick else 3) + fault_run(cycles=15 if quick else 40)


if __name__ == "__main__":
    from .table import render

    print(render(run(quick="--quick" in sys.argv)))
