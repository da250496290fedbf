"""Serve the real app as `python -m server` does, plus one bench-only route: the constant-JSON baseline.

GET /bench/constant answers a banner payload computed once at start-up, so the baseline pays for
waitress, Flask and JSON encoding of a same-sized document, and nothing of the banner work.
"""
from __future__ import annotations

import os
import sys

from flask import jsonify

from server import cli
from server.notify import scheduler
from server.serve import run

CONSTANT_PATH = "/bench/constant"


def main() -> None:
    """Open the data folder from the environment, add the baseline route and serve until SIGTERM."""
    app = cli.open_app()
    context = app.extensions["scimwatch"]
    constant = context.registry.banners(context.now(), os.environ.get("BENCH_CONSTANT_ORG") or None)
    app.add_url_rule(CONSTANT_PATH, "bench_constant", lambda: jsonify(constant))
    # Knobs for experiments only (the figures use the product's defaults): waitress threads, GIL switch interval.
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    threads = {"threads": int(os.environ["BENCH_THREADS"])} if os.environ.get("BENCH_THREADS") else {}
    try:
        run(app, context.settings["HOST"], context.settings["PORT"], services=[scheduler.start], **threads)
    finally:
        context.close()


if __name__ == "__main__":
    main()
