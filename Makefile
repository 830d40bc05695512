# The two commands that matter: `make demo` and `make test`. The rest are building blocks.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help bootstrap stack-up stack-down stack-status test test-unit demo run dag-given airflow airflow-stop deploy-local lint format constraints clean validate bench-parse

help:
	@echo "make demo          stack up, run the sample DAGs on the metadata DB make airflow serves, print a summary"
	@echo "make run DAG=ingest_x [DATE=YYYY-MM-DD]  run one DAG once on the local stack (airflow dags test), print a summary"
	@echo "make test          install everything, start the stack, lint, run the whole suite, stop the stack"
	@echo "make stack-up      start the native local stack (Postgres, Redis, MariaDB, Kafka, Azurite, sshd, sample API, webhook and SMTP sinks)"
	@echo "make stack-down    stop it (by PID)"
	@echo "make stack-status  which services are up, and their memory"
	@echo "make airflow       api-server, scheduler, dag-processor and triggerer, supervised (Ctrl-C stops them);"
	@echo "                   EXECUTOR=celery: CeleryExecutor on the stack's Redis, with two Celery workers"
	@echo "make airflow-stop  stop the components started by make airflow"
	@echo "make deploy-local  deploy this checkout to the local Airflow serving INGEST_BUNDLE_ROOT (scripts/deploy.sh local)"
	@echo "make test-unit     unit and DAG tests only (no services)"
	@echo "make lint          ruff, mypy, the import layers, actionlint and zizmor on the workflows"
	@echo "make validate      validate every source config (scripts/ingest validate)"
	@echo "make bench-parse   DAG parse benchmark: factory vs hand-written vs dag-factory (bench/README.md)"

bootstrap:
	@bash scripts/bootstrap.sh

stack-up: bootstrap
	@$(PY) -m stack up

# Standard library only, so it works even when the virtualenv does not.
stack-down:
	@if [ -x $(PY) ]; then $(PY) -m stack down; else python3 -m stack down; fi

stack-status:
	@$(PY) -m stack status

test:
	@bash scripts/run_tests.sh

test-unit: bootstrap
	@$(PY) -m pytest tests/unit tests/dags

validate: bootstrap
	@scripts/ingest validate

bench-parse: bootstrap
	@$(PY) bench/parse_bench.py

demo: bootstrap
	@bash scripts/demo.sh

# dag-given first: without DAG, say so before the bootstrap and the stack take minutes to come up.
run: dag-given stack-up
	@bash scripts/run_dag.sh "$(DAG)" $(DATE)

dag-given:
	@[ -n "$(DAG)" ] || { echo "usage: make run DAG=<dag_id> [DATE=YYYY-MM-DD]" >&2; exit 2; }

airflow: stack-up
	@set -a; source $${STACK_STATE_DIR:-.stack}/env; set +a; source scripts/airflow_env.sh; $(PY) scripts/airflow_local.py run $(if $(EXECUTOR),--executor $(EXECUTOR))

# The same steps as a deployment to Dev or Prod, against `INGEST_BUNDLE_ROOT=.airflow/bundle make airflow`.
deploy-local: stack-up
	@set -a; source $${STACK_STATE_DIR:-.stack}/env; set +a; export INGEST_BUNDLE_ROOT=$${INGEST_BUNDLE_ROOT:-$(CURDIR)/.airflow/bundle}; \
	  source scripts/airflow_env.sh; scripts/deploy.sh local --bundle "$$INGEST_BUNDLE_ROOT"

airflow-stop:
	@source scripts/airflow_env.sh; $(PY) scripts/airflow_local.py stop

lint: bootstrap
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && PYTHONPATH=plugins .venv/bin/lint-imports --no-cache \
	  && .tools/bin/actionlint && .venv/bin/zizmor --offline --quiet .github/workflows

format:
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .

constraints:
	@.venv/bin/pip freeze --exclude-editable | sed '1i # Every package of the resolved environment, pinned (pip freeze of requirements.txt + requirements-dev.txt).\n# Regenerate with `make constraints` after changing either file.' > constraints.txt

clean: stack-down
	rm -rf .stack .stack-lane* .airflow
