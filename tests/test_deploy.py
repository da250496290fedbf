"""deploy/scimwatch.service is a valid, hardened systemd unit (DESIGN §17); the container files say what they must."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


# --- the Dockerfile and compose.yaml: no container engine runs here, so these checks are static ----------

ROOT = UNIT.parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def dockerfile() -> dict[str, list[str]]:
    """Return each Dockerfile instruction's arguments, continuation lines joined."""
    found: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, arguments = line.strip().partition(" ")
            found.setdefault(instruction.upper(), []).append(arguments.strip())
    return found


def compose_service() -> tuple[dict, dict]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return compose, compose["services"]["scimwatch"]


def test_the_compose_file_keeps_the_data_folder_in_a_volume_and_checks_health():
    compose, service = compose_service()
    [mount] = service["volumes"]
    volume, _, target = mount.partition(":")
    assert volume in compose["volumes"] and target == "/data"
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert service["user"].split(":")[0] != "0" and service["read_only"] is True


def test_the_image_runs_the_readme_command_as_a_non_root_user_with_data_in_its_volume():
    instructions = dockerfile()
    [command] = instructions["CMD"]
    assert json.loads(command) == ["python", "-m", "server"]
    quick_start = (ROOT / "README.md").read_text().partition("## Quick start")[2].partition("\n## ")[0]
    assert ".venv/bin/python -m server\n" in quick_start
    [user] = instructions["USER"]
    assert user not in ("root", "0")
    assert instructions["VOLUME"] == ["/data"]
    assert "SCIMWATCH_DATA_DIR=/data" in instructions["ENV"][0].split()


def test_the_image_and_the_compose_file_probe_health_the_same_way():
    [health] = dockerfile()["HEALTHCHECK"]
    probe = json.loads(health.partition(" CMD ")[2])
    assert "http://127.0.0.1:8080/healthz" in probe[-1]
    assert compose_service()[1]["healthcheck"]["test"] == ["CMD", *probe]
