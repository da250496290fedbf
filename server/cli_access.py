"""How the CLI reaches the data (DESIGN §11): in this process, or through a running server's API.

A running server holds the data folder's lock, so no second process may write the data file. At
start the server writes DATA_DIR/cli.token (mode 0600, new at every start, removed at stop) with its
loopback address and a fresh admin token accepted only while it runs; the CLI reads it and calls
the HTTP API, with the same results as in-process. Anyone who can read the data folder can already
read everything in it.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .app import create_app
from .domain.key_files import ImportInvalid
from .domain.keys import ValidationError
from .domain.times import utcnow
from .notify.deliveries import service_for
from .store import exchange
from .store.files import DataFolderBusy
from .store.registry import KeyNotFound
from .store.storage import Store
from .store.tokens import TokenNotFound
from .sync import service as sync

TOKEN_FILE = "cli.token"  # noqa: S105 (a file name)
# A reminder run over a slow relay can take a while; the CLI waits as it would in-process.
TIMEOUT_SECONDS = 600


class LocalAccessError(Exception):
    """The running server could not be reached or answered with an error; the text says which."""


def start(app) -> Callable[[], None]:
    """Write DATA_DIR/cli.token for the address the server listens on; return the stop that removes it."""
    context = app.extensions["scimwatch"]
    host, port = app.config["SCIMWATCH_LISTENING_ON"]
    token = "sw_cli_" + secrets.token_urlsafe(32)
    context.tokens.allow_admin(token)
    path = Path(context.settings["DATA_DIR"]) / TOKEN_FILE
    _remove(path)  # left by a server that was killed; we hold the folder lock, so it is stale
    document = json.dumps({"url": f"http://{_loopback(host)}:{port}", "token": token, "pid": os.getpid()})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(document)

    def stop() -> None:
        _remove(path)
        context.tokens.forget_admin(token)

    return stop


def _loopback(host: str) -> str:
    # A server on every address is reached on loopback; the CLI never leaves the machine.
    if host in ("0.0.0.0", ""):  # noqa: S104 (compared, not bound)
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_token_file(data_dir) -> tuple[str, str] | None:
    """Return (url, token) from a running server's token file, or None when there is none to use."""
    path = Path(data_dir) / TOKEN_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        # Only a private regular file of ours: never a link, a FIFO or someone else's file.
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            return None
        try:
            document = json.loads(handle.read(4096))
            url, token = document["url"], document["token"]
        except (ValueError, KeyError, TypeError):
            return None
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("127."):
        return None
    return url, token


def open_access(config: dict, *, readonly: bool = False):
    """Return the CLI's operations: in-process over the data folder, or through the server that holds it.

    Raises StorageError (DataFolderBusy when a server holds the folder but left no usable token file).
    """
    try:
        return InProcess(Store(config["DATA_DIR"], readonly=readonly))
    except DataFolderBusy:
        found = read_token_file(config["DATA_DIR"])
        if found is None:
            raise
        return ThroughServer(*found)


