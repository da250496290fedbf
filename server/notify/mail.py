"""Mail transports: the outbox folder and SMTP through yagmail. The only module that imports yagmail.

A transport opens one session per reminder cycle (one SMTP connection for the whole burst) and
sends already-built messages; a message that does not go raises MailError with the reason.
"""
from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import yagmail

from .email_message import Email

SMTP_TIMEOUT_SECONDS = 30
OUTBOX_FOLDER = "outbox"

Send = Callable[[Email], None]


class MailError(Exception):
    """A message was not delivered; the text says why."""


class Outbox:
    """Writes each message as one .eml file in a folder, atomically (temp file, fsync, rename)."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def describe(self) -> str:
        """Name this transport for /healthz and error messages."""
        return f"outbox {self.folder}"

    @contextlib.contextmanager
    def session(self) -> Iterator[Send]:
        """Yield a function that files one message."""
        yield self._file

    def _file(self, email: Email) -> None:
        # Time first so a folder listing reads in sending order.
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}.eml"
        final = self.folder / name
        temp = self.folder / f".{name}.tmp"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temp, "xb") as handle:
                handle.write(email.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except OSError as error:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise MailError(f"cannot write {final}: {error.strerror}") from None


class Smtp:
    """Sends over SMTP with yagmail: explicit host, port, TLS mode and login, a verifying TLS context."""

    name = "smtp"

    def __init__(self, *, host: str, port: int, security: str, user: str, password: str, sender: str,
                 timeout: float = SMTP_TIMEOUT_SECONDS):
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.sender, self.timeout = user, password, sender, timeout

    def describe(self) -> str:
        """Name this transport for /healthz and error messages."""
        return f"smtp {self.host}:{self.port} ({self.security})"

    @contextlib.contextmanager
    def session(self) -> Iterator[Send]:
        """Yield a function that sends one message; one connection serves the whole session."""
        connection = _Connection(self)
        try:
            yield connection.send
        finally:
            connection.close()

    def client(self) -> yagmail.SMTP:
        """Return a yagmail client configured so it never prompts and never assumes Gmail."""
        context = ssl.create_default_context() if self.security != "none" else None
        extra = {"context": context} if self.security == "ssl" else {}
        client = yagmail.SMTP(
            user=self.user or self.sender, password=self.password, host=self.host, port=self.port,
            smtp_ssl=self.security == "ssl",
            smtp_starttls={"context": context} if self.security == "starttls" else False,
            smtp_skip_login=not self.user, soft_email_validation=False, timeout=self.timeout, **extra)
        # yagmail turns a login name without @ into name@gmail.com; log in with exactly what was configured.
        client.user = self.user
        client.set_logging(None)
        return client


class _Connection:
    """One lazily opened SMTP connection; after a failed connect, the rest of the session fails fast.

    When the server ends the session (421, or it hangs up), the next message opens a new connection.
    If the server ends that one too at its first message, it is asking us to go away: the rest of
    the session is not attempted and waits for the next cycle.
    """

    def __init__(self, transport: Smtp):
        self.transport = transport
        self.client: yagmail.SMTP | None = None
        self.unreachable: str | None = None
        self.just_reconnected = False

    def send(self, email: Email) -> None:
        if self.unreachable:
            raise MailError(f"not attempted: {self.unreachable}")
        client = self.client or self._connect()
        code = None
        try:
            # Our own multipart message over yagmail's connection; yagmail's send() would rebuild the
            # message and, after a dropped connection, sleep and retry inside the cycle.
            refused = client.smtp.sendmail(self.transport.sender, [email.recipient], email.data)
        except smtplib.SMTPResponseException as error:
            code, failure = error.smtp_code, _reply_text(error.smtp_code, error.smtp_error)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            failure = _reply_text(code, reply)
        except UnicodeError as error:
            # An address smtplib cannot send as ASCII; validation should have refused it already.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.smtp.rset()
            failure = f"the address {email.recipient!r} cannot be sent over SMTP: {error}"
        except (smtplib.SMTPException, OSError) as error:
            failure = f"the connection to {self.transport.describe()} failed: {error}"
            client.smtp.close()
        else:
            self.just_reconnected = False
            if refused:
                raise MailError(f"the server refused {', '.join(refused)}")
            return
        # 421 closes the session (RFC 5321 4.2.5), and smtplib drops a socket the server hung up on:
        # either way this connection is dead, and reusing it would fail the next message too.
        if code == 421 or client.smtp.sock is None:
            self.close()
            if self.just_reconnected:
                self.unreachable = f"{self.transport.describe()} ended the session again after a reconnect: {failure}"
            self.just_reconnected = True
        else:
            self.just_reconnected = False
        raise MailError(failure)

    def _connect(self) -> yagmail.SMTP:
        client, server = self.transport.client(), self.transport.describe()
        try:
            client.login()
        except smtplib.SMTPAuthenticationError as error:
            self.unreachable = f"login to {server} failed: {_reply_text(error.smtp_code, error.smtp_error)}"
        except ssl.SSLError as error:
            reason = getattr(error, "verify_message", None) or error.reason or error
            self.unreachable = f"TLS with {server} failed: {reason}"
        except (smtplib.SMTPException, OSError) as error:
            self.unreachable = f"cannot connect to {server}: {error}"
        if self.unreachable:
            with contextlib.suppress(Exception):
                client.smtp.close()
            raise MailError(self.unreachable)
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.smtp.quit()
            with contextlib.suppress(OSError):
                self.client.smtp.close()
            self.client.is_closed = True
            self.client = None


def _reply_text(code: int, reply) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"the server answered {code} {text}"


def transport_from_settings(settings: dict):
    """Return the transport the settings ask for (MAIL_BACKEND outbox or smtp)."""
    if settings["MAIL_BACKEND"] == "smtp":
        return Smtp(host=settings["SMTP_HOST"], port=settings["SMTP_PORT"], security=settings["SMTP_SECURITY"],
                    user=settings["SMTP_USER"], password=settings["SMTP_PASSWORD"], sender=settings["MAIL_FROM"])
    return Outbox(Path(settings["DATA_DIR"]) / OUTBOX_FOLDER)
