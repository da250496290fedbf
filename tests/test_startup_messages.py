"""`python -m server` with an address it cannot listen on stops with a message naming the setting."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests
from conftest import ROOT, LiveServer, server_env


@pytest.fixture
def env(data_dir):
    return server_env(data_dir)


def start(env: dict, **settings: str) -> subprocess.CompletedProcess:
    """Run `python -m server` with `settings` and return it once it has stopped (or fail after 30 s)."""
    return subprocess.run([sys.executable, "-m", "server"], cwd=ROOT, env={**env, **settings},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("host, says", [
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("127.0.0.1:8080", "SCIMWATCH_PORT"),
    ("[::1]:8080", "SCIMWATCH_PORT"),
    ("localhost:8080", "SCIMWATCH_PORT"),
    ("http://127.0.0.1", "without a scheme"),
    ("scimwatch.example.com/path", "host name or IP address"),
    ("a b", "host name or IP address"),
    ("*", "0.0.0.0"),
    ("999.1.1.1", "not a valid IP address"),
    ("127.1", "not a valid IP address"),
    ("-bad.example.com", "host name or IP address"),
    ("under_score.example.com", "host name or IP address"),
    ("a" * 64 + ".example.com", "host name or IP address"),
    ("ünïcode.example", "host name or IP address"),
])
def test_a_host_that_cannot_be_an_address_stops_start_up_naming_it(env, host, says):
    result = start(env, SCIMWATCH_HOST=host)
    assert result.returncode != 0
    assert "SCIMWATCH_HOST" in result.stderr and says in result.stderr
    assert repr(host) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host, says", [
    ("no-such-host.invalid", "cannot be resolved"),
    ("192.0.2.1", "is not an address of this machine"),
])
def test_a_host_only_binding_can_refuse_stops_start_up_naming_it(env, host, says):
    result = start(env, SCIMWATCH_HOST=host)
    assert result.returncode != 0
    assert "SCIMWATCH_HOST" in result.stderr and host in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout


def test_a_port_in_use_stops_start_up_naming_the_port(env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = start(env, SCIMWATCH_PORT=port)
    assert result.returncode != 0
    assert "SCIMWATCH_PORT" in result.stderr and port in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr


def ipv6_loopback() -> bool:
    """Say whether this machine can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", [
    "localhost", " 127.0.0.1 ", "LOCALHOST",
    pytest.param("::1", marks=pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")),
    pytest.param("[::1]", marks=pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")),
])
def test_a_good_host_serves_and_prints_a_url_that_works(data_dir, host):
    server = LiveServer(data_dir, {"SCIMWATCH_HOST": host})
    try:
        # LiveServer takes the URL from the "listening on" line; an IPv6 host must be bracketed in it.
        assert requests.get(server.url + "/healthz", timeout=10).json()["status"] == "ok"
    finally:
        assert server.stop() == 0
