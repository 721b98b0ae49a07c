#!/usr/bin/env bash
# Install the toolkit, run the example submissions, build the book.
# Usage: bash scripts/site.sh   -> open _build/html/index.html
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
echo "installing the toolkit and its dependencies (a few minutes the first time; quiet until done)"
python -m pip install -q --disable-pip-version-check -e ".[examples,site]"
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
fi
codeml-repro env build  # the base environment and the examples' own, while the index is reachable
codeml-repro run
jupyter-book build . -W --keep-going
echo "book: $(pwd)/_build/html/index.html"
