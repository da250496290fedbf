"""Signed one-click links (DESIGN §15): `PUBLIC_URL/r/<token>` for "I regenerated this key" and "I'm on it".

A token is signed with itsdangerous under a secret made once in the data folder, names its purpose, the
key id and the key's `expires_at` when it was made, and a random nonce; it lasts 60 days. Spent nonces are
kept in the `used_links` table, so a token works once. Only the web room shows pages for them; the
reminder email and the banners only make them.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..domain.times import DAY, format_time
from .secrets import folder_secret
from .storage import Store

SECRET_FILE = "links.secret"  # noqa: S105 (a file name, not a secret)
VALID_FOR = 60 * DAY
PURPOSES = ("rotate", "acknowledge")
_SALT = "scimwatch-links"


class LinkRefused(Exception):
    """A token that cannot be used: `reason` is tampered, expired, used, changed or gone."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Links:
    """Makes and checks signed link tokens; records which ones were spent."""

    def __init__(self, store: Store, data_dir: Path, public_url: str, clock: Callable[[], datetime]):
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.used = store.collection("used_links")

        class ClockedSigner(TimestampSigner):
            # The injected clock, not time.time(): an expired token can be tested without waiting 60 days.
            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        # The secret is made only where links are: a server without PUBLIC_URL adds no file to its folder.
        secret = folder_secret(data_dir, SECRET_FILE) if self.enabled else secrets.token_bytes(32)
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT, signer=ClockedSigner)

    @property
    def enabled(self) -> bool:
        """Links are made only when SCIMWATCH_PUBLIC_URL says where this server is reached."""
        return bool(self.public_url)

    def token(self, key: Mapping, purpose: str) -> str:
        """Return a new token for a key's current expiry."""
        return self._serializer.dumps({"p": purpose, "k": key["id"], "e": key["expires_at"],
                                       "n": secrets.token_urlsafe(12)})

    def url(self, key: Mapping, purpose: str) -> str:
        """Return PUBLIC_URL/r/<token> for a key ('' when no PUBLIC_URL is set)."""
        return f"{self.public_url}/r/{self.token(key, purpose)}" if self.enabled else ""

    def read(self, token: str) -> dict:
        """Return a token's claims {p, k, e, n}, or raise LinkRefused (tampered, expired or used)."""
        try:
            claims = self._serializer.loads(token, max_age=int(VALID_FOR.total_seconds()))
        except SignatureExpired:
            raise LinkRefused("expired") from None
        except BadSignature:
            raise LinkRefused("tampered") from None
        if not (isinstance(claims, dict) and claims.get("p") in PURPOSES
                and all(isinstance(claims.get(name), str) for name in ("k", "e", "n"))):
            raise LinkRefused("tampered")
        if self.used.get(claims["n"]) is not None:
            raise LinkRefused("used")
        return claims

    def spend(self, claims: dict, now: datetime) -> None:
        """Record a token as used (call under the store's write lock, with the change it made)."""
        self.used.insert({"id": claims["n"], "key_id": claims["k"], "purpose": claims["p"],
                          "used_at": format_time(now)})
