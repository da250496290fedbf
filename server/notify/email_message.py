"""The reminder email (DESIGN §6): multipart/alternative text + HTML, built from the banner wording and runbook."""
from __future__ import annotations

import base64
import binascii
import html
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from ..domain import banners, palette, runbook
from ..domain.reminders import Digest, DigestItem
from ..domain.times import parse_time


@dataclass(frozen=True)
class Email:
    """One message ready for a transport: envelope recipient, Message-ID and the RFC 5322 bytes."""

    recipient: str
    message_id: str
    data: bytes


# Anything that could end a header line or confuse a mail client's header parser.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_text(value: str) -> str:
    """Return `value` safe for one header line: line breaks and control characters become one space."""
    return _HEADER_BREAKS.sub(" ", value).strip()


SUBJECT_PREFIX = "[scimwatch] "
# Mobile clients and RFC 5322's recommended line length: what matters must fit before "(+N more)".
SUBJECT_LIMIT = 78


def subject(digest: Digest, now: datetime) -> str:
    """Return '[scimwatch] <directory>: <what happens when>' for the most urgent key, then '(+N more)'.

    The part before '(+N more)' is at most SUBJECT_LIMIT characters: a long directory name is
    shortened so that the days left always show.
    """
    first = digest.items[0]
    status = banners.status_text(first.key, parse_time(first.key["expires_at"]), now)
    name = header_text(banners.directory_name(first.key))
    room = SUBJECT_LIMIT - len(SUBJECT_PREFIX) - len(": ") - len(status)
    if len(name) > room:
        name = name[:room - 1].rstrip() + "…"
    text = f"{SUBJECT_PREFIX}{name}: {status}"
    others = len(digest.items) - 1
    return header_text(f"{text} (+{others} more)" if others else text)


@dataclass(frozen=True)
class Item:
    """What the email says about one key: its row of the summary table."""

    severity: str
    name: str
    org: str
    provider: str
    when: str
    url: str
    group: str
    acknowledged: str = ""
    rotate_url: str = ""
    acknowledge_url: str = ""


def item_facts(item: DigestItem, now: datetime, links: Callable[[Mapping, str], str] | None = None) -> Item:
    """Return what a reminder says about one key (emails and channel messages alike)."""
    key = item.key
    expires_at = parse_time(key["expires_at"])
    relative = banners.relative_text(expires_at, now)
    kind = key.get("kind", "scim")
    if expires_at <= now:
        when = f"Expired {relative} ({banners.expires_text(expires_at)})"
    else:
        when = f"Expires {relative} ({banners.expires_text(expires_at)})"
    provider = runbook.identity_provider(key.get("identity_provider", "other")).name if kind == "scim" else \
        banners.kind_name(key)
    # A key past 30 days has no banner severity yet (a per-key 60d stage); it reads as info.
    return Item(severity=item.severity or "info", name=banners.directory_name(key),
                org=key.get("org_name") or key["org_id"], provider=provider, when=when,
                url=banners.action_url(key),
                group=key.get("identity_provider", "other") if kind == "scim" else kind,
                acknowledged=banners.acknowledgement_text(key),
                rotate_url=links(key, "rotate") if links else "",
                acknowledge_url=links(key, "acknowledge") if links else "")


@dataclass(frozen=True)
class Section:
    """Steps for a group of keys: numbered (number, text) lines under a heading naming the keys."""

    heading: str
    steps: list[tuple[int, str]]


def runbook_sections(digest: Digest, items: list[Item]) -> list[Section]:
    """Return the steps, each written once: the shared SCIM order, then each identity provider's own steps.

    1. SCIM keys of one identity provider get its full steps in order, as the banners show them.
    2. SCIM keys of several get the shared order once, then per provider only the steps it fills in.
    3. Other kinds of key (admin API keys, API tokens) get their own steps, once per kind.
    """
    groups: dict[str, list[tuple[DigestItem, Item]]] = {}
    for item, facts in zip(digest.items, items, strict=True):
        groups.setdefault(facts.group, []).append((item, facts))
    scim = [code for code in groups if code in runbook.IDENTITY_PROVIDERS]
    sections = []
    if len(scim) == 1:
        members = groups[scim[0]]
        key = members[0][0].key if len(members) == 1 else {"identity_provider": scim[0]}
        sections.append(Section(f"{members[0][1].provider}: {_names(members)}",
                                list(enumerate(runbook.rotation_steps(key), 1))))
    elif scim:
        sections.append(Section("Every SCIM API key, in this order", list(enumerate(runbook.shared_steps(), 1))))
        sections += [Section(f"{groups[code][0][1].provider}: {_names(groups[code])}", runbook.provider_steps(code))
                     for code in scim]
    for kind in (code for code in groups if code not in runbook.IDENTITY_PROVIDERS):
        members = groups[kind]
        sections.append(Section(f"{members[0][1].provider}: {_names(members)}",
                                list(enumerate(runbook.rotation_steps(members[0][0].key), 1))))
    return sections


