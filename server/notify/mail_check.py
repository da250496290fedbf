"""A test email: one short message through the configured transport, to check that reminders can get out."""
from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from . import email_message
from .email_message import Email

SUBJECT = "[scimwatch] Test email"


def build(recipient: str, *, sender: str, now: datetime, backend: str, public_url: str = "") -> Email:
    """Return the test email for one recipient: plain text saying where it came from and what it proves."""
    # CRLF line ends: SMTP sends bytes as they are, and the reminders' own messages use CRLF too.
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(now)
    message_id = email_message.new_message_id(sender)
    message["Message-ID"] = message_id
    # RFC 3834: an automatic message; stops out-of-office replies and loops.
    message["Auto-Submitted"] = "auto-generated"
    where = f" at {public_url}" if public_url else ""
    message.set_content(
        f"This is a test email from scimwatch{where}, sent through {backend}.\n\n"
        "If you can read it, scimwatch's reminders can reach this address. Reminders come from the same "
        "sender; allow it in your junk mail rules if this arrived there.\n")
    return Email(recipient, message_id, message.as_bytes())


def send(transport, email: Email) -> None:
    """Send one message over its own transport session; raise MailError with the reason when it does not go."""
    with transport.session() as deliver:
        deliver(email)
