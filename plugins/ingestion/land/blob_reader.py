"""A read-only, seekable file over a blob, fetching byte ranges on demand.

pyarrow's ParquetFile reads the footer and then only the column chunks asked for; over this reader a check that
needs a file's metadata, or a few columns, downloads just those ranges instead of the whole file.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient


class BlobRangeReader(io.RawIOBase):
    def __init__(self, blob: BlobClient) -> None:
        self._blob = blob
        self._size = int(blob.get_blob_properties().size)
        self._pos = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        data = self._blob.download_blob(offset=self._pos, length=want).readall()
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
