"""A reminder run while another is sending: 409 at once, dry runs and banners never wait on mail."""
from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import wait_for
from smtp_helpers import Clock, Mailbox, Scimwatch, SmtpServer

from server.notify import scheduler

SPEC = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text(encoding="utf-8"))

NOW = datetime.datetime(2026, 11, 29, 9, 0, tzinfo=datetime.UTC)
BANNER_BOUND_SECONDS = 2


class HoldingMailbox(Mailbox):
    """A slow relay: holds every message in DATA until the test lets it through."""

    def __init__(self):
        super().__init__()
        self.arrived, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        # Blocks this test relay's event loop on purpose: it is as slow as a relay can be.
        self.release.wait(60)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp():
    server = SmtpServer()
    server.stop()
    server.mailbox = HoldingMailbox()
    server.start()
    yield server
    server.mailbox.release.set()
    server.stop()




def in_thread(call) -> tuple[threading.Thread, list]:
    """Start `call` in a thread; its result lands in the returned list."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def test_a_run_while_one_is_sending_answers_409_at_once_saying_since_when(data_dir, slow_smtp):
    scimwatch = Scimwatch(data_dir, Clock(NOW), **slow_smtp.settings())
    scimwatch.add_key(days=6)
    first, answered = in_thread(lambda: scimwatch.app.test_client().post("/api/v1/reminders/run",
                                                                         headers=scimwatch.headers))
    try:
        assert slow_smtp.mailbox.arrived.wait(30)
        response = scimwatch.app.test_client().post("/api/v1/reminders/run", headers=scimwatch.headers)
        assert response.status_code == 409
        error = response.json["error"]
        assert error["code"] == "cycle_running" and error["fields"] == {}
        assert "already running" in error["message"] and "2026-11-29T09:00:00Z" in error["message"]
        assert int(response.headers["Retry-After"]) > 0
        assert "Retry-After" in SPEC["paths"]["/api/v1/reminders/run"]["post"]["responses"]["409"]["headers"]
        # A dry run neither waits nor is refused: it reads the plan, with the reminder in flight as pending.
        dry = scimwatch.app.test_client().post("/api/v1/reminders/run?dry_run=true", headers=scimwatch.headers)
        assert dry.status_code == 200 and [item["status"] for item in dry.json["due"]] == ["pending"]
        assert first.is_alive()
    finally:
        slow_smtp.mailbox.release.set()
        first.join(30)
    assert answered[0].status_code == 200 and answered[0].json["sent"] == 1
    assert len(slow_smtp.mailbox.messages) == 1
    assert scimwatch.run()["due"] == []
    scimwatch.close()


def test_the_scheduler_skips_its_tick_while_an_api_run_is_sending(data_dir, slow_smtp, caplog):
    scimwatch = Scimwatch(data_dir, Clock(NOW), **slow_smtp.settings())
    scimwatch.add_key(days=6)
    first, answered = in_thread(lambda: scimwatch.app.test_client().post("/api/v1/reminders/run",
                                                                         headers=scimwatch.headers))
    assert slow_smtp.mailbox.arrived.wait(30)
    with caplog.at_level(logging.INFO, logger="server.notify.scheduler"):
        stop = scheduler.start(scimwatch.app)
        try:
            wait_for(lambda: "skipped" in caplog.text, seconds=30)
        finally:
            slow_smtp.mailbox.release.set()
            stop()
    first.join(30)
    assert "already running" in caplog.text and "failed" not in caplog.text
    assert answered[0].json["sent"] == 1 and len(slow_smtp.mailbox.messages) == 1
    scimwatch.close()


def test_four_runs_during_a_slow_relay_leave_threads_for_banners(live_server_factory, slow_smtp):
    env = {"SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
           "SCIMWATCH_SMTP_PORT": str(slow_smtp.port), "SCIMWATCH_SMTP_SECURITY": "none"}
    server = live_server_factory(env=env)
    # The check at start-up found nothing to send; from here on only the API starts cycles.
    wait_for(lambda: server.api("GET", "/healthz").json()["last_check"], seconds=30)
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).strftime("%Y-%m-%d")
    server.add_key(org_id="org", expires_at=soon, notify=["admin@example.com"])

    def run():
        return requests.post(server.url + "/api/v1/reminders/run", timeout=60,
                             headers={"Authorization": f"Bearer {server.admin_token}"})

    runs = [in_thread(run) for _ in range(4)]
    try:
        assert slow_smtp.mailbox.arrived.wait(30)
        # Three runs are refused while the fourth is still held in the relay.
        wait_for(lambda: sum(len(result) for _, result in runs) >= 3, seconds=10)
        refused = [result[0] for _, result in runs if result]
        assert [r.status_code for r in refused] == [409, 409, 409]
        assert all(r.json()["error"]["code"] == "cycle_running" and r.headers["Retry-After"] for r in refused)

        def banner():
            started = time.monotonic()
            response = server.api("GET", "/api/v1/banners", token="read")
            return response.status_code, time.monotonic() - started

        banners = [in_thread(banner) for _ in range(5)]
        for thread, _ in banners:
            thread.join(BANNER_BOUND_SECONDS * 5)
        answers = [result[0] for _, result in banners]
        assert all(status == 200 and seconds < BANNER_BOUND_SECONDS for status, seconds in answers), answers
        dry = server.api("POST", "/api/v1/reminders/run?dry_run=true")
        assert dry.status_code == 200 and [item["status"] for item in dry.json()["due"]] == ["pending"]
        assert not slow_smtp.mailbox.release.is_set()
    finally:
        slow_smtp.mailbox.release.set()
        for thread, _ in runs:
            thread.join(60)
    [sent] = [result[0] for _, result in runs if result[0].status_code == 200]
    assert sent.json()["sent"] == 1 and len(slow_smtp.mailbox.messages) == 1
