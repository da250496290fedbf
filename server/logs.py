"""Log lines on stderr: text for people, or one JSON object a line for a log collector (SCIMWATCH_LOG_FORMAT).

Records carry their facts as `extra` fields (method, path, status, duration_ms; a cycle's counts): JSON
prints them as fields; text prints only the message, which already says them in words. Nothing here adds a
token or a secret: callers log only what is safe.
"""
from __future__ import annotations

import json
import logging
import sys
import time

FORMATS = ("text", "json")
# Attributes every LogRecord has; anything else on a record came in as an `extra` field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict:
    return {name: value for name, value in vars(record).items() if name not in _STANDARD}


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _visible(text: str) -> str:
    """Return text on one line: newlines, other controls and non-ASCII escaped, so no line can be forged."""
    return text.encode("unicode_escape").decode("ascii")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, then the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": _utc(record), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), **_fields(record)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message`, all on one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_utc(record)} {record.levelname} {record.name}: {_visible(record.getMessage())}"
        if record.exc_info:
            text += " " + _visible(self.formatException(record.exc_info))
        return text


def configure(log_format: str, stream=None) -> None:
    """Send INFO and above from every logger to stderr (or `stream`) in `log_format`, one line per record."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
