"""The reminder as a channel message (DESIGN §14): the email's title, facts, steps and links, in Markdown."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ..domain import palette, runbook
from ..domain.reminders import Digest
from . import email_message

# Markdown that can act mid-line (emphasis, code, links, tables, strike) in a name a user typed (also
# inside the steps) shows as itself. Line-start marks (# - + 1.) need no escape: no line starts with user
# text. Chat services read mentions and links from <...> (Slack's <!channel>, <@U123>, <url|text>; Apprise
# turns even a bare `!channel>` into one), so a name's angle brackets become look-alikes that never close one.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~&])")
_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})


@dataclass(frozen=True)
class ChannelMessage:
    """One channel message: its title (the email's subject) and a Markdown body."""

    title: str
    body: str


def markdown_text(value: str) -> str:
    """Return user text that Markdown and chat services show literally, on one line."""
    return _MARKDOWN.sub(r"\\\1", email_message.header_text(value).translate(_ANGLES))


def _link(text: str, url: str) -> str:
    # <url> is a link in CommonMark and in Slack (whose own syntax is not [text](url)), and reads as itself elsewhere.
    return f"{text}: <{url}>"


def build(digest: Digest, now: datetime, links: Callable[[Mapping, str], str] | None = None) -> ChannelMessage:
    """Return the digest for one channel: keys most urgent first (days left, deadline, links), then each step once."""
    items = [email_message.item_facts(item, now, links) for item in digest.items]
    lines = [f"**{email_message.intro(items)}**, most urgent first.", ""]
    for facts in items:
        lines.append(f"- **{palette.style(facts.severity).label.upper()}** {markdown_text(facts.name)} · "
                     f"{markdown_text(facts.org)} · {markdown_text(facts.provider)}: {facts.when}")
        actions = [_link("Directory", facts.url)]
        if facts.rotate_url:
            actions += [_link("I regenerated it", facts.rotate_url), _link("I'm on it", facts.acknowledge_url)]
        lines.append("  " + " · ".join(actions))
        if facts.acknowledged:
            lines.append(f"  {markdown_text(facts.acknowledged)}")
    for section in email_message.runbook_sections(digest, items):
        lines += ["", f"**{markdown_text(section.heading)}**"]
        lines += [f"{number}. {markdown_text(step)}" for number, step in section.steps]
    lines += ["", *(_link("Atlassian's instructions", url) for url in email_message.docs_urls(digest))]
    if any(facts.group in runbook.IDENTITY_PROVIDERS for facts in items):
        lines += ["", email_message.CONSEQUENCE]
    title = email_message.subject(digest, now).removeprefix(email_message.SUBJECT_PREFIX)
    return ChannelMessage(email_message.SUBJECT_PREFIX + markdown_text(title), "\n".join(lines) + "\n")
