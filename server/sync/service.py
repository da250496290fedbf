"""The sync job: for each org in the keys file, mirror its admin API keys and user API tokens into key
records and remember its directories, one org at a time, one atomic write per org; and the periodic run."""
from __future__ import annotations

import logging
import sys
import threading
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timedelta

from ..domain import upstream
from ..domain.keys import ValidationError, plain_copy
from ..domain.times import format_time
from ..store.registry import Registry
from . import atlassian
from .org_keys import OrgKeys

log = logging.getLogger(__name__)

EXTENSION = "scimwatch.sync"
STATE_TABLE = "sync"
PAGE_SIZE = 100
NOT_CONFIGURED = "Atlassian sync is off: set SCIMWATCH_ATLASSIAN_KEYS_FILE to a file of ORG_ID=ORG_ADMIN_API_KEY lines"


class SyncNotConfigured(Exception):
    """A sync was asked for, but no keys file is configured."""


class SyncService:
    """Runs syncs (one at a time) and answers the sync state; the org admin keys stay in memory only."""

    def __init__(self, registry: Registry, org_keys: OrgKeys | None, api_url: str, every_hours: int,
                 clock: Callable[[], datetime]):
        self.registry = registry
        self.org_keys = org_keys
        self.api_url = api_url
        self.every_hours = every_hours
        self.clock = clock
        self.states = registry.store.collection(STATE_TABLE)
        self.timeout = atlassian.TIMEOUT_SECONDS
        self.stopping = threading.Event()
        self.next_sync_at: str | None = None
        # Requests made by the last run, summed over its orgs.
        self.requests = 0
        self._running = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether a keys file is configured."""
        return self.org_keys is not None

    def run(self) -> dict:
        """Sync every configured org now (after any sync under way) and return the sync state."""
        if self.org_keys is None:
            raise SyncNotConfigured(NOT_CONFIGURED)
        with self._running:
            self.requests = 0
            for org_id in self.org_keys.org_ids:
                self._sync_org(org_id, self.org_keys.keys[org_id])
        return self.state()

    def _sync_org(self, org_id: str, api_key: str) -> None:
        client = atlassian.Client(self.api_url, api_key, timeout=self.timeout, wait=self.stopping.wait)
        org = urllib.parse.quote(org_id, safe="")
        started = self.clock()
        try:
            try:
                admin_keys = atlassian.upstream_keys(client.items(
                    f"/admin/api-access/v1/orgs/{org}/api-keys", {"pageSize": PAGE_SIZE}), "API key")
                tokens = atlassian.upstream_keys(client.items(
                    f"/admin/api-access/v1/orgs/{org}/api-tokens", {"pageSize": PAGE_SIZE}), "API token")
                directories = atlassian.directories(client.items(f"/admin/v2/orgs/{org}/directories"))
            finally:
                self.requests += client.requests
            now = self.clock()
            # Read and write under the store lock: an edit made meanwhile is neither lost nor overwritten.
            with self.registry.store.batch():
                existing = self.registry.keys.all()
                changes = (upstream.merge(existing, org_id, "admin_api_key", admin_keys, now)
                           + upstream.merge(existing, org_id, "api_token", tokens, now))
                if changes:
                    self.registry.put_many(changes)
                self.states.put_many([{
                    "id": org_id, "org_id": org_id, "status": "ok", "last_sync_at": format_time(now),
                    "last_attempt_at": format_time(now), "error": None,
                    "directories": [{"directory_id": d.directory_id, "name": d.name} for d in directories],
                    "admin_api_keys": len(admin_keys), "api_tokens": len(tokens), "requests": client.requests}])
            log.info("Atlassian sync of org %s: %d keys, %d tokens, %d directories, %d changed records, %d requests",
                     org_id, len(admin_keys), len(tokens), len(directories), len(changes), client.requests)
        except atlassian.SyncFailure as failure:
            self._failed(org_id, failure.status, failure.reason, started, client.requests)
        except ValidationError as error:
            self._failed(org_id, "error", f"Atlassian listed an item that breaks the key rules: {error}", started,
                         client.requests)

    def _failed(self, org_id: str, status: str, reason: str, when: datetime, requests: int) -> None:
        """Record an org's failed sync; its key records and last good directories stay as they were."""
        log.warning("Atlassian sync of org %s: %s: %s", org_id, status, reason)
        previous = self.states.get(org_id)
        state = plain_copy(previous) if previous is not None else {
            "id": org_id, "org_id": org_id, "last_sync_at": None, "directories": []}
        state.update(status=status, error=reason, last_attempt_at=format_time(when), requests=requests)
        self.states.put_many([state])

    def state(self) -> dict:
        """Return {"orgs": [{"org_id", "status", "last_sync_at", "error"}], "untracked": [...]}."""
        orgs, untracked = [], []
        records = self.registry.keys.all() if self.org_keys else []
        for org_id in self.org_keys.org_ids if self.org_keys else []:
            state = self.states.get(org_id) or {}
            orgs.append({"org_id": org_id, "status": state.get("status", "pending"),
                         "last_sync_at": state.get("last_sync_at"), "error": state.get("error")})
            directories = [upstream.Directory(d["directory_id"], d["name"]) for d in state.get("directories", ())]
            untracked += upstream.untracked(org_id, directories, records)
        return {"orgs": orgs, "untracked": untracked}

    def health(self) -> dict:
        """Return the sync's part of /healthz: counts only, since /healthz answers without a token."""
        if self.org_keys is None:
            return {"sync": {"status": "off"}}
        current = self.state()
        statuses = [org["status"] for org in current["orgs"]]
        done = [org["last_sync_at"] for org in current["orgs"] if org["last_sync_at"]]
        failing = sum(status not in ("ok", "pending") for status in statuses)
        return {"sync": {"status": "failing" if failing else "ok", "orgs": len(statuses), "orgs_failing": failing,
                         "untracked_directories": len(current["untracked"]), "every_hours": self.every_hours,
                         "oldest_sync_at": min(done) if done else None, "next_sync_at": self.next_sync_at}}


