"""The three sample sources, for the tests that assert facts about them (their names, teams, DAGs, output).

Adding a source is a JSON file in include/source_configs/ and no test edit, so such a test must not read that folder
as a whole: a fourth source would change every list, count and set it checks. It reads a copy that holds exactly the
sample sources and the files they merge or are checked against (`_defaults.json`, `_oncall.json`, overlays/, schema/),
whatever else the real folder holds. Tests whose point is the real folder itself (every config valid, every config
builds its DAG, the committed generated files in step) keep reading include/source_configs/.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "include" / "source_configs"
SAMPLES = ("crm", "orders_api", "partner_files")


def copy_samples(target: Path, source: Path = CONFIG_DIR) -> Path:
    """Copy the sample sources of `source` and its shared files to `target` (which must not exist yet); the copy is
    the test's own to change."""

    def other_sources(folder: str, names: list[str]) -> set[str]:
        # Source configs are the top-level `*.json` not starting with `_`; overlays/ and schema/ are copied whole.
        if Path(folder) != source:
            return set()
        return {n for n in names if n.endswith(".json") and not n.startswith("_") and n[:-5] not in SAMPLES}

    shutil.copytree(source, target, ignore=other_sources)
    return target


@cache
def sample_config_dir() -> Path:
    """One copy of the samples for the whole test process, made on first use: read it, never write to it (take
    `copy_samples` into the test's tmp_path for that)."""
    root = Path(tempfile.mkdtemp(prefix="sample-configs-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return copy_samples(root / "source_configs")
