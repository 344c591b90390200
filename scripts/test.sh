#!/usr/bin/env bash
# Install rcommerce and its first-party plugins into .venv, then run every check CI runs:
# generated-code freshness, ruff (lint and format), mypy and pytest. Extra arguments go to pytest, e.g.
#   scripts/test.sh -k catalog -x
# The database matrix comes from RCOMMERCE_TEST_DATABASES (default sqlite) and the Redis
# tests from RCOMMERCE_TEST_REDIS_URL; see tests/conftest.py.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
py="$VENV/bin/python"

echo "== installing rcommerce and plugins"
install_args=(-e '.[test]')
for plugin in plugins/*/; do
  if [ -f "$plugin/pyproject.toml" ]; then
    install_args+=(-e "$plugin")
  fi
done
"$py" -m pip install --quiet --disable-pip-version-check "${install_args[@]}"

failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    return 0
  fi
  failed+=("$name")
  return 1
}

lint_paths=()
for path in rcommerce tests plugins bench; do
  [ -e "$path" ] && lint_paths+=("$path")
done

step "codegen --check" "$py" -m rcommerce.codegen --check || true
step "ruff" "$py" -m ruff check "${lint_paths[@]}" || true
step "ruff format --check" "$py" -m ruff format --check "${lint_paths[@]}" || true
step "mypy" "$py" -m mypy || true

# pytest exit 5 means no tests were collected: a failure here, never a pass.
echo "== pytest"
set +e
"$py" -m pytest -q "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests" >&2
fi
[ "$code" -eq 0 ] || failed+=("pytest (exit $code)")

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "== all checks passed"