class InProcess:
    """The CLI's operations on a data folder this process holds."""

    def __init__(self, store: Store):
        self.app = create_app(store=store)
        self.context = self.app.extensions["scimwatch"]

    def add_key(self, fields: dict) -> dict:
        """Create a key record; raise ValidationError."""
        return self.context.registry.add(fields, utcnow())

    def list_keys(self, org_id: str | None) -> list[dict]:
        """Return key records, soonest expiry first."""
        return self.context.registry.list(org_id)

    def rotate_key(self, key_id: str, body: dict) -> dict:
        """Record a rotation; raise ValidationError or KeyNotFound."""
        return self.context.registry.rotate(key_id, body, utcnow())

    def remove_key(self, key_id: str) -> None:
        """Delete a key record; raise KeyNotFound."""
        self.context.registry.remove(key_id)

    def issue_token(self, scope: str, label: str) -> str:
        """Create a token and return it (shown once)."""
        return self.context.issue_token(scope, label)

    def list_tokens(self) -> list[dict]:
        """Return every stored token's public view."""
        return self.context.tokens.list()

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token; raise TokenNotFound."""
        self.context.tokens.revoke(token_id)

    def remind(self, dry_run: bool) -> dict:
        """Run one reminder cycle and return its report."""
        return service_for(self.app).run_cycle(dry_run=dry_run)

    def import_keys(self, data: bytes, media_type: str, dry_run: bool) -> dict:
        """Import a CSV or JSON file of key records, all rows or none; raise ImportInvalid."""
        return exchange.import_keys(self.context.registry, data, media_type, utcnow(), dry_run=dry_run)

    def export_keys(self, file_format: str) -> bytes:
        """Return every key record as a CSV or JSON file."""
        return exchange.export_keys(self.context.registry, file_format).encode("utf-8")

    def sync(self) -> dict:
        """Run one Atlassian sync and return the sync state; raise SyncNotConfigured."""
        return sync.service_for(self.app).run()

    def backup(self) -> bytes:
        """Return one consistent copy of the data file."""
        return self.context.store.snapshot()

    def close(self) -> None:
        """Release the data folder."""
        self.context.close()


class ThroughServer:
    """The CLI's operations, carried out by a running server over its HTTP API on loopback."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def add_key(self, fields: dict) -> dict:
        """Create a key record; raise ValidationError as the in-process registry would."""
        return self._call("POST", "/api/v1/keys", fields)

    def list_keys(self, org_id: str | None) -> list[dict]:
        """Return key records, soonest expiry first."""
        query = f"?org_id={_quote(org_id)}" if org_id else ""
        return self._call("GET", "/api/v1/keys" + query)["keys"]

    def rotate_key(self, key_id: str, body: dict) -> dict:
        """Record a rotation; raise ValidationError or KeyNotFound."""
        return self._call("POST", f"/api/v1/keys/{_quote(key_id)}/rotate", body, not_found=KeyNotFound(key_id))

    def remove_key(self, key_id: str) -> None:
        """Delete a key record; raise KeyNotFound."""
        self._call("DELETE", f"/api/v1/keys/{_quote(key_id)}", not_found=KeyNotFound(key_id))

    def issue_token(self, scope: str, label: str) -> str:
        """Create a token and return it (shown once)."""
        return self._call("POST", "/api/v1/tokens", {"scope": scope, "label": label})["token"]

    def list_tokens(self) -> list[dict]:
        """Return every stored token's public view."""
        return self._call("GET", "/api/v1/tokens")["tokens"]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token; raise TokenNotFound."""
        self._call("DELETE", f"/api/v1/tokens/{_quote(token_id)}", not_found=TokenNotFound(token_id))

    def remind(self, dry_run: bool) -> dict:
        """Run one reminder cycle in the server and return its report."""
        return self._call("POST", f"/api/v1/reminders/run?dry_run={'true' if dry_run else 'false'}")

    def import_keys(self, data: bytes, media_type: str, dry_run: bool) -> dict:
        """Import a CSV or JSON file of key records in the server, all rows or none; raise ImportInvalid."""
        raw = self._send("POST", f"/api/v1/import?dry_run={'true' if dry_run else 'false'}", data, media_type)
        return json.loads(raw)

    def export_keys(self, file_format: str) -> bytes:
        """Return every key record as a CSV or JSON file, as the server writes it."""
        return self._send("GET", f"/api/v1/export?format={_quote(file_format)}")

    def sync(self) -> dict:
        """Run one Atlassian sync in the server and return the sync state."""
        return self._call("POST", "/api/v1/sync/run")

    def backup(self) -> bytes:
        """Return one consistent copy of the data file, taken by the server under its store lock."""
        return self._send("GET", "/api/v1/backup")

    def close(self) -> None:
        """Nothing to release: each call is one request."""

    def _call(self, method: str, path: str, body: dict | None = None, not_found: Exception | None = None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        raw = self._send(method, path, data, "application/json", not_found)
        return json.loads(raw) if raw else None

    def _send(self, method: str, path: str, data: bytes | None = None, media_type: str = "application/json",
              not_found: Exception | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={  # noqa: S310
            "Authorization": f"Bearer {self.token}", "Content-Type": media_type})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (loopback)
                return response.read()
        except urllib.error.HTTPError as answer:
            error = _error_of(answer)
            if answer.code == 400 and error.get("code") == "import_invalid":
                raise ImportInvalid(error.get("message", ""), error.get("rows")) from None
            if answer.code == 400 and error.get("fields"):
                raise ValidationError(error["fields"]) from None
            if answer.code == 404 and not_found is not None:
                raise not_found from None
            raise LocalAccessError(error.get("message") or f"the server answered HTTP {answer.code}") from None
        except (urllib.error.URLError, OSError) as failure:
            raise LocalAccessError(f"the running server at {self.url} did not answer: "
                                   f"{getattr(failure, 'reason', failure)}") from None


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _error_of(answer: urllib.error.HTTPError) -> dict:
    try:
        return json.loads(answer.read())["error"]
    except (ValueError, KeyError, TypeError, OSError):
        return {}
