"""Mail transports against a real aiosmtpd on loopback: TLS modes, login, failures, one connection per burst, outbox."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from smtp_helpers import Clock, Scimwatch, SmtpServer, make_certificate

from server.domain import reminders
from server.domain.times import format_time
from server.notify import email_message
from server.notify.mail import MailError, Outbox, transport_from_settings

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def messages(*recipients):
    keys = [{"id": f"key-{n}", "org_id": "org-1", "notify": [r], "expires_at": format_time(NOW + timedelta(days=5))}
            for n, r in enumerate(recipients)]
    plan = reminders.plan(keys, {}, NOW)
    return [email_message.build(d, sender="scimwatch@example.com", now=NOW,
                                message_id=email_message.new_message_id("scimwatch@example.com"))
            for d in reminders.digests(plan.due, plan.keys, NOW)]


def transport(server, **extra):
    settings = {"DATA_DIR": "unused", "MAIL_FROM": "scimwatch@example.com", "SMTP_USER": "", "SMTP_PASSWORD": "",
                **server.settings(**extra)}
    return transport_from_settings(settings)


def send_all(transport_, batch):
    """Send messages in one session; return the error text of each (None when sent)."""
    errors = []
    with transport_.session() as send:
        for message in batch:
            try:
                send(message)
                errors.append(None)
            except MailError as error:
                errors.append(str(error))
    return errors


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate that this process trusts through OpenSSL's SSL_CERT_FILE."""
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.fixture
def servers():
    started = []

    def start(**options):
        server = SmtpServer(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_starttls_with_login_delivers_and_logs_in_with_the_exact_user_name(servers, certificate):
    server = servers(tls="starttls", certificate=certificate, users={"mailer": "s3cret"})
    assert send_all(transport(server, SMTP_USER="mailer", SMTP_PASSWORD="s3cret"), messages("a@example.com")) == [None]
    assert server.mailbox.logins == ["mailer"]
    [received] = server.mailbox.messages
    assert received["To"] == "a@example.com" and received.get_content_type() == "multipart/alternative"
    assert server.mailbox.envelopes[0].mail_from == "scimwatch@example.com"


def test_implicit_tls_delivers(servers, certificate):
    server = servers(tls="ssl", certificate=certificate)
    assert send_all(transport(server), messages("a@example.com")) == [None]
    assert len(server.mailbox.messages) == 1


def test_a_wrong_password_fails_with_the_servers_answer_and_never_prompts(servers, certificate):
    server = servers(tls="starttls", certificate=certificate, users={"mailer": "s3cret"})
    [error] = send_all(transport(server, SMTP_USER="mailer", SMTP_PASSWORD="wrong"), messages("a@example.com"))
    assert error.startswith("login to smtp 127.0.0.1") and "535" in error
    assert server.mailbox.messages == []


def test_a_certificate_that_is_not_trusted_is_refused(servers, certificate, monkeypatch):
    server = servers(tls="starttls", certificate=certificate)
    monkeypatch.delenv("SSL_CERT_FILE")
    [error] = send_all(transport(server), messages("a@example.com"))
    assert "TLS with smtp 127.0.0.1" in error and "certificate" in error
    assert server.mailbox.messages == []


def test_starttls_is_never_silently_skipped_when_the_server_does_not_offer_it(servers):
    server = servers()
    [error] = send_all(transport(server, SMTP_SECURITY="starttls"), messages("a@example.com"))
    assert "STARTTLS" in error and server.mailbox.messages == []


def test_one_connection_serves_every_message_of_a_session(servers):
    server = servers()
    assert send_all(transport(server), messages("a@example.com", "b@example.com", "c@example.com")) == [None] * 3
    assert len(set(server.mailbox.sessions)) == 1


def test_when_the_server_is_down_every_message_fails_at_once_with_the_reason(servers):
    server = servers()
    server.stop()
    errors = send_all(transport(server), messages("a@example.com", "b@example.com"))
    assert errors[0].startswith(f"cannot connect to smtp 127.0.0.1:{server.port}")
    assert errors[1] == f"not attempted: {errors[0]}"


def test_a_refused_message_does_not_stop_the_next_one(servers):
    server = servers()
    batch = messages("a@example.com", "b@example.com")
    server.mailbox.refuse_with = "550 5.1.1 no such user"
    with transport(server).session() as send:
        with pytest.raises(MailError, match=r"550 5\.1\.1 no such user"):
            send(batch[0])
        server.mailbox.refuse_with = None
        send(batch[1])
    assert [m["To"] for m in server.mailbox.messages] == ["b@example.com"]


def test_the_outbox_writes_one_complete_eml_file_per_message(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    assert send_all(outbox, messages("a@example.com", "b@example.com")) == [None, None]
    files = sorted((tmp_path / "outbox").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(m["To"] for m in parsed) == ["a@example.com", "b@example.com"]
    assert all(m.get_body(("html",)) is not None for m in parsed)


def test_the_outbox_is_the_default_and_lives_in_the_data_folder(data_dir):
    scimwatch = Scimwatch(data_dir, Clock(NOW))
    scimwatch.add_key(days=3)
    assert scimwatch.run()["sent"] == 1
    assert scimwatch.health()["mail"]["backend"] == f"outbox {data_dir / 'outbox'}"
    scimwatch.close()
    [eml] = (data_dir / "outbox").glob("*.eml")
    assert message_from_bytes(eml.read_bytes(), policy=policy.default)["To"] == "admin@example.com"


def test_a_reminder_cycle_over_starttls_with_login_arrives(servers, certificate, data_dir):
    server = servers(tls="starttls", certificate=certificate, users={"mailer@example.com": "pw"})
    scimwatch = Scimwatch(data_dir, Clock(NOW), **server.settings(SMTP_USER="mailer@example.com", SMTP_PASSWORD="pw"))
    scimwatch.add_key(days=1)
    assert scimwatch.run()["sent"] == 1
    scimwatch.close()
    assert server.mailbox.logins == ["mailer@example.com"]
    assert server.mailbox.messages[0]["Subject"] == "[scimwatch] A directory: SCIM API key expires in 1 day"
