"""A real local HTTP endpoint behind Apprise's json:// and form:// URLs: answers given codes, can hold requests."""
from __future__ import annotations

import http.server
import json
import threading
import urllib.parse


class Receiver:
    """Answers the codes it is given, then 200, keeping what it got; `hold()` makes it wait."""

    def __init__(self, codes=()):
        # Every request as (path, body); `taken` only those answered 200.
        self.codes, self.received, self.taken = list(codes), [], []
        self.arrived = threading.Event()  # a request came in (set while it is held, too)
        self._release = threading.Event()
        self._release.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.arrived.set()
                receiver._release.wait(60)
                body = json.loads(data) if "json" in self.headers.get("Content-Type", "") else \
                    dict(urllib.parse.parse_qsl(data))
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.received.append((self.path, body))
                if code == 200:
                    receiver.taken.append((self.path, body))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"json://{self.address}"

    def hold(self) -> None:
        """Keep each request waiting until release()."""
        self.arrived.clear()
        self._release.clear()

    def release(self) -> None:
        """Answer the held requests."""
        self._release.set()

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
