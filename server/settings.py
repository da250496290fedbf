"""Settings: every SCIMWATCH_ variable as data (name, default, help, parser), parsed strictly."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .domain.keys import EMAIL_PATTERN, LOCAL_PART, check_escalation, parse_escalation
from .notify.channels import Channels
from .sync.org_keys import OrgKeys, read_keys_file

PREFIX = "SCIMWATCH_"


class ConfigError(ValueError):
    """A setting that does not parse; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name without prefix, default text, meaning and parser."""

    name: str
    default: str
    help: str
    parse: Callable[[str], object]


def _text(value: str) -> str:
    return value.strip()


# One DNS label (RFC 1123): letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _host(value: str) -> str:
    """Return an IP literal (brackets dropped) or a host name; what only binding can tell is left to serve."""
    host = value.strip()
    if not host:
        raise ValueError(f"must not be empty; leave it unset for 127.0.0.1, or use 0.0.0.0 for every interface, "
                         f"got {value!r}")
    if host == "*":
        raise ValueError(f"use 0.0.0.0 (every IPv4 interface) or :: (every IPv6 interface), got {value!r}")
    if "://" in host:
        raise ValueError(f"must be a host name or IP address without a scheme, got {value!r}")
    try:
        return str(ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host))
    except ValueError:
        pass
    if re.fullmatch(r"(\[[^]]*\]|[^:]*):[0-9]+", host):
        raise ValueError(f"must be a host name or IP address without a port (the port goes in SCIMWATCH_PORT), "
                         f"got {value!r}")
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"must be a host name or IP address such as 127.0.0.1, 0.0.0.0 or scimwatch.example.com, "
                         f"got {value!r}")
    # A name whose last label is all digits reads as an IPv4 address; resolvers disagree on forms like 127.1.
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a valid IP address")
    return host


def _ascii_digits(text: str) -> bool:
    """Tell whether text is made of 0-9 only: str.isdigit (and int) also take other scripts' digits."""
    return text.isascii() and text.isdigit()


def _port(value: str) -> int:
    if not _ascii_digits(value.strip()) or not 0 <= int(value) <= 65535:
        raise ValueError(f"must be a port number from 0 to 65535, got {value!r}")
    return int(value)


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _whole(minimum: int, maximum: int):
    def parse(value: str) -> int:
        if not re.fullmatch(r"\s*\d+\s*", value, re.ASCII) or not minimum <= int(value) <= maximum:
            raise ValueError(f"must be a whole number from {minimum} to {maximum}, got {value!r}")
        return int(value)
    return parse


def _choice(*options: str):
    def parse(value: str) -> str:
        if value.strip().lower() not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return value.strip().lower()
    return parse


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _origins(value: str) -> tuple[str, ...]:
    origins = []
    for origin in _items(value):
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin, re.ASCII):
            raise ValueError(f"{origin!r} is not an exact origin such as https://intranet.example.com "
                             "(scheme and host, optional port, no path or wildcard)")
        origins.append(origin.lower())
    return tuple(origins)


def _emails(value: str) -> tuple[str, ...]:
    addresses = _items(value)
    for address in addresses:
        if not EMAIL_PATTERN.match(address):
            raise ValueError(f"{address!r} is not a valid email address")
    return tuple(dict.fromkeys(addresses))


def _thresholds(value: str) -> tuple[int, ...]:
    days = _items(value)
    if not days or not all(_ascii_digits(d) and 1 <= int(d) <= 365 for d in days):
        raise ValueError(f"must be comma-separated whole days from 1 to 365 such as 30,14,7,3,1, got {value!r}")
    return tuple(sorted({int(d) for d in days}, reverse=True))


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(f"must be an http(s) base URL such as https://scimwatch.example.com, got {value!r}")
    return value


def _sender(value: str) -> str:
    value = value.strip()
    # A sender may be a local mailbox such as scimwatch@localhost, so the domain need not be dotted.
    if not re.fullmatch(LOCAL_PART + r"@[A-Za-z0-9.-]+", value, re.ASCII):
        raise ValueError(f"must be an email address, got {value!r}")
    return value


def _channels_file(value: str) -> Channels | None:
    return Channels(value.strip()) if value.strip() else None


def _tags(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag.lower() for tag in _items(value)))


def _escalation(value: str) -> dict[str, list[str]]:
    return check_escalation(parse_escalation(value))


def _org_keys(value: str) -> OrgKeys | None:
    return read_keys_file(Path(value.strip())) if value.strip() else None


