"""`python -m ingestion ...`: the platform's command line (see ingestion.cli)."""

from __future__ import annotations

import sys

from ingestion.cli import main

# Guarded for any importer other than `python -m`. (Airflow's plugin manager would import this file *as*
# `__main__` and take over the api-server's command line: plugins/.airflowignore keeps it out of the package.)
if __name__ == "__main__":
    sys.exit(main())
