"""The house's layout (DESIGN §10): import contracts that bite, and a wheel that installs `scimwatch`."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def lint_imports(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """Run import-linter over a checkout with the project's contracts."""
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--no-cache", *args],
                          cwd=checkout, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(checkout)})


def copy_of_server(tmp_path: Path) -> Path:
    """Return a scratch copy of server/ and pyproject.toml, to plant imports in."""
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "server", checkout / "server", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", checkout)
    return checkout


def test_the_import_contracts_hold_on_the_checkout():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module,planted,contract", [
    ("domain/times.py", "import flask", "pure-domain"),
    ("domain/banners.py", "import tinydb", "pure-domain"),
    ("domain/keys.py", "from ..store import storage", "rooms"),
    ("store/registry.py", "from ..notify import deliveries", "rooms"),
    ("notify/deliveries.py", "from ..web import api", "rooms"),
    ("web/cors.py", "import tinydb", "tinydb"),
    ("notify/deliveries.py", "import yagmail", "yagmail"),
    ("web/api.py", "import icalendar", "icalendar"),
    ("notify/deliveries.py", "import apprise", "apprise"),
    ("domain/runbook.py", "import icalendar", "pure-domain"),
    ("web/api.py", "from .. import settings", "top"),
    ("sync/service.py", "import flask", "sync-no-flask"),
    ("sync/service.py", "from ..web import api", "rooms"),
    ("sync/service.py", "from ..notify import deliveries", "rooms"),
    ("sync/atlassian.py", "from .. import settings", "top"),
])
def test_an_import_against_the_table_breaks_its_contract(tmp_path, module, planted, contract):
    checkout = copy_of_server(tmp_path)
    assert lint_imports(checkout, "--contract", contract).returncode == 0
    with open(checkout / "server" / module, "a", encoding="utf-8") as source:
        source.write(f"\n{planted}  # planted by the test\n")
    result = lint_imports(checkout, "--contract", contract)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout


def test_every_room_of_server_is_a_package_the_wheel_carries():
    rooms = sorted(".".join(("scimwatch", *path.parent.relative_to(ROOT / "server").parts))
                   for path in (ROOT / "server").rglob("__init__.py"))
    assert sorted(PYPROJECT["tool"]["setuptools"]["packages"]) == rooms


def test_pip_install_gives_a_scimwatch_command_that_works_outside_the_checkout(tmp_path):
    # Build from a copy (setuptools writes build/ and egg-info next to the sources), into a fresh venv.
    source = tmp_path / "source"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(("extension/", "bench/", "tests/")) or not (ROOT / name).exists():
            continue
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name, follow_symlinks=False)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                   check=True, timeout=600, capture_output=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SCIMWATCH_", "PYTHON"))}
    env.update(SCIMWATCH_DATA_DIR=str(outside / "data"), SCIMWATCH_ADMIN_TOKEN="layout-test-token")

    def scimwatch(*args):
        return subprocess.run([venv / "bin" / "scimwatch", *args], cwd=outside, env=env, capture_output=True,
                              text=True, timeout=60)

    assert "keys" in scimwatch("--help").stdout
    added = scimwatch("keys", "add", "--org-id", "acme", "--expires-at", "2027-03-01", "--directory-name", "Okta")
    assert added.returncode == 0, added.stderr
    listed = scimwatch("keys", "list")
    assert "2027-03-01T00:00:00Z" in listed.stdout and "Okta" in listed.stdout
    # The served widget comes from the package data, not from a checkout.
    server = subprocess.Popen([venv / "bin" / "scimwatch"], cwd=outside, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={**env, "SCIMWATCH_PORT": "0"})
    try:
        assert server.stdout is not None
        base = next(match.group(1) for line in server.stdout
                    if (match := re.search(r"listening on (http://\S+)", line)))
        widget = requests.get(base + "/widget/scim-banner.js", timeout=10)
        assert widget.status_code == 200
        assert widget.content == (ROOT / "widget" / "scim-banner.js").read_bytes()
        # So do the admin UI's templates and stylesheet.
        login = requests.get(base + "/ui/login", timeout=10)
        assert login.status_code == 200 and 'name="token"' in login.text
        assert requests.get(base + "/ui/static/ui.css", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert server.returncode == 0
