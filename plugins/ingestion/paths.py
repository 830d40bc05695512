"""Where the platform finds its source configs, in the repo, in the image and in tests."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR_ENV = "INGEST_CONFIG_DIR"


def config_dir() -> Path:
    """`$INGEST_CONFIG_DIR`, else `include/source_configs` beside `plugins/` (the repo and the image agree)."""
    if value := os.environ.get(CONFIG_DIR_ENV):
        return Path(value)
    return Path(__file__).resolve().parents[2] / "include" / "source_configs"
