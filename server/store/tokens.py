"""Bearer tokens in the store: issue, list, revoke, check, and when each was last used."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from ..domain import tokens
from ..domain.times import format_time, parse_time
from .storage import StorageError, Store, thaw

log = logging.getLogger(__name__)

# last_used_at is stored at most this often per token: it says "in use lately", not an audit log.
USE_RESOLUTION = timedelta(minutes=1)


class TokenNotFound(LookupError):
    """No token has this id."""


class TokenBook:
    """The tokens of one data folder, plus the configured admin token (SCIMWATCH_ADMIN_TOKEN)."""

    def __init__(self, store: Store, admin_token: str, clock: Callable[[], datetime]):
        self.store = store
        self.records = store.collection("tokens")
        self.now = clock
        self._admin_hashes = (tokens.token_hash(admin_token),) if admin_token else ()
        # Admin tokens that live in memory only, while a server runs (the CLI's per-start token).
        self._session_hashes: tuple[str, ...] = ()
        # Uses seen since the last write, by token id; written off the request path, in one write.
        self._used: dict[str, datetime] = {}
        self._stored_use: dict[str, datetime] = {}
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    def identify(self, presented: str) -> tokens.Bearer | None:
        """Return who a presented bearer token is (scope and stored record), or None when it is not valid."""
        return tokens.match(presented, self.records.all(), self._admin_hashes + self._session_hashes)

    def note_use(self, bearer: tokens.Bearer) -> None:
        """Remember that a token was let in; last_used_at is written later, off the request path."""
        if bearer.record is not None:
            self._note_use(bearer.record)

    def allow_admin(self, token: str) -> None:
        """Accept one more admin token, held in memory only (the CLI's per-start token)."""
        self._session_hashes = (*self._session_hashes, tokens.token_hash(token))

    def forget_admin(self, token: str) -> None:
        """Stop accepting an admin token given to allow_admin."""
        self._session_hashes = tuple(h for h in self._session_hashes if h != tokens.token_hash(token))

    def issue(self, request) -> tuple[str, dict]:
        """Validate a request (`{"scope", "label"}`), create the token and store its hash.

        Returns the token itself (shown once) and its public view; raises ValidationError.
        """
        scope, label = tokens.check_request(request)
        token = tokens.new_token()
        record = tokens.token_record(token, scope, label, self.now())
        self.records.insert(record)
        return token, tokens.public_view(record, None)

    def has_admin(self) -> bool:
        """Return whether any admin token exists (configured or stored)."""
        return bool(self._admin_hashes) or any(record["scope"] == "admin" for record in self.records.all())

    def list(self) -> list[dict]:
        """Return every stored token's public view, oldest first (SCIMWATCH_ADMIN_TOKEN is not listed)."""
        records = sorted(self.records.all(), key=lambda r: (r["created_at"], r["id"]))
        return [tokens.public_view(record, self._last_used_at(record)) for record in records]

    def revoke(self, token_id: str) -> None:
        """Delete a token by id, or raise TokenNotFound; it is refused from the next request on."""
        if not self.records.remove(token_id):
            raise TokenNotFound(token_id)
        self._used.pop(token_id, None)

    def write_uses(self, *, all_uses: bool = False) -> None:
        """Store last_used_at, in one write, of tokens last stored over USE_RESOLUTION ago (or of all)."""
        epoch = datetime.min.replace(tzinfo=self.now().tzinfo)
        due = {token_id: used for token_id, used in list(self._used.items())
               if all_uses or used - self._stored_use.get(token_id, epoch) >= USE_RESOLUTION}
        if not due:
            return
        try:
            with self.store.batch():
                for token_id, used in due.items():
                    record = self.records.get(token_id)
                    # A token revoked meanwhile stays revoked: replace() never re-creates it.
                    if record is not None:
                        self.records.replace({**thaw(record), "last_used_at": format_time(used)})
        except StorageError as error:
            log.warning("could not record when tokens were last used: %s", error)
            return
        for token_id, used in due.items():
            self._stored_use[token_id] = used
            if self._used.get(token_id) == used:
                del self._used[token_id]

    def close(self) -> None:
        """Wait for a use write under way and write what is left."""
        writer = self._writer
        if writer is not None:
            writer.join()
        if not self.store.readonly:
            self.write_uses(all_uses=True)

    def _last_used_at(self, record) -> str | None:
        used = self._used.get(record["id"])
        return format_time(used) if used is not None else record.get("last_used_at")

    def _note_use(self, record) -> None:
        now = self.now()
        self._used[record["id"]] = now
        stored = self._stored_use.get(record["id"])
        if stored is None:
            stored = parse_time(record["last_used_at"]) if record.get("last_used_at") else datetime.min.replace(
                tzinfo=now.tzinfo)
            self._stored_use[record["id"]] = stored
        if now - stored >= USE_RESOLUTION and not self.store.readonly:
            self._write_soon()

    def _write_soon(self) -> None:
        # One writer thread at a time; the request that noticed never waits for the disk.
        with self._writer_lock:
            if self._writer is not None and self._writer.is_alive():
                return
            self._writer = threading.Thread(target=self.write_uses, name="scimwatch-token-uses", daemon=True)
            self._writer.start()
