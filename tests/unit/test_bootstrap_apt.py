"""The bootstrap's Debian step waits for another apt instead of failing on its lock: on a fresh machine a second
bootstrap (two clones set up at once) or unattended upgrades hold /var/lib/dpkg/lock-frontend for minutes, and
apt-get without a lock timeout gives up at once ("Could not get lock")."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)


def test_every_apt_get_call_waits_for_the_dpkg_lock(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-get.calls"
    # Root, and every package reported missing, so the step runs apt-get; apt-get records its arguments.
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "dpkg-query", "exit 1")
    _fake(bin_dir, "apt-get", f'printf "%s\\n" "$*" >> {calls}')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "scripts/bootstrap.sh", "apt"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    recorded = calls.read_text().splitlines()
    assert [line.split()[2] for line in recorded] == ["update", "install"]
    assert all(line.startswith("-o DPkg::Lock::Timeout=") for line in recorded), recorded
