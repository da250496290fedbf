"""Serving: waitress in the foreground, background services beside it, clean stop on SIGINT/SIGTERM."""
from __future__ import annotations

import signal
import sys
from typing import Callable

import waitress

# Functions that start a background service for an app and return a function that stops it.
# The reminder loop registers itself here; nothing starts on import or in create_app.
BACKGROUND_SERVICES: list[Callable] = []


def _stop_on_signal(signum, frame):
    # waitress's loop treats SystemExit as "stop accepting, finish in-flight requests".
    raise SystemExit(0)


def run(app, host: str, port: int, threads: int = 8) -> None:
    """Serve `app` until SIGINT or SIGTERM, then finish in-flight work and return."""
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="scimwatch")
    stoppers = [start(app) for start in BACKGROUND_SERVICES]
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    bound_host, bound_port = server.effective_host, server.effective_port
    print(f"scimwatch listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.run()
    finally:
        server.close()
        for stop in reversed(stoppers):
            stop()
        print("scimwatch stopped", file=sys.stderr, flush=True)
