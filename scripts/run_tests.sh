#!/usr/bin/env bash
# `make test`: install what is missing, start the local stack, lint, run the whole suite, stop the stack.
# Exits non-zero, naming the service, when a service does not come up; the stack is stopped either way.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '[test] %s\n' "$*"; }
started=$(date +%s)

bash scripts/bootstrap.sh || { say "FAILED: bootstrap"; exit 1; }
PY=.venv/bin/python

teardown() {
  say "stopping the stack"
  "$PY" -m stack down || say "WARNING: stack down reported a failure"
}
trap teardown EXIT

"$PY" -m stack up || { say "FAILED: the local stack did not come up (the service is named above)"; exit 1; }
rm -f .stack/rss.log
"$PY" -m stack sample-rss --every 2 --out .stack/rss.log &

set -a; source .stack/env; set +a

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

say "pytest"
"$PY" -m pytest tests "$@"
rc=$?

peak=$(sort -k2 -n .stack/rss.log 2>/dev/null | tail -1 | cut -d' ' -f2)
[[ -n "$peak" ]] && say "stack peak RSS during the suite: $((peak / 1048576)) MB"
say "wall time: $(( $(date +%s) - started ))s, pytest exit code $rc"
exit $rc
