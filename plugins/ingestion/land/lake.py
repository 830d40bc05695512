"""The few blob operations landing needs, over a container, through the Azure provider's WasbHook."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    from azure.storage.blob import BlobClient

    from ingestion.land.retention_plan import StoredBlob


DOWNLOAD_CHUNK_BYTES = 4 * 1024 * 1024


class Lake:
    def __init__(self, hook: WasbHook, container: str) -> None:
        self.hook = hook
        self.container = container
        self._service = hook.get_conn()

    @classmethod
    def from_conn_id(cls, conn_id: str, container: str) -> Lake:
        from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

        return cls(WasbHook(wasb_conn_id=conn_id), container)

    def ensure_container(self) -> None:
        self.hook.create_container(self.container)  # no-op when it exists

    def blob(self, name: str) -> BlobClient:
        return self._service.get_blob_client(self.container, name)

    def names(self, prefix: str) -> list[str]:
        return sorted(b.name for b in self._service.get_container_client(self.container).list_blobs(prefix))

    def put(self, name: str, data: bytes) -> None:
        self.blob(name).upload_blob(data, overwrite=True)

    def get(self, name: str) -> bytes:
        return bytes(self.blob(name).download_blob().readall())

    def download_to(self, name: str, stream: BinaryIO) -> int:
        """Stream a blob into a local file, DOWNLOAD_CHUNK_BYTES per request; returns the bytes written.

        By range, because the SDK's own download fetches its first 32 MB in one piece, which put a whole part in
        memory at once (a spike of ~40 MB at every part while publishing). Every range must come from the same
        version of the blob (its ETag), so an overwrite in between fails the read instead of mixing versions."""
        from azure.core import MatchConditions

        blob = self.blob(name)
        properties = blob.get_blob_properties()
        size = int(properties.size)
        written = 0
        for offset in range(0, size, DOWNLOAD_CHUNK_BYTES):
            length = min(DOWNLOAD_CHUNK_BYTES, size - offset)
            downloader = blob.download_blob(
                offset=offset, length=length, etag=properties.etag, match_condition=MatchConditions.IfNotModified
            )
            written += int(downloader.readinto(stream))
        return written

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.blob(name).delete_blob()

    def stored(self, prefix: str) -> list[StoredBlob]:
        """The blobs under a prefix with their size and access tier, by name; none when the container is missing."""
        from azure.core.exceptions import ResourceNotFoundError

        from ingestion.land.retention_plan import StoredBlob

        try:
            listing = self._service.get_container_client(self.container).list_blobs(name_starts_with=prefix)
            found = [StoredBlob(b.name, int(b.size), b.blob_tier) for b in listing]
        except ResourceNotFoundError:
            return []
        return sorted(found, key=lambda b: b.name)

    def set_tier(self, names: list[str], tier: str) -> None:
        """Move block blobs to an access tier (Hot, Cool, Archive) in place: same name, same bytes."""
        for name in names:
            self.blob(name).set_standard_blob_tier(tier)
