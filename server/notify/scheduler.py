"""The reminder loop: a `schedule` job in a thread of the server process, started only by `serve`."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import schedule

from ..domain.times import format_time
from . import deliveries

log = logging.getLogger(__name__)
# `schedule` reads the wall clock; waking at least this often notices a clock change (stop wakes it at once).
MAX_IDLE_SECONDS = 60.0
# With CHECK_ON_CHANGE, how often the loop looks for added or changed keys: a key whose stage is already
# due is reminded within this, not at the next interval. A look is one integer comparison.
CHANGE_POLL_SECONDS = 10.0


def run_guarded(job: Callable[[], object]) -> None:
    """Run one job; log an exception instead of letting it end the loop (it escapes run_pending)."""
    try:
        job()
    except Exception:
        log.exception("reminder cycle failed; the next one runs on schedule")


def start(app) -> Callable[[], None]:
    """Run a reminder cycle now and every SCIMWATCH_CHECK_MINUTES; return a stop that waits for the cycle."""
    service = deliveries.service_for(app)
    context = app.extensions["scimwatch"]
    minutes = context.settings["CHECK_MINUTES"]
    keys = context.registry.keys
    on_change = context.settings["CHECK_ON_CHANGE"]
    timetable = schedule.Scheduler()
    stopping = threading.Event()
    checked = {"generation": keys.generation}

    def cycle():
        # Read before planning: a key changed while the cycle runs triggers the next one.
        checked["generation"] = keys.generation
        try:
            report = service.run_cycle()
        except deliveries.CycleRunning as running:
            # A cycle started over the API is sending; the next tick catches up on anything it left.
            log.info("reminder check skipped: %s", running)
            return
        if report["due"]:
            log.info("reminders: %d sent, %d failed in %s", report["sent"], report["failed"],
                     deliveries.messages_text(report))

    def loop():
        # A server that was down catches up at once rather than one interval later.
        run_guarded(cycle)
        while not stopping.is_set():
            timetable.run_pending()
            if on_change and keys.generation != checked["generation"]:
                run_guarded(cycle)
            # `schedule` keeps naive local times; astimezone() reads them as local before format_time makes UTC.
            service.scheduler["next_check"] = format_time(timetable.next_run.astimezone())
            idle = min(MAX_IDLE_SECONDS, CHANGE_POLL_SECONDS if on_change else MAX_IDLE_SECONDS)
            stopping.wait(min(idle, max(timetable.idle_seconds or 0, 0)))

    timetable.every(minutes).minutes.do(run_guarded, cycle)
    thread = threading.Thread(target=loop, name="scimwatch-reminders", daemon=True)
    # The app's clock, so /healthz measures a stalled loop on the same clock as the cycles it runs.
    started_at = format_time(app.extensions["scimwatch"].now())
    service.scheduler = {"status": "running", "every_minutes": minutes, "started_at": started_at}
    thread.start()

    def stop():
        stopping.set()
        thread.join()
        # waitress gives up on in-flight requests after a few seconds; a cycle one of them
        # started must still finish before the data folder is released.
        service.wait_until_idle()
        service.scheduler = {"status": "stopped", "every_minutes": minutes}

    return stop
