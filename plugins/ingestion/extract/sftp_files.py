"""Which files on the SFTP server a run loads. Pure apart from `list_files`/`settled_files`, which take an open client.

- Names are matched by glob (`customers_*.csv`) or regex (`re:^orders_\\d{4}-\\d{2}-\\d{2}\\.csv\\.gz$`).
- A name from the server is untrusted: one that could leave the folder or confuse a path or a log (`/`, `\\`, `..`,
  control characters, over 255 bytes) is refused and reported, never read. Landed paths never contain a server name.
- New files only: a file is loaded when its (mtime, size) differs from the latest the processed-file list holds for
  the name: a newer mtime, or the same mtime with another size (SFTP v3 mtimes are whole seconds, so a rewrite
  within the same second keeps its mtime). A re-uploaded file loads again, an unchanged one does not, one with an
  older mtime does not; a full-refresh run loads every match.
- A file still being written (size or mtime different between two looks `settle_seconds` apart) waits a run.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import stat
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramiko import SFTPClient


@dataclass(frozen=True)
class RemoteFile:
    name: str
    path: str  # remote_path/name
    size: int
    mtime: datetime  # UTC, whole seconds (what SFTP v3 reports)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "size": self.size, "mtime": self.mtime.isoformat()}


def unsafe_name_reason(name: str) -> str | None:
    """Why a file name from the server is not used, or None when it is safe."""
    if name in ("", ".", ".."):
        return "is empty, . or .."
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "contains a control or invisible formatting character"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "is longer than 255 bytes"
    return None


def name_matches(name: str, pattern: str) -> bool:
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def list_files(client: SFTPClient, remote_path: str, pattern: str) -> tuple[list[RemoteFile], list[str]]:
    """Regular files under remote_path matching the pattern, and the refused names with their reasons."""
    found: list[RemoteFile] = []
    refused: list[str] = []
    for attrs in client.listdir_attr(remote_path):
        name = attrs.filename
        if attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode):
            continue
        if not name_matches(name, pattern):
            continue
        if (reason := unsafe_name_reason(name)) is not None:
            refused.append(f"{name!r} {reason}")
            continue
        mtime = datetime.fromtimestamp(attrs.st_mtime or 0, tz=UTC)
        found.append(RemoteFile(name, posixpath.join(remote_path, name), int(attrs.st_size or 0), mtime))
    return sorted(found, key=lambda f: (f.mtime, f.name)), refused


def settled_files(
    client: SFTPClient, remote_path: str, pattern: str, settle_seconds: float, sleep: Any = time.sleep
) -> tuple[list[RemoteFile], list[RemoteFile], list[str]]:
    """Files unchanged between two looks settle_seconds apart; the ones still changing; refused names."""
    first, refused = list_files(client, remote_path, pattern)
    if settle_seconds <= 0 or not first:
        return first, [], refused
    sleep(settle_seconds)
    second, _ = list_files(client, remote_path, pattern)
    before = {f.name: (f.size, f.mtime) for f in first}
    steady = [f for f in second if before.get(f.name) == (f.size, f.mtime)]
    changing = [f for f in second if f.name in before and before[f.name] != (f.size, f.mtime)]
    return steady, changing, refused


def is_new(remote: RemoteFile, processed: tuple[datetime, int] | None) -> bool:
    """Never processed, or changed since: a newer mtime, or the same mtime with another size."""
    if processed is None:
        return True
    mtime, size = processed
    return remote.mtime > mtime or (remote.mtime == mtime and remote.size != size)


def new_files(
    files: Iterable[RemoteFile], processed: Mapping[str, tuple[datetime, int]], *, full_refresh: bool = False
) -> list[RemoteFile]:
    """The files to load (`processed`: name -> (mtime, size) of the latest entry loaded)."""
    if full_refresh:
        return list(files)
    return [f for f in files if is_new(f, processed.get(f.name))]
