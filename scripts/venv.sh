# Sourced by site.sh and test.sh: use the active virtual environment, or create/reuse .venv.
# Why: Debian's and Ubuntu's system Python refuse `pip install` (PEP 668), and a shared
# interpreter hides missing install steps. Prints where the environment is.
if [ -n "${VIRTUAL_ENV:-}" ]; then
  echo "using the active virtual environment: $VIRTUAL_ENV"
else
  if [ ! -x .venv/bin/python ]; then
    if command -v uv >/dev/null 2>&1; then
      uv venv --quiet --seed --python "$(command -v python3)" .venv
    else
      python3 -m venv .venv
    fi
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
  echo "using the project's virtual environment: $VIRTUAL_ENV (to use codeml-repro by hand: source .venv/bin/activate)"
fi
