"""Channels beyond email through Apprise (DESIGN §14): the tagged configuration and one send per service.

The only module that imports Apprise. Channel secrets (webhook URLs, tokens) stay in the configuration
file: nothing here returns, raises or logs a URL; callers see tags and service names only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import apprise

# Apprise logs the URLs it loads and posts to (with their secrets) at DEBUG, and its warnings quote
# configuration lines: none of it may reach our log, so its records stop here and are only captured.
logging.getLogger("apprise").propagate = False
# urllib3 (under Apprise's requests) logs each request line, a webhook's secret path included, at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


class ChannelConfigError(ValueError):
    """The Apprise configuration file is missing, does not parse, or has a URL without a (lower-case) tag."""


@dataclass(frozen=True)
class ServiceResult:
    """The outcome of one service of a channel: its name and whether it took the message."""

    service: str
    sent: bool


class Channels:
    """The tagged services of one Apprise configuration file."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._services = _load(self.path)

    @property
    def tags(self) -> list[str]:
        """Return every tag the configuration defines, sorted."""
        return sorted({tag for service in self._services for tag in service.tags})

    def describe(self) -> list[dict]:
        """Return each tag with the names of its services (e.g. Slack, JSON), never a URL."""
        return [{"tag": tag, "services": [service.service_name for service in self._services
                                          if tag in service.tags]} for tag in self.tags]

    def send(self, tag: str, title: str, body: str, skip: frozenset[int] = frozenset()) -> list[ServiceResult]:
        """Send one Markdown message to every service of a tag; return each service's own result.

        One service at a time (Apprise's notify(tag=) answers one yes/no for all of them), so a retry
        can skip the positions in `skip`: the tag's services that already took this message.
        A service's own connect and read timeouts (Apprise's `cto` and `rto`, 4 s each) bound each send.
        """
        results = []
        for position, service in enumerate(service for service in self._services if tag in service.tags):
            if position in skip:
                results.append(ServiceResult(service.service_name, True))
                continue
            single = apprise.Apprise()
            single.add(service)
            with apprise.LogCapture(level=logging.DEBUG):
                sent = bool(single.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN))
            results.append(ServiceResult(service.service_name, sent))
        return results


def _load(path: str) -> list:
    """Return the configuration's services, or raise ChannelConfigError naming the file (never its lines)."""
    problem = path
    if not Path(path).is_file():
        raise ChannelConfigError(f"{problem} is not a readable file")
    config = apprise.AppriseConfig()
    with apprise.LogCapture(level=logging.WARNING) as warnings:
        config.add(path)
        services = list(config.servers())
    # Apprise reports a file that does not parse (or a line it skips) only as a log warning.
    if warnings.getvalue().strip() or not services:
        raise ChannelConfigError(f"{problem} does not parse as an Apprise YAML or text configuration "
                                 "(each line `tag=url`, or YAML `urls:` with a `tag:` on each)")
    if any(not service.tags for service in services):
        raise ChannelConfigError(f"{problem} has a URL without a tag; give every URL at least one tag")
    capitals = sorted({tag for service in services for tag in service.tags if tag != tag.lower()})
    if capitals:
        # Keys name channels without case (like addresses), so a tag must have one spelling.
        raise ChannelConfigError(f"{problem}: write tags in lower case (found {', '.join(capitals)})")
    return services
