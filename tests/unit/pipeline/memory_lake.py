"""A landing zone held in memory, with the methods the stages use of a container (land/lake_api.LakeContainer) and
of its blobs (block writes that appear only when committed, range reads, deletes), for unit tests of the stages."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, BinaryIO

from azure.core.exceptions import ResourceNotFoundError


@dataclass
class MemoryLakes:
    """Every container, by name; `lake` is what StageStorage wants."""

    blobs: dict[str, dict[str, bytes]] = field(default_factory=dict)  # container -> name -> committed bytes

    def lake(self, container: str) -> MemoryLake:
        return MemoryLake(self, container)


class MemoryBlob:
    def __init__(self, lake: MemoryLake, name: str) -> None:
        self.lake = lake
        self.name = name
        self._staged: dict[str, bytes] = {}
        self._lock = threading.Lock()  # blocks are staged from an upload thread

    def _committed(self) -> bytes:
        data = self.lake.stored.get(self.name)
        if data is None:
            raise ResourceNotFoundError(f"{self.lake.container}/{self.name}: no such blob")
        return data

    def stage_block(self, block_id: str, data: bytes, length: int | None = None, **_: Any) -> None:
        with self._lock:
            self._staged[block_id] = bytes(data)

    def commit_block_list(self, blocks: list[Any], **_: Any) -> None:
        with self._lock:
            self.lake.stored[self.name] = b"".join(self._staged[block.id] for block in blocks)
            self._staged.clear()

    def upload_blob(self, data: bytes, overwrite: bool = False, **_: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        with self._lock:
            if not overwrite and self.name in self.lake.stored:
                raise ResourceExistsError(f"{self.name} exists")
            self.lake.stored[self.name] = bytes(data)

    def delete_blob(self, **_: Any) -> None:
        self._committed()
        del self.lake.stored[self.name]

    def get_blob_properties(self, **_: Any) -> Any:
        data = self._committed()
        return SimpleNamespace(size=len(data), etag=str(hash(data)))

    def download_blob(self, offset: int | None = None, length: int | None = None, **_: Any) -> Any:
        data = self._committed()
        start = offset or 0
        piece = data[start : start + length] if length is not None else data[start:]
        return SimpleNamespace(readall=lambda: piece, readinto=lambda stream: stream.write(piece))


class MemoryLake:
    def __init__(self, lakes: MemoryLakes, container: str) -> None:
        self.lakes = lakes
        self.container = container

    @property
    def stored(self) -> dict[str, bytes]:
        return self.lakes.blobs.setdefault(self.container, {})

    def ensure_container(self) -> None:
        self.stored  # noqa: B018 - creates it

    def blob(self, name: str) -> MemoryBlob:
        return MemoryBlob(self, name)

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.stored if n.startswith(prefix))

    def put(self, name: str, data: bytes) -> None:
        self.stored[name] = bytes(data)

    def get(self, name: str) -> bytes:
        return self.blob(name)._committed()

    def download_to(self, name: str, stream: BinaryIO) -> int:
        data = self.get(name)
        stream.write(data)
        return len(data)

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.blob(name).delete_blob()
