#!/usr/bin/env bash
# Install everything the tests need (pip packages, Debian's chromium, web-ext), lint, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
[ -x /usr/bin/chromium ] || apt_install chromium
command -v npm >/dev/null || apt_install nodejs npm
# The extension's lint test runs web-ext, pinned in extension/package-lock.json.
npm ci --prefix extension --no-audit --no-fund --loglevel=error

# Lint, import contracts (DESIGN §10) and types: settings in pyproject.toml.
python3 -m ruff check server bench tests
lint-imports --no-cache
python3 -m mypy

python3 -m pytest "$@"
