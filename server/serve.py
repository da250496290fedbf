"""Serving: waitress in the foreground, background services beside it, clean stop on SIGINT/SIGTERM."""
from __future__ import annotations

import errno
import signal
import socket
import sys
from collections.abc import Callable, Iterable

import waitress

from . import logs
from .app import MAX_BODY
from .store.exchange import MAX_IMPORT_BYTES

# How waitress is tuned against slow and oversized clients (issue 16). waitress reads every request on
# one event loop and hands a thread only a complete request, so a client that sends half a request and
# stops costs a connection slot and the bytes it sent, never a thread. Its defaults (100 connections,
# 120 s idle) let 100 such clients fill every slot; new connections then wait in the kernel's queue
# and /healthz, banners and the admin API stop answering. So: many slots, each cheap and bounded, and
# idle ones reclaimed soon. Behind a reverse proxy (docs/deployment.md) the proxy absorbs slow clients
# and these limits are a second line.
#
# Slots: twice the 500 stuck connections the issue asks us to survive, so real clients still find
# room. Each slot holds one file descriptor (the soft open-file limit is raised to fit, below) and
# at most HEADER_LIMIT + BODY_LIMIT bytes, so 1000 slots bound buffered input near 160 MiB.
CONNECTION_LIMIT = 1000
# Descriptors kept for everything else: listening sockets, waitress's wake-up pipe, the data and lock
# files, the outbox, SMTP connections.
SPARE_FILES = 64
# A connection that sends nothing for CHANNEL_TIMEOUT seconds is closed (checked every CLEANUP_INTERVAL
# seconds, so within 35 s). Requests being answered are never cut: waitress skips connections with
# work in progress. 30 s is far longer than any real client pauses mid-request on a network that works.
CHANNEL_TIMEOUT = 30
CLEANUP_INTERVAL = 5
# Connections the kernel queues while every slot is taken (Linux caps it at net.core.somaxconn).
BACKLOG = 1024
# Request line and headers: 32 KiB, nginx's default budget (4 x 8 KiB); a token header is 60 bytes.
HEADER_LIMIT = 32 * 1024
# Bodies: waitress refuses a body of BODY_LIMIT bytes or more from its Content-Length alone, or as soon
# as a chunked one grows that big, with its own plain-text 413, before reading or storing the rest.
# waitress has one limit for every route, and the one route with big bodies is the admin's import
# (a 10,000-key CSV is about 2.5 MiB): so the limit is the import's, plus MAX_BODY of room for chunk
# framing; every other route refuses past MAX_BODY in the app, with the JSON error shape. Every body
# waitress accepts stays in memory (it spills to a temp file only once it holds INBUF_SPILL), so a
# refused one never touches the disk. Behind a proxy, limit bodies to 64 KiB except for /api/v1/import
# (docs/deployment.md).
BODY_LIMIT = MAX_IMPORT_BYTES + MAX_BODY
INBUF_SPILL = BODY_LIMIT


class CannotListen(Exception):
    """The address cannot be listened on; `setting` names the one to change, "HOST" or "PORT"."""

    def __init__(self, setting: str, reason: str):
        super().__init__(reason)
        self.setting = setting


def _stop_on_signal(signum, frame):
    # waitress's loop treats SystemExit as "stop accepting, finish in-flight requests".
    raise SystemExit(0)


def _connection_limit() -> int:
    """Raise the soft open-file limit to fit CONNECTION_LIMIT if the hard limit allows; return the slots that fit."""
    if sys.platform == "win32":
        return CONNECTION_LIMIT
    import resource

    wanted = CONNECTION_LIMIT + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # keep the limit we have and fit the slots to it
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return CONNECTION_LIMIT
    fitting = max(soft - SPARE_FILES, 1)
    print(f"scimwatch: the open-file limit ({soft}) leaves room for {fitting} connections, not "
          f"{CONNECTION_LIMIT}; raise it (ulimit -n, or LimitNOFILE= under systemd)", file=sys.stderr, flush=True)
    return fitting


def listen(app, host: str, port: int, threads: int = 4):
    """Bind `host`:`port` for `app` and return the waitress server, or raise CannotListen saying why."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        # waitress turns a name that does not resolve into a bare ValueError; resolve first to say so.
        socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP, socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CannotListen("HOST", f"cannot listen on {address}: {host!r} cannot be resolved ({error.strerror}); "
                                   "use an IP address or a name this machine resolves") from None
    try:
        return waitress.create_server(
            app, host=host, port=port, threads=threads, ident="scimwatch",
            connection_limit=_connection_limit(), channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=CLEANUP_INTERVAL, backlog=BACKLOG, max_request_header_size=HEADER_LIMIT,
            max_request_body_size=BODY_LIMIT, inbuf_overflow=INBUF_SPILL,
            # select() cannot watch descriptors numbered 1024 or more, which 1000 slots can reach.
            asyncore_use_poll=True)
    except OSError as error:
        setting, reason = _why_not(error, host, port)
        raise CannotListen(setting, f"cannot listen on {address}: {reason}") from None


def _why_not(error: OSError, host: str, port: int) -> tuple[str, str]:
    """Return the setting to change for a failed bind, and why it failed."""
    if error.errno == errno.EADDRINUSE:
        return "PORT", f"port {port} is in use by another program"
    if error.errno == errno.EACCES:
        return "PORT", f"no permission to use port {port} (ports below 1024 need privileges)"
    if error.errno == errno.EADDRNOTAVAIL:
        return "HOST", f"{host} is not an address of this machine ({error.strerror})"
    return "HOST", error.strerror or str(error)


def addresses(server) -> list[tuple[str, int]]:
    """Return (host, port) of each socket the server listens on (a name can resolve to several addresses)."""
    return getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]


def urls(server) -> list[str]:
    """Return the URL of each socket the server listens on."""
    return [f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}" for host, port in addresses(server)]


def serve(server, app, services: Iterable[Callable] = ()) -> None:
    """Serve on a listening `server` until SIGINT or SIGTERM, then finish in-flight work and return.

    Each service is a function that starts background work for the app and returns its stop function;
    stops run after the last request, and wait for work under way (such as a reminder cycle).
    """
    logs.configure(app.extensions["scimwatch"].settings["LOG_FORMAT"])
    # Services that tell others where to reach this server (the CLI's token file) read it here.
    app.config["SCIMWATCH_LISTENING_ON"] = addresses(server)[0]
    stoppers = [start(app) for start in services]
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    for url in urls(server):
        print(f"scimwatch listening on {url}", flush=True)
    try:
        server.run()
    finally:
        server.close()
        for stop in reversed(stoppers):
            stop()
        print("scimwatch stopped", file=sys.stderr, flush=True)


def run(app, host: str, port: int, services: Iterable[Callable] = (), threads: int = 4) -> None:
    """Listen on `host`:`port` and serve `app` with its services until SIGINT or SIGTERM."""
    serve(listen(app, host, port, threads), app, services)
