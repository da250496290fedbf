"""deploy/scimwatch.service is a valid, hardened systemd unit (DESIGN §17)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "scimwatch.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


def test_the_unit_is_hardened():
    unit = directives()
    assert unit["DynamicUser"] == ["yes"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"] and unit["Restart"] == ["on-failure"]
    assert unit["ReadWritePaths"] == ["/var/lib/scimwatch"]
    assert "SCIMWATCH_DATA_DIR=/var/lib/scimwatch" in unit["Environment"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    # verify also checks that ExecStart's program exists: point it at this Python, keep the rest.
    copy = tmp_path / UNIT.name
    copy.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={sys.executable}", UNIT.read_text(), flags=re.MULTILINE))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "scimwatch.service" not in result.stderr, result.stderr
