"""A write-only file object over a block blob: stages blocks as its buffer fills, commits them on close.

A block blob shows no content until its block list is committed, so a reader never sees a partial file, and
memory stays at a few blocks however large the file. Closing after an error (abort) commits nothing.

Blocks are uploaded by one background thread while the caller goes on producing the next one (at most
MAX_PENDING blocks in flight), so extraction and upload overlap instead of taking turns.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024
MAX_PENDING = 2


class BlockBlobWriter(io.RawIOBase):
    def __init__(self, blob: BlobClient, *, block_bytes: int = DEFAULT_BLOCK_BYTES) -> None:
        self._blob = blob
        self._block_bytes = block_bytes
        self._buffer = bytearray()
        self._block_ids: list[str] = []
        self._position = 0
        self._aborted = False
        self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-upload")
        self._pending: list[Future[Any]] = []

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self._position += len(view)
        while len(self._buffer) >= self._block_bytes:
            self._stage(bytes(self._buffer[: self._block_bytes]))
            del self._buffer[: self._block_bytes]
        return len(view)

    def _stage(self, chunk: bytes) -> None:
        block_id = base64.b64encode(f"{len(self._block_ids):010d}".encode()).decode()
        self._block_ids.append(block_id)
        self._pending.append(
            self._uploader.submit(self._blob.stage_block, block_id=block_id, data=chunk, length=len(chunk))
        )
        while len(self._pending) > MAX_PENDING:
            self._pending.pop(0).result()  # re-raises an upload error here, in the caller's thread

    def _wait_for_uploads(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pending.clear()
            self._uploader.shutdown(wait=True)

    def abort(self) -> None:
        """Forget the staged blocks: nothing becomes visible (the service drops uncommitted blocks in 7 days)."""
        self._aborted = True
        self._buffer.clear()
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._uploader.shutdown(wait=True)
        super().close()

    def close(self) -> None:
        if self.closed:
            return
        if not self._aborted:
            if self._buffer or not self._block_ids:
                self._stage(bytes(self._buffer))
                self._buffer.clear()
            self._wait_for_uploads()
            from azure.storage.blob import BlobBlock

            self._blob.commit_block_list([BlobBlock(block_id=b) for b in self._block_ids])
        super().close()

    @property
    def bytes_written(self) -> int:
        return self._position
