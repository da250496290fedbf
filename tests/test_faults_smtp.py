"""SMTP faults during a reminder cycle: a server that dies mid-cycle, and a slow one while banners are served."""
from __future__ import annotations

import contextlib
import datetime
import threading

import requests
from conftest import run_cli, server_env
from smtp_helpers import Clock, Mailbox, Scimwatch, SmtpServer

from server.store.storage import stored_tables

NOW = datetime.datetime(2026, 11, 29, 9, 0, tzinfo=datetime.UTC)
RECIPIENTS = [f"owner{n}@example.com" for n in range(12)]


class DyingMailbox(Mailbox):
    """Accepts `accept` messages, then stops listening and drops the connection in the middle of the next one."""

    def __init__(self, smtp: SmtpServer, accept: int):
        super().__init__()
        self.smtp, self.accept = smtp, accept

    async def handle_DATA(self, server, session, envelope):
        if len(self.envelopes) == self.accept:
            self.smtp.controller.server.close()
            server.transport.close()
            return "421 4.3.2 shutting down"
        return await super().handle_DATA(server, session, envelope)


class SlowMailbox(Mailbox):
    """Holds every message until the test lets it through."""

    def __init__(self):
        super().__init__()
        self.arrived, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        self.release.wait(30)
        return await super().handle_DATA(server, session, envelope)


def serve_with(smtp: SmtpServer, mailbox: Mailbox) -> None:
    """Restart the SMTP server with another handler on the same port."""
    smtp.stop()
    smtp.mailbox = mailbox
    smtp.start()


def received(mailbox: Mailbox) -> dict[str, int]:
    """Return how many messages each recipient got."""
    counts: dict[str, int] = {}
    for message in mailbox.messages:
        counts[message["To"]] = counts.get(message["To"], 0) + 1
    return counts


def test_an_smtp_server_that_dies_mid_cycle_loses_no_reminder_and_sends_none_twice(data_dir, smtp):
    dying = DyingMailbox(smtp, accept=5)
    serve_with(smtp, dying)
    scimwatch = Scimwatch(data_dir, Clock(NOW), **smtp.settings())
    for address in RECIPIENTS:
        scimwatch.add_key(days=6, notify=[address])
    report = scimwatch.run()
    assert (report["sent"], report["failed"]) == (5, 7)
    assert scimwatch.health()["mail"]["status"] == "failing"

    scimwatch.restart()
    revived = Mailbox()
    serve_with(smtp, revived)
    assert scimwatch.run()["sent"] == 7
    assert scimwatch.run()["due"] == []
    assert {**received(dying), **received(revived)} == dict.fromkeys(RECIPIENTS, 1)
    assert set(received(dying)).isdisjoint(received(revived))
    assert {(d["status"], d["error"]) for d in scimwatch.deliveries()} == {("sent", None)}
    scimwatch.close()


def test_a_slow_smtp_server_does_not_hold_up_banners_or_writes(live_server_factory, tmp_path, smtp):
    slow = SlowMailbox()
    serve_with(smtp, slow)
    data_dir = tmp_path / "data"
    env = {"SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
           "SCIMWATCH_SMTP_PORT": str(smtp.port), "SCIMWATCH_SMTP_SECURITY": "none"}
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).strftime("%Y-%m-%d")
    for address in RECIPIENTS[:3]:
        added = run_cli("keys", "add", "--org-id", "org", "--expires-at", soon, "--notify", address,
                        env=server_env(data_dir, env))
        assert added.returncode == 0, added.stderr
    # The server runs a reminder cycle as it starts; its first email is now stuck in the SMTP server.
    server = live_server_factory(env=env, data_dir=data_dir)
    assert slow.arrived.wait(30)
    try:
        assert len(server.api("GET", "/api/v1/banners", token="read").json()["banners"]) == 3
        assert server.api("GET", "/healthz", token=None).status_code == 200
        server.add_key(org_id="org", expires_at="2030-01-01")
    finally:
        slow.release.set()
    assert server.stop() == 0
    assert received(slow) == dict.fromkeys(RECIPIENTS[:3], 1)


def test_sigterm_waits_for_a_cycle_started_over_the_api(live_server_factory, tmp_path, smtp):
    data_dir = tmp_path / "data"
    env = {"SCIMWATCH_MAIL_BACKEND": "smtp", "SCIMWATCH_SMTP_HOST": "127.0.0.1",
           "SCIMWATCH_SMTP_PORT": str(smtp.port), "SCIMWATCH_SMTP_SECURITY": "none"}
    server = live_server_factory(env=env, data_dir=data_dir)
    slow = SlowMailbox()
    serve_with(smtp, slow)
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)).strftime("%Y-%m-%d")
    for address in RECIPIENTS[:2]:
        server.add_key(org_id="org", expires_at=soon, notify=[address])
    def run_now():
        # waitress may drop this connection while shutting down; the cycle behind it must still finish.
        with contextlib.suppress(requests.RequestException):
            requests.post(server.url + "/api/v1/reminders/run",
                          headers={"Authorization": f"Bearer {server.admin_token}"}, timeout=60)

    run = threading.Thread(target=run_now)
    run.start()
    assert slow.arrived.wait(30)
    server.process.terminate()
    # waitress stops waiting for in-flight requests after 5 s; the cycle must still be allowed to end.
    threading.Timer(7, slow.release.set).start()
    assert server.process.wait(timeout=60) == 0
    run.join(60)
    assert received(slow) == dict.fromkeys(RECIPIENTS[:2], 1)
    records = stored_tables(data_dir)["deliveries"].values()
    assert sorted(record["status"] for record in records) == ["sent", "sent"]