def install(app) -> SyncService:
    """Make the app's sync service (nothing runs until asked or started) and report it in /healthz."""
    context = app.extensions["scimwatch"]
    settings = context.settings
    service = SyncService(context.registry, settings["ATLASSIAN_KEYS_FILE"], settings["ATLASSIAN_API_URL"],
                          settings["SYNC_HOURS"], context.now)
    app.extensions[EXTENSION] = service
    context.health_reporters.append(service.health)
    return service


def service_for(app) -> SyncService:
    """Return the app's sync service."""
    return app.extensions[EXTENSION]


def start(app) -> Callable[[], None]:
    """Sync now and every SCIMWATCH_SYNC_HOURS in a thread when configured; return the stop that ends it."""
    service = service_for(app)
    if service.org_keys is None:
        return lambda: None
    if service.org_keys.readable_by_others:
        print(f"warning: {service.org_keys.path} (SCIMWATCH_ATLASSIAN_KEYS_FILE) can be read by other users; "
              f"it holds org admin API keys: chmod 600 {service.org_keys.path}", file=sys.stderr, flush=True)

    def loop() -> None:
        while not service.stopping.is_set():
            service.next_sync_at = None
            try:
                service.run()
            except Exception:
                log.exception("Atlassian sync failed; the next one runs on schedule")
            service.next_sync_at = format_time(service.clock() + timedelta(hours=service.every_hours))
            service.stopping.wait(service.every_hours * 3600)

    thread = threading.Thread(target=loop, name="scimwatch-sync", daemon=True)
    thread.start()

    def stop() -> None:
        # Waits on a 429 end at once; a request under way ends within its timeout.
        service.stopping.set()
        thread.join()

    return stop
