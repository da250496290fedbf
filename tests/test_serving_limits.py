"""The real server under slow clients and oversized requests: it keeps answering, and refuses early."""
from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from server.app import MAX_BODY

# The bar is 500 slow connections; the test holds them all, half stuck in the headers, half in a body.
SLOW_CLIENTS = 500
HALF_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
HALF_BODY = (b"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000\r\n\r\n{\"org_id\": ")
# How long an oversized request may take to be refused. A server reading the whole body never answers.
REFUSED_WITHIN = 10
HUGE = 300 * 1000 * 1000

linux_only = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/<pid>/fd")


def start_server(factory, temp: Path, open_files: int | None = None):
    """Start a live server whose temp files go to `temp`, optionally under a lower soft open-file limit.

    A child inherits its parent's limits, so the server starts under `open_files` as it would under a
    service manager's default (1024 on many systems; lower here, to test what the server does about it).
    """
    temp.mkdir()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if open_files is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))
    try:
        live = factory({"TMPDIR": str(temp)})
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    live.temp_dir = temp
    return live


@pytest.fixture
def server(live_server_factory, tmp_path):
    """A live server whose temp files go to a folder of its own, so the test can see them."""
    return start_server(live_server_factory, tmp_path / "server-tmp")


def address(server) -> tuple[str, int]:
    """Return the host and port the live server listens on."""
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def allow_open_files(count: int) -> None:
    """Raise this process's open-file limit so the test itself can hold `count` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        if wanted < count:
            pytest.skip(f"the open-file limit ({hard}) is below the {count} this test needs")


def timed_get(server, path: str, token: str | None) -> tuple[requests.Response, float]:
    """GET `path` with a 1 s timeout and return the answer and the seconds it took."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    response = requests.get(server.url + path, headers=headers, timeout=1)
    return response, time.monotonic() - started


def wait_until_accepted(server, count: int, within: float = 20) -> None:
    """Wait (at most `within` seconds) until the server holds `count` connections, as an attacker's would be.

    The bar is answering while slow clients hold connections, not while the server is still accepting a
    burst of them. A server that stops accepting never gets there; the probes after this then fail.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sockets = 0
        for fd in Path(f"/proc/{server.process.pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                sockets += os.readlink(fd).startswith("socket:")
        if sockets > count:  # the listening socket, and the slow clients
            return
        time.sleep(0.1)


@linux_only
@pytest.mark.parametrize("open_files", [None, 512], ids=["inherited-limit", "low-soft-limit"])
def test_the_server_keeps_answering_while_500_slow_clients_hold_connections(live_server_factory, tmp_path,
                                                                            open_files):
    server = start_server(live_server_factory, tmp_path / "server-tmp", open_files)
    allow_open_files(SLOW_CLIENTS + 200)
    slow = []
    try:
        for n in range(SLOW_CLIENTS):
            connection = socket.create_connection(address(server), timeout=5)
            connection.sendall(HALF_HEADERS if n % 2 else HALF_BODY)
            slow.append(connection)
        wait_until_accepted(server, SLOW_CLIENTS)
        for path, token in (("/healthz", None), ("/api/v1/banners", server.read_token),
                            ("/api/v1/keys", server.admin_token)):
            response, seconds = timed_get(server, path, token)
            assert response.status_code == 200, (path, response.text)
            assert seconds < 1, (path, seconds)
        # The server answered while holding the slow connections, not by dropping them.
        for connection in (slow[0], slow[1], slow[-1]):
            connection.setblocking(False)
            with pytest.raises(BlockingIOError):
                connection.recv(1)
    finally:
        for connection in slow:
            connection.close()


def temp_files_held(server) -> list[str]:
    """Return the files in the server's temp folder it holds open (a buffered body shows up here)."""
    held = []
    for fd in Path(f"/proc/{server.process.pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(server.temp_dir)):
                held.append(target)
    return held


def send_oversized(server, head: bytes, chunks) -> tuple[bytes | None, list[str]]:
    """Send a request head, then body chunks while the server reads them; return its answer and its temp files.

    The answer is the bytes received (empty when the server closed without a word), or None when the
    server neither answered nor closed within REFUSED_WITHIN seconds, as when it waits for the rest of a
    huge body. A reset counts as an answer: a server that refuses a body closes with part of it unread.
    The temp files are those the server holds while the connection is still open.
    """
    with socket.create_connection(address(server), timeout=REFUSED_WITHIN) as connection:
        connection.sendall(head)
        try:
            for chunk in chunks:
                connection.sendall(chunk)
        except (ConnectionError, TimeoutError):
            pass  # the server stopped reading: what it answered, if anything, is read below
        received: bytes | None = b""
        try:
            while received is not None and b"\r\n\r\n" not in received:
                data = connection.recv(65536)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            pass
        except TimeoutError:
            received = received or None
        return received, temp_files_held(server)


def folder_bytes(folder: Path) -> int:
    """Return the total size of the files under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def huge_content_length():
    head = (b"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % HUGE)
    return head, (b"x" * 65536 for _ in range(256))


def huge_chunked():
    head = (b"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    # 32 MiB: twice what the largest accepted body (an import) may hold.
    return head, (b"10000\r\n" + b"x" * 65536 + b"\r\n" for _ in range(512))


@linux_only
@pytest.mark.parametrize("request_parts", [huge_content_length, huge_chunked])
def test_an_oversized_unauthenticated_body_is_refused_without_being_buffered(server, request_parts):
    data_before = folder_bytes(server.data_dir)
    head, chunks = request_parts()
    answer, temp_files = send_oversized(server, head, chunks)
    assert temp_files == []
    assert answer is not None, "the server kept reading the oversized body"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")
    assert folder_bytes(server.data_dir) == data_before
    assert list(server.temp_dir.iterdir()) == []
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200


def json_body_of(size: int) -> bytes:
    """Return a JSON key body of exactly `size` bytes (padded with trailing spaces, still valid JSON)."""
    body = json.dumps({"org_id": "org-1", "expires_at": "2027-01-01"}).encode()
    return body + b" " * (size - len(body))


def post_key_body(server, body) -> requests.Response:
    """POST a key body with the admin token (a generator body goes out with chunked transfer-encoding)."""
    return requests.post(server.url + "/api/v1/keys", data=body, timeout=10,
                         headers={"Authorization": f"Bearer {server.admin_token}", "Content-Type": "application/json"})


def in_chunks(body: bytes):
    """Yield `body` in 8 KiB pieces, so requests sends it chunked, without a Content-Length."""
    for start in range(0, len(body), 8192):
        yield body[start:start + 8192]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_just_over_the_limit_gets_the_json_error_shape(server, chunked):
    body = json_body_of(MAX_BODY + 1)
    response = post_key_body(server, in_chunks(body) if chunked else body)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "payload_too_large"
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_reaches_the_app(server, chunked):
    body = json_body_of(MAX_BODY)
    response = post_key_body(server, in_chunks(body) if chunked else body)
    assert response.status_code == 201, response.text


def test_oversized_headers_are_refused(server):
    response = requests.get(server.url + "/healthz", headers={"X-Padding": "p" * 64 * 1024}, timeout=10)
    assert response.status_code == 431
