"""What landing, validate and publish need of one container of the landing zone.

`ingestion.land.lake.Lake` is the real one (Azure Blob through WasbHook); anything with these methods fits, so the
stage bodies can be tested on a lake held in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient


class LakeContainer(Protocol):
    container: str

    def ensure_container(self) -> None: ...

    def blob(self, name: str) -> BlobClient:
        """The blob for block writes (stage_block, commit_block_list), range reads and deletes."""
        ...

    def names(self, prefix: str) -> list[str]: ...

    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes:
        """The blob's bytes; azure.core.exceptions.ResourceNotFoundError when there is none."""
        ...

    def download_to(self, name: str, stream: BinaryIO) -> int: ...

    def delete(self, names: list[str]) -> None: ...
