"""Serving: waitress in the foreground, background services beside it, clean stop on SIGINT/SIGTERM."""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterable

import waitress


def _stop_on_signal(signum, frame):
    # waitress's loop treats SystemExit as "stop accepting, finish in-flight requests".
    raise SystemExit(0)


def run(app, host: str, port: int, services: Iterable[Callable] = (), threads: int = 4) -> None:
    """Serve `app` until SIGINT or SIGTERM, then finish in-flight work and return.

    Each service is a function that starts background work for the app and returns its stop function;
    stops run after the last request, and wait for work under way (such as a reminder cycle).
    """
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="scimwatch")
    bound_host, bound_port = server.effective_host, server.effective_port
    # Services that tell others where to reach this server (the CLI's token file) read it here.
    app.config["SCIMWATCH_LISTENING_ON"] = (bound_host, bound_port)
    stoppers = [start(app) for start in services]
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    print(f"scimwatch listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.run()
    finally:
        server.close()
        for stop in reversed(stoppers):
            stop()
        print("scimwatch stopped", file=sys.stderr, flush=True)