def _names(members) -> str:
    return ", ".join(facts.name for _, facts in members)


def intro(items: list[Item]) -> str:
    """Return the opening line: how many keys need rotating."""
    count = len(items)
    return f"{count} Atlassian key{'s need' if count != 1 else ' needs'} rotating"


CONSEQUENCE = ("When a SCIM API key expires, the identity provider can no longer provision or deprovision "
               "users, so leavers keep access.")
FOOTER = ("You get this from scimwatch because your address is on these keys' notify lists or in "
          "SCIMWATCH_NOTIFY. Each reminder stage is sent once; recording the rotation in scimwatch "
          "re-arms the reminders for the new expiry date.")


def docs_urls(digest: Digest) -> list[str]:
    """Return Atlassian's instructions for each kind of key in a digest, once each."""
    return list(dict.fromkeys(runbook.docs_url(item.key.get("kind", "scim")) for item in digest.items))


def text_body(digest: Digest, items: list[Item], sections: list[Section]) -> str:
    """Return the plain-text part: the keys most urgent first, then each step once."""
    lines = [intro(items) + ", most urgent first."]
    if any(facts.group in runbook.IDENTITY_PROVIDERS for facts in items):
        lines.append(CONSEQUENCE)
    lines.append("")
    for facts in items:
        lines += [f"{palette.style(facts.severity).label.upper():<9} {facts.name} · {facts.org} · {facts.provider}",
                  f"{'':<9} {facts.when}", f"{'':<9} {facts.url}"]
        if facts.acknowledged:
            lines.append(f"{'':<9} {facts.acknowledged}")
        if facts.rotate_url:
            lines += [f"{'':<9} I regenerated it: {facts.rotate_url}", f"{'':<9} I'm on it: {facts.acknowledge_url}"]
    for section in sections:
        lines += ["", section.heading]
        lines += [f"{number}) {step}" for number, step in section.steps]
    lines += ["", *(f"Atlassian's instructions: {url}" for url in docs_urls(digest)), "", "-- ", FOOTER]
    return "\r\n".join(lines) + "\r\n"


# Outlook for Windows renders with Word: tables for layout, every style inline, sizes in attributes too.
FONT = "font-family:'Segoe UI',Helvetica,Arial,sans-serif"
SURFACE = palette.LIGHT_SURFACE
CANVAS = "#F7F8F9"  # around the 600 px card
TABLE = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'
CELL = f"{FONT};font-size:15px;line-height:22px;color:{SURFACE.text}"


def _lozenge(severity: str) -> str:
    style = palette.style(severity)
    return (f'<span style="display:inline-block;padding:1px 6px;border:1px solid {style.line};border-radius:3px;'
            f'background:{style.fill};color:{style.text};font-size:11px;line-height:16px;font-weight:bold;'
            f'letter-spacing:0.04em">{html.escape(style.label.upper())}</span>')


def html_body(digest: Digest, items: list[Item], sections: list[Section]) -> str:
    """Return the HTML part: a 600 px table layout with inline styles; every value from users is escaped."""
    e = html.escape
    muted = f"color:{SURFACE.muted};font-size:13px;line-height:18px"
    rows = "".join(
        f'<tr><td valign="top" width="88" style="{CELL};padding:10px 8px 10px 0;border-top:1px solid '
        f'{SURFACE.border}">{_lozenge(facts.severity)}</td>'
        f'<td valign="top" style="{CELL};padding:8px 0;border-top:1px solid {SURFACE.border}">'
        f'<a href="{e(facts.url)}" style="color:{SURFACE.link};font-weight:bold">{e(facts.name)}</a> '
        f'<span style="{muted}">· {e(facts.org)} · {e(facts.provider)}</span><br>{e(facts.when)}'
        + (f'<br><span style="{muted}">{e(facts.acknowledged)}</span>' if facts.acknowledged else "")
        + (f'<br><a href="{e(facts.rotate_url)}" style="color:{SURFACE.link}">I regenerated it</a> · '
           f'<a href="{e(facts.acknowledge_url)}" style="color:{SURFACE.link}">I\'m on it</a>'
           if facts.rotate_url else "")
        + '</td></tr>'
        for facts in items)
    steps = "".join(
        f'<tr><td colspan="2" style="{CELL};padding:14px 0 4px"><strong>{e(section.heading)}</strong></td></tr>'
        + "".join(f'<tr><td valign="top" width="24" style="{CELL};padding:1px 0">{number}.</td>'
                  f'<td valign="top" style="{CELL};padding:1px 0">{e(step)}</td></tr>'
                  for number, step in section.steps)
        for section in sections)
    docs = " · ".join(f'<a href="{e(url)}" style="color:{SURFACE.link}">Atlassian\'s instructions</a>'
                      for url in docs_urls(digest))
    consequence = (f'<p style="margin:0 0 12px">{e(CONSEQUENCE)}</p>'
                   if any(facts.group in runbook.IDENTITY_PROVIDERS for facts in items) else "")
    return "\r\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(intro(items))}</title></head>",
        f'<body style="margin:0;padding:0;background:{CANVAS}">',
        f'<table {TABLE} width="100%" style="background:{CANVAS}"><tr><td align="center" style="padding:16px 8px">',
        f'<table {TABLE} width="600" style="width:100%;max-width:600px;background:{SURFACE.background};'
        f'border:1px solid {SURFACE.border}"><tr><td style="{CELL};padding:20px 24px">',
        f'<h1 style="{FONT};margin:0 0 8px;font-size:20px;line-height:26px;color:{SURFACE.text}">'
        f"{e(intro(items))}</h1>",
        consequence,
        f'<table {TABLE} width="100%">{rows}</table>',
        f'<table {TABLE} width="100%" style="margin-top:8px;border-top:1px solid {SURFACE.border}">'
        f'<tr><td colspan="2" style="{CELL};padding:16px 0 0;font-size:17px"><strong>How to rotate a key with '
        f"the least downtime</strong></td></tr>{steps}</table>",
        f'<p style="margin:16px 0 0">{docs}</p>',
        f'<p style="margin:20px 0 0;{muted}">{e(FOOTER)}</p>',
        "</td></tr></table></td></tr></table></body></html>",
    ]) + "\r\n"


