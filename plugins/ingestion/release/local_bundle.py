"""The local deployment target's bundle folder: every release a full copy of the files Airflow reads (`dags/`,
`plugins/`, `include/`) under `releases/<id>/`, and `current` a symbolic link to the one being served.

The local Airflow reads `current/dags` (its DAG folder), `current/plugins` (plugins folder and PYTHONPATH) and
`current/include/source_configs` (INGEST_CONFIG_DIR). Switching a release replaces the link with one rename, which
is atomic: a parse or a task that starts reads the old release or the new one, never a mix of both. Processes
already running keep what they imported; every DAG parse and every task runs in a new process that imports the
platform's code from the link (plugins/.airflowignore keeps it out of Airflow's plugin loading)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ingestion.release.errors import BundleError

SERVED_FOLDERS = ("dags", "plugins", "include")
KEEP_RELEASES = 5


@dataclass(frozen=True)
class LocalBundle:
    root: Path

    @property
    def link(self) -> Path:
        return self.root / "current"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    def current(self) -> Path | None:
        """The release served now, or None before the first deployment."""
        if not os.path.lexists(self.link):
            return None
        if not self.link.is_symlink():
            raise BundleError(f"{self.link} must be a symbolic link into {self.releases}, and is not")
        target = (self.root / os.readlink(self.link)).resolve()
        if target.parent != self.releases.resolve():
            raise BundleError(f"{self.link} points outside {self.releases}: {target}")
        return target

    def stage(self, tree: Path, release_id: str) -> Path:
        """Copy what Airflow reads from `tree` into a new release folder (complete before it gets its name)."""
        missing = [name for name in SERVED_FOLDERS if not (tree / name).is_dir()]
        if missing:
            raise BundleError(f"{tree} has no {', '.join(missing)} folder: not a checkout of this repository")
        self.releases.mkdir(parents=True, exist_ok=True)
        final = self.releases / release_id
        if final.exists():
            raise BundleError(f"release {release_id} is already staged in {self.releases}")
        partial = self.releases / f".{release_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in SERVED_FOLDERS:
            shutil.copytree(tree / name, partial / name, ignore=ignore, symlinks=False)
        partial.rename(final)
        return final

    def switch(self, release: Path) -> None:
        """Serve `release` from now on: a new link renamed over `current` (atomic on POSIX)."""
        if release.resolve().parent != self.releases.resolve():
            raise BundleError(f"{release} is not a release of {self.releases}")
        temporary = self.root / ".current.switching"
        if os.path.lexists(temporary):
            temporary.unlink()
        temporary.symlink_to(Path("releases") / release.name)
        os.replace(temporary, self.link)

    def prune(self, keep: int = KEEP_RELEASES, *, also_keep: tuple[Path, ...] = ()) -> list[str]:
        """Delete all but the newest `keep` releases (never the served one or `also_keep`); returns their ids."""
        if not self.releases.is_dir():
            return []
        protected = {p.resolve() for p in also_keep} | ({current} if (current := self.current()) else set())
        # Release ids start with their UTC time: by name is by age.
        staged = sorted(
            (p for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
        )
        removed = []
        for old in staged[: max(0, len(staged) - keep)]:
            if old.resolve() not in protected:
                shutil.rmtree(old)
                removed.append(old.name)
        return removed


def seed(root: Path, tree: Path) -> Path:
    """Serve `tree` as the bundle's first release when nothing is served yet (`make airflow` with
    INGEST_BUNDLE_ROOT); later releases come through `scripts/deploy.sh local`. Returns the release served."""
    bundle = LocalBundle(root)
    if (current := bundle.current()) is not None:
        return current
    from datetime import UTC, datetime

    release = bundle.stage(tree, f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-seed")
    bundle.switch(release)
    return release


if __name__ == "__main__":
    import sys

    # python -m ingestion.release.local_bundle <bundle folder> <checkout>
    print(seed(Path(sys.argv[1]), Path(sys.argv[2])))
