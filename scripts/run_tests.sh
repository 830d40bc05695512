#!/usr/bin/env bash
# `make test`: install what is missing, start the local stack, lint, run the whole suite, stop the stack.
# Exits non-zero, naming the service, when a service does not come up; the stack is stopped either way.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '[test] %s\n' "$*"; }
started=$(date +%s)

bash scripts/bootstrap.sh || { say "FAILED: bootstrap"; exit 1; }
PY=.venv/bin/python

# The integration tests mostly wait (for schedulers, retries, services), and one process at a time left the cores
# mostly idle (bench/README.md, "Test suite time"). They run in lanes (pytest-xdist workers, a test module at a time
# each), every lane against a local stack of its own, so a test that stops Kafka or fills a sink disturbs no other
# lane. TEST_LANES=1 runs them in one process against one stack, as before. Lane 1 uses the usual stack (.stack or STACK_STATE_DIR); lane n > 1 uses
# .stack-lane<n>, with every port moved up by (n - 1) * 1000 (at most 4 lanes: the ports stay below 32768).
LANES=${TEST_LANES:-2}
[[ $LANES =~ ^[1-4]$ ]] || { say "FAILED: TEST_LANES=$LANES: a number from 1 to 4"; exit 2; }
state_dirs=()
for ((lane = 1; lane <= LANES; lane++)); do
  if ((lane == 1)); then state_dirs+=("${STACK_STATE_DIR:-$PWD/.stack}"); else state_dirs+=("$PWD/.stack-lane$lane"); fi
done

# Runs `python -m stack ARGS` for lane $1, on that lane's state directory and ports.
lane_stack() {
  local lane=$1
  shift
  (
    if ((lane > 1)); then
      unset $(compgen -e | grep -E '^STACK_.+_PORT$') 2>/dev/null || true
      export STACK_PORT_OFFSET=$(((lane - 1) * 1000))
    fi
    export STACK_STATE_DIR=${state_dirs[lane - 1]}
    "$PY" -m stack "$@"
  )
}

teardown() {
  for ((lane = 1; lane <= LANES; lane++)); do
    say "stopping the stack of lane $lane"
    lane_stack "$lane" down || say "WARNING: stack down reported a failure (lane $lane)"
  done
}
trap teardown EXIT

for ((lane = 1; lane <= LANES; lane++)); do
  say "starting the stack of lane $lane (${state_dirs[lane - 1]})"
  lane_stack "$lane" up \
    || { say "FAILED: the local stack of lane $lane did not come up (the service is named above)"; exit 1; }
  rm -f "${state_dirs[lane - 1]}/rss.log"
  lane_stack "$lane" sample-rss --every 2 --out "${state_dirs[lane - 1]}/rss.log" &
done

set -a; source "${state_dirs[0]}/env"; set +a

say "ruff"
.venv/bin/ruff check . || { say "FAILED: ruff"; exit 1; }
.venv/bin/ruff format --check . || { say "FAILED: ruff format (run: make format)"; exit 1; }
say "mypy"
.venv/bin/mypy || { say "FAILED: mypy"; exit 1; }
say "import layers"
PYTHONPATH=plugins .venv/bin/lint-imports --no-cache || { say "FAILED: import layers (pyproject.toml [tool.importlinter])"; exit 1; }
say "workflows (actionlint, zizmor)"
"${STACK_TOOLS_DIR:-.tools}/bin/actionlint" || { say "FAILED: actionlint (.github/workflows)"; exit 1; }
.venv/bin/zizmor --offline --quiet .github/workflows || { say "FAILED: zizmor (.github/workflows)"; exit 1; }
say "infrastructure code (infra/)"
terraform fmt -check -recursive infra || { say "FAILED: terraform fmt (run: terraform fmt -recursive infra)"; exit 1; }
# --skip-download: the policies ship with checkov; nothing is fetched, so the check runs offline.
"${STACK_TOOLS_DIR:-.tools}/checkov/bin/checkov" -d infra --framework terraform --quiet --compact --skip-download \
  || { say "FAILED: checkov (infra/; fix the finding or skip it inline with a reason)"; exit 1; }
scripts/ingest infra-vars --check || { say "FAILED: infra-vars (run: scripts/ingest infra-vars --write)"; exit 1; }

say "pytest ($LANES lane(s))"
if ((LANES > 1)); then
  # Each worker takes the stack of its lane (tests/conftest.py); --dist loadfile keeps a module's tests in order on
  # one worker, as their module-scoped fixtures expect; --no-loadscope-reorder hands modules out in collection
  # order, which puts the slowest first (tests/conftest.py), instead of the modules with the most tests first.
  INGEST_TEST_STACKS=$(IFS=:; echo "${state_dirs[*]}") "$PY" -m pytest tests -n "$LANES" --dist loadfile \
    --no-loadscope-reorder "$@"
else
  "$PY" -m pytest tests "$@"
fi
rc=$?

for ((lane = 1; lane <= LANES; lane++)); do
  peak=$(sort -k2 -n "${state_dirs[lane - 1]}/rss.log" 2>/dev/null | tail -1 | cut -d' ' -f2)
  [[ -n "$peak" ]] && say "stack peak RSS during the suite, lane $lane: $((peak / 1048576)) MB"
done
say "wall time: $(( $(date +%s) - started ))s, pytest exit code $rc"
exit $rc
