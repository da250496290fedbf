"""A relay that ends the SMTP session in the middle of a burst (421, or a hang-up): the rest of the burst still goes."""
from __future__ import annotations

import datetime

import pytest
from smtp_helpers import Clock, Mailbox, Scimwatch, SmtpServer

NOW = datetime.datetime(2026, 11, 29, 9, 0, tzinfo=datetime.UTC)
RECIPIENTS = [f"owner{n}@example.com" for n in range(6)]


class HangingUpMailbox(Mailbox):
    """Ends the session at one SMTP command of chosen transactions: a reply (or none), then the connection closes."""

    def __init__(self, command: str, reply: str | None, victims: set[str] | None = None, every: bool = False):
        super().__init__()
        self.command, self.reply, self.victims, self.every = command, reply, victims or set(), every
        self.hung_up: list[str] = []
        self.connections: dict[int, object] = {}  # sessions kept alive, so no id is reused

    async def _hang_up(self, server, recipient: str) -> str:
        self.hung_up.append(recipient)
        if self.reply:
            await server.push(self.reply)
        server.transport.close()
        # aiosmtpd writes the hook's reply too; the transport is closed, so it is dropped.
        return self.reply or "421 4.3.0 closing"

    def _ends_here(self, command: str, recipient: str) -> bool:
        return command == self.command and (self.every or recipient in self.victims - set(self.hung_up))

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.connections[id(session)] = session
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._ends_here("RCPT", address):
            return await self._hang_up(server, address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._ends_here("DATA", envelope.rcpt_tos[0]):
            return await self._hang_up(server, envelope.rcpt_tos[0])
        return await super().handle_DATA(server, session, envelope)


def relay(smtp: SmtpServer, mailbox: Mailbox) -> Mailbox:
    smtp.stop()
    smtp.mailbox = mailbox
    smtp.start()
    return mailbox


@pytest.fixture
def scimwatch(data_dir, smtp):
    instance = Scimwatch(data_dir, Clock(NOW), **smtp.settings())
    for address in RECIPIENTS:
        instance.add_key(days=6, notify=[address])
    yield instance
    instance.close()


@pytest.mark.parametrize("command, reply", [
    pytest.param("RCPT", "421 4.7.0 too many errors, closing", id="421-at-RCPT"),
    pytest.param("DATA", "421 4.3.2 shutting down", id="421-at-DATA"),
    pytest.param("DATA", "554 5.7.1 rejected as spam", id="554-then-hang-up"),
    pytest.param("DATA", None, id="hang-up-without-a-reply"),
])
def test_a_session_ended_for_one_recipient_fails_only_that_reminder_and_it_goes_next_cycle(
        scimwatch, smtp, command, reply):
    victim = RECIPIENTS[2]
    mailbox = relay(smtp, HangingUpMailbox(command, reply, {victim}))
    report = scimwatch.run()
    assert (report["sent"], report["failed"]) == (5, 1)
    assert sorted(m["To"] for m in mailbox.messages) == sorted(set(RECIPIENTS) - {victim})
    [failed] = [d for d in scimwatch.deliveries() if d["status"] == "failed"]
    assert failed["recipient"] == victim and "connect() first" not in failed["error"]
    if reply:
        assert reply.split(" ")[0] in failed["error"]

    report = scimwatch.run()
    assert (report["sent"], report["failed"]) == (1, 0)
    assert mailbox.to(victim) and len(mailbox.messages) == len(RECIPIENTS)
    assert {d["status"] for d in scimwatch.deliveries()} == {"sent"}


def test_a_relay_that_ends_every_session_is_reconnected_once_then_the_burst_fails_fast(scimwatch, smtp):
    mailbox = relay(smtp, HangingUpMailbox("RCPT", "421 4.7.0 slow down", every=True))
    report = scimwatch.run()
    assert (report["sent"], report["failed"]) == (0, len(RECIPIENTS))
    # The first connection and one reconnect; the relay asked us to go away, so the rest waits for the next cycle.
    assert len(mailbox.connections) == 2 and len(mailbox.hung_up) == 2
    errors = [d["error"] for d in scimwatch.deliveries()]
    assert sum("not attempted" in error for error in errors) == len(RECIPIENTS) - 2
    assert all("421 4.7.0 slow down" in error for error in errors)
