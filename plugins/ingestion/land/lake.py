"""The few blob operations landing needs, over a container, through the Azure provider's WasbHook."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
    from azure.storage.blob import BlobClient


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
        """Stream a blob into a local file (chunked by the SDK, so memory stays flat); returns the bytes written."""
        return int(self.blob(name).download_blob().readinto(stream))

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.blob(name).delete_blob()