SETTINGS = (
    Setting("HOST", "127.0.0.1", "address to listen on", _host),
    Setting("PORT", "8080", "port to listen on (0 picks a free one)", _port),
    Setting("DATA_DIR", "./data", "folder for the data file and its journal, the lock, the secrets and the outbox",
            lambda v: Path(v.strip() or ".")),
    Setting("ADMIN_TOKEN", "", "bearer token for the admin API; generated on first start when empty", _text),
    Setting("PUBLIC_BANNERS", "false", "serve the banner API without a token", _bool),
    Setting("BANNER_ORIGINS", "", "extra exact origins allowed by CORS on the banner API, comma-separated", _origins),
    Setting("MAIL_BACKEND", "outbox", "outbox writes .eml files to DATA_DIR/outbox; smtp sends with yagmail",
            _choice("outbox", "smtp")),
    Setting("SMTP_HOST", "", "SMTP server host (required with MAIL_BACKEND=smtp)", _text),
    Setting("SMTP_PORT", "587", "SMTP server port", _port),
    Setting("SMTP_SECURITY", "starttls", "starttls, ssl or none", _choice("starttls", "ssl", "none")),
    Setting("SMTP_USER", "", "SMTP login; no login when empty", _text),
    Setting("SMTP_PASSWORD", "", "SMTP password", lambda v: v),
    Setting("MAIL_FROM", "scimwatch@localhost", "sender address", _sender),
    Setting("NOTIFY", "", "comma-separated addresses added to every key's recipients", _emails),
    Setting("THRESHOLDS", "30,14,7,3,1", "reminder stages, days before expiry", _thresholds),
    Setting("EXPIRED_REPEAT_DAYS", "7", "after expiry, remind again every N days (0 = never)", _whole(0, 365)),
    Setting("DELIVERY_RETENTION_DAYS", "400", "delivery records of removed keys and superseded expiries are "
            "removed after this many days unchanged", _whole(1, 36500)),
    Setting("CHECK_MINUTES", "15", "how often the scheduler checks, in minutes", _whole(1, 1440)),
    Setting("CHECK_ON_CHANGE", "true", "also check within a minute after a key is added or changed", _bool),
    Setting("ALERT_AFTER_HOURS", "24", "/healthz fails once mail has been failing this long, in hours",
            _whole(1, 8760)),
    Setting("PUBLIC_URL", "", "base URL of this server, used for links in emails", _url),
    Setting("ATLASSIAN_KEYS_FILE", "", "file of ORG_ID=ORG_ADMIN_API_KEY lines (mode 600); Atlassian sync is off "
            "when empty", _org_keys),
    Setting("ATLASSIAN_API_URL", "https://api.atlassian.com", "base URL of the Atlassian admin APIs the sync reads",
            _url),
    Setting("LOG_FORMAT", "text", "log lines on stderr, one per request and per reminder cycle: text, or json (one "
            "object a line)", _choice("text", "json")),
    Setting("METRICS_PUBLIC", "false", "serve /metrics without a token (else scope metrics or admin)", _bool),
    Setting("SYNC_HOURS", "6", "how often the Atlassian sync runs, in hours", _whole(1, 168)),
    Setting("APPRISE_CONFIG", "", "Apprise YAML or text configuration of tagged channel URLs (Slack, Teams, "
            "webhooks); no channels when empty", _channels_file),
    Setting("CHANNELS", "", "comma-separated channel tags every key notifies", _tags),
    Setting("ESCALATION", "", "extra addresses from a stage on, such as 3d=security@example.com;"
            "expired=cio@example.com", _escalation),
)
# Settings whose value may come from a file named by NAME_FILE (Docker secrets and the like).
FILE_SETTINGS = ("ADMIN_TOKEN", "SMTP_PASSWORD")


def load(environ: Mapping[str, str]) -> dict:
    """Parse settings from an environment mapping; raise ConfigError naming the first bad variable."""
    values = {}
    for setting in SETTINGS:
        variable = PREFIX + setting.name
        raw = environ.get(variable)
        if setting.name in FILE_SETTINGS and environ.get(variable + "_FILE"):
            if raw:
                raise ConfigError(f"{variable} and {variable}_FILE are both set; set only one")
            raw = _read_secret_file(variable + "_FILE", environ[variable + "_FILE"])
        try:
            values[setting.name] = setting.parse(setting.default if raw is None else raw)
        except ValueError as error:
            raise ConfigError(f"{variable}: {error}") from None
    channels = values["APPRISE_CONFIG"]
    known = channels.tags if isinstance(channels, Channels) else []
    unknown = [tag for tag in values["CHANNELS"] if tag not in known]  # type: ignore[attr-defined]
    if unknown:
        raise ConfigError(f"SCIMWATCH_CHANNELS: {', '.join(unknown)} is not a tag of SCIMWATCH_APPRISE_CONFIG; "
                          + (f"its tags are {', '.join(known)}" if known else "SCIMWATCH_APPRISE_CONFIG is not set"))
    if values["MAIL_BACKEND"] == "smtp" and not values["SMTP_HOST"]:
        raise ConfigError("SCIMWATCH_SMTP_HOST: is required when SCIMWATCH_MAIL_BACKEND=smtp")
    return values


def _read_secret_file(variable: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{variable}: cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
