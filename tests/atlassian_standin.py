"""A stand-in for Atlassian's admin APIs on loopback, answering in the published shapes (see server/sync/atlassian.py).

Each org has an admin API key, API keys, API tokens and directories, served in pages whose `links.next` is
the cursor of the next page. A test can queue faults per path: a 429 with headers, a slow answer, a body
that is not JSON, a redirect. Every request is recorded (path, query, Authorization header).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Org:
    """One org as Atlassian knows it."""

    admin_key: str
    api_keys: list[dict] = field(default_factory=list)
    api_tokens: list[dict] = field(default_factory=list)
    directories: list[dict] = field(default_factory=list)
    page_size: int = 2


@dataclass
class Fault:
    """An answer given instead of the normal one: status, headers, body, and a delay before answering."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


def api_key(number: int, expires_at: str | None = "2027-03-01T12:00:00.000Z",
            email: str = "owner@acme.example") -> dict:
    """Return an org admin API key as the API Access REST API lists it."""
    return {"id": f"key-{number}", "name": f"automation key {number}", "status": "ACTIVE",
            "createdAt": "2026-03-01T12:00:00.000Z", "expiresAt": expires_at, "lastActiveAt": None,
            "createdBy": {"id": f"acct-{number}", "name": "Org Owner", "email": email}}


def api_token(number: int, expires_at: str | None = "2026-12-20T08:30:00.000Z",
              email: str = "dev@acme.example") -> dict:
    """Return a user API token as the API Access REST API lists it."""
    return {"id": f"token-{number}", "label": f"ci token {number}", "status": "ALLOWED",
            "createdAt": "2026-01-10T09:00:00.000Z", "expiresAt": expires_at,
            "lastActiveAt": "2026-11-01T10:00:00.000Z",
            "user": {"id": f"user-{number}", "name": f"Dev {number}", "email": email}}


def directory(number: int, name: str | None = None) -> dict:
    """Return a directory as the Organizations REST API v2 lists it."""
    return {"directoryId": f"dir-{number}", "name": name or f"Directory {number}", "icon": "https://example.invalid/i"}


class StandIn:
    """The stand-in server; `orgs` maps org id to Org, `faults` maps a path to a queue of Faults."""

    def __init__(self):
        self.orgs: dict[str, Org] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.answer(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a slow answer (the timeout test) must not hold up the stop
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self, org_id: str) -> dict[str, str]:
        """Return the three listing paths of an org by what they list."""
        return {"api_keys": f"/admin/api-access/v1/orgs/{org_id}/api-keys",
                "api_tokens": f"/admin/api-access/v1/orgs/{org_id}/api-tokens",
                "directories": f"/admin/v2/orgs/{org_id}/directories"}

    def requests_to(self, path: str) -> list[dict]:
        """Return the recorded requests for one path."""
        return [request for request in self.requests if request["path"] == path]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.requests.append({"path": parts.path, "query": query, "at": time.monotonic(),
                              "authorization": handler.headers.get("Authorization")})
        queue = self.faults.get(parts.path)
        if queue:
            fault = queue.pop(0)
            time.sleep(fault.delay)
            self.send(handler, fault.status, fault.body, fault.headers)
            return
        for org_id, org in self.orgs.items():
            for what, path in self.paths(org_id).items():
                if parts.path == path:
                    if handler.headers.get("Authorization") != f"Bearer {org.admin_key}":
                        self.send(handler, 401, json.dumps({"code": 401, "message": "Unauthorized"}).encode())
                        return
                    self.send(handler, 200, json.dumps(self.page(getattr(org, what), org.page_size,
                                                                 query.get("cursor"))).encode())
                    return
        self.send(handler, 404, b'{"code": 404, "message": "Not Found"}')

    @staticmethod
    def page(items: list, size: int, cursor: str | None) -> dict:
        """Return one page in the published envelope: data, and links whose next is a cursor."""
        start = int(cursor.removeprefix("c")) if cursor else 0
        following = f"c{start + size}" if start + size < len(items) else None
        return {"data": items[start:start + size],
                "links": {"self": f"c{start}", "prev": f"c{max(0, start - size)}" if start else None,
                          "next": following}}

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
