"""`python -m ingestion ...`: the platform's command line (see ingestion.cli)."""

from __future__ import annotations

import sys

from ingestion.cli import main

sys.exit(main())
