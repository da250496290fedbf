#!/usr/bin/env bash
# Every test: make or reuse the virtualenv .venv, install the test packages (and, when missing, Debian's
# chromium and npm for web-ext), lint, check the import contracts and types, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# A virtualenv, so a stock Debian or Ubuntu python3 (PEP 668: no system-wide pip) works too.
python3 -m venv .venv 2>/dev/null || { apt_install python3-venv && python3 -m venv .venv; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
[ -x /usr/bin/chromium ] || apt_install chromium
command -v npm >/dev/null || apt_install nodejs npm
# tests/test_deploy.py checks deploy/scimwatch.service with systemd-analyze verify.
command -v systemd-analyze >/dev/null || apt_install systemd
# The extension's lint test runs web-ext, pinned in extension/package-lock.json.
npm ci --prefix extension --no-audit --no-fund --loglevel=error

# Lint, import contracts (DESIGN §10) and types: settings in pyproject.toml.
.venv/bin/python -m ruff check server bench tests
.venv/bin/lint-imports --no-cache
.venv/bin/python -m mypy

.venv/bin/python -m pytest "$@"
