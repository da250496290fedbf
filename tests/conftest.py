"""Shared fixtures: an app over a temp data folder, a live server subprocess, a headless browser."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from smtp_helpers import SmtpServer

from server import create_app
from server.store.journal import JOURNAL_FILE
from server.store.storage import DATA_FILE

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def stored_bytes(data_dir) -> bytes:
    """Return what the data folder holds on disk: the data file's bytes, then its journal's (b"" when absent)."""
    return b"".join(path.read_bytes() for path in (data_dir / DATA_FILE, data_dir / JOURNAL_FILE) if path.exists())


@pytest.fixture
def data_dir(tmp_path):
    """A fresh, empty data folder."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def app(data_dir):
    """An app over a temp data folder with a known admin token."""
    application = create_app({"DATA_DIR": data_dir, "ADMIN_TOKEN": ADMIN_TOKEN})
    yield application
    application.extensions["scimwatch"].close()


@pytest.fixture
def client(app):
    """A test client for `app`."""
    return app.test_client()


@pytest.fixture
def admin():
    """Headers carrying the admin token."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def server_env(data_dir, extra=None) -> dict:
    """Return the environment for a scimwatch subprocess on a free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMWATCH_")}
    # No check on key changes: tests that compare outputs or count reminders must not race the loop;
    # tests of that check turn it on.
    env.update(SCIMWATCH_DATA_DIR=str(data_dir), SCIMWATCH_PORT="0", SCIMWATCH_HOST="127.0.0.1",
               SCIMWATCH_ADMIN_TOKEN=ADMIN_TOKEN, SCIMWATCH_CHECK_ON_CHANGE="false", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def run_cli(*args, env) -> subprocess.CompletedProcess:
    """Run `python -m server ARGS` and return the finished process."""
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def wait_for(condition, seconds: float = 20):
    """Return the first truthy value of `condition()`, polled every 50 ms, or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def normalised_cli_output(text: str) -> str:
    """CLI output with ids, short ids, tokens and times made comparable between two data folders."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"\b[0-9a-f]{8}$", "<id>", text, flags=re.MULTILINE)
    text = re.sub(r"sw_[A-Za-z0-9_-]+", "<token>", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", text)


class LiveServer:
    """`python -m server` running in a subprocess on a free port over its own data folder."""

    def __init__(self, data_dir: Path, env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.env = server_env(self.data_dir, env)
        self.admin_token = self.env.get("SCIMWATCH_ADMIN_TOKEN")
        created = run_cli("tokens", "create", "--scope", "read", env=self.env)
        assert created.returncode == 0, created.stderr
        self.read_token = created.stdout.strip()
        self.process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.output, self.errors = [], []
        # Drain both pipes for the server's whole life: a full pipe would block a chatty server.
        errors = threading.Thread(target=self._drain, args=(self.process.stderr, self.errors), daemon=True)
        errors.start()
        self.url = self._wait_for_listen_line(errors)
        output = threading.Thread(target=self._drain, args=(self.process.stdout, self.output), daemon=True)
        output.start()
        self._drains = (errors, output)
        self._wait_healthy()

    @staticmethod
    def _drain(pipe, lines: list) -> None:
        for line in pipe:
            lines.append(line)

    def _wait_for_listen_line(self, errors: threading.Thread) -> str:
        for line in self.process.stdout:
            self.output.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                return match.group(1)
        errors.join(10)
        raise AssertionError("server exited before listening:\n" + "".join(self.output + self.errors))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("server never became healthy")

    def api(self, method: str, path: str, json=None, token: str | None = "admin",  # noqa: S107
            **kwargs) -> requests.Response:
        """Send a request; token is 'admin', 'read', None (no header) or a literal token."""
        token = {"admin": self.admin_token, "read": self.read_token}.get(token, token)
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, json=json, headers=headers, timeout=10, **kwargs)

    def add_key(self, **fields) -> dict:
        """Create a key record through the API and return it."""
        response = self.api("POST", "/api/v1/keys", json=fields)
        assert response.status_code == 201, response.text
        return response.json()

    def stop(self, sig=None) -> int:
        """Stop the server (SIGTERM by default) and return its exit status."""
        if self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # The process has exited, so both pipes reach their end and the drains finish.
        for drain in self._drains:
            drain.join(10)
        self.process.stdout.close()
        self.process.stderr.close()
        return self.process.returncode


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd) that records what it receives."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    """A real local HTTP endpoint for Apprise's json:// and form:// URLs (tests/receivers.py)."""
    from receivers import Receiver

    made = Receiver()
    yield made
    made.stop()


@pytest.fixture
def live_server_factory(tmp_path_factory):
    """Start live servers with extra SCIMWATCH_ settings; all are stopped after the test."""
    started = []

    def start(env: dict | None = None, data_dir: Path | None = None) -> LiveServer:
        server = LiveServer(data_dir or tmp_path_factory.mktemp("live"), env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(live_server_factory):
    """One live server with default settings."""
    return live_server_factory()


class HtmlPages:
    """A web server on loopback serving HTML pages the test registers (and `fallback` for any other path)."""

    def __init__(self, fallback: str | None = None):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                html = pages.get(self.path, fallback)
                body = (html if html is not None else "not found").encode()
                self.send_response(200 if html is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, html: str, hostname: str = "127.0.0.1") -> str:
        """Serve html at a new path; `localhost` reaches the same page from another origin."""
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = html
        return f"http://{hostname}:{self.port}{path}"

    def stop(self):
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def playwright_instance():
    """The Playwright driver, once per session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    """Headless Debian chromium, once per session."""
    chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test."""
    context = browser.new_context()
    yield context.new_page()
    context.close()