def new_message_id(sender: str) -> str:
    """Return a fresh Message-ID in the sender's domain."""
    return f"<{uuid.uuid4().hex}@{sender.rpartition('@')[2] or 'scimwatch'}>"


def _encoded_header(name: str, value: str) -> bytes:
    """Return one header line; non-ASCII text as RFC 2047 base64 words (the stdlib's Header costs ~0.4 ms)."""
    value = header_text(value)
    if value.isascii():
        return f"{name}: {value}".encode("ascii")
    data, words = value.encode("utf-8"), []
    while data:
        # 45 bytes make 60 base64 characters, so each word stays under RFC 2047's 75; never split a character.
        cut = min(45, len(data))
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut -= 1
        words.append(b"=?utf-8?b?" + base64.b64encode(data[:cut]) + b"?=")
        data = data[cut:]
    return f"{name}: ".encode() + b"\r\n ".join(words)


def _part(content_type: str, text: str) -> bytes:
    # Quoted-printable in one C call; CRLF input makes binascii keep CRLF line ends and soft breaks.
    body = binascii.b2a_qp(text.encode("utf-8"))
    return (f"Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            .encode() + body)


def _base64_part(content_type: str, text: str) -> bytes:
    # The HTML part is mostly repeated inline styles: base64 encodes it ten times faster than
    # quoted-printable, which keeps a burst of reminders near plain smtplib's rate (DESIGN §9).
    body = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return (f"Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .encode() + body)


def build(digest: Digest, *, sender: str, now: datetime, message_id: str, public_url: str = "",
          links: Callable[[Mapping, str], str] | None = None) -> Email:
    """Return the digest email for one recipient as wire bytes: multipart/alternative, text then HTML.

    Written out directly rather than with email.message: the stdlib's header objects cost about
    2 ms per message, more than sending it (DESIGN §9 wants bursts near plain smtplib's rate).
    Every header value is one line (header_text), so no user text can reach the header block,
    and the boundary carries a random 128-bit token no body can guess. No link goes to a JSON
    route: with `links` (set when PUBLIC_URL is), each item carries its signed "I regenerated it" and
    "I'm on it" links of DESIGN §15.
    """
    items = [item_facts(item, now, links) for item in digest.items]
    sections = runbook_sections(digest, items)
    boundary = f"scimwatch-{uuid.uuid4().hex}"
    head = [_encoded_header("From", sender), _encoded_header("To", digest.recipient),
            _encoded_header("Subject", subject(digest, now)),
            f"Date: {format_datetime(now)}".encode(), f"Message-ID: {header_text(message_id)}".encode(),
            # RFC 3834: an automatic message; stops out-of-office replies and loops.
            b"Auto-Submitted: auto-generated", b"MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode()]
    separator = f"\r\n--{boundary}\r\n".encode()
    data = b"".join([b"\r\n".join(head), b"\r\n", separator,
                     _part("text/plain", text_body(digest, items, sections)), separator,
                     _base64_part("text/html", html_body(digest, items, sections)),
                     f"\r\n--{boundary}--\r\n".encode()])
    return Email(digest.recipient, message_id, data)
