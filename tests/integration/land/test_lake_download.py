"""Lake.download_to against Azurite: a blob comes back byte for byte in ranges, and an overwrite between two ranges
fails the download instead of mixing two versions."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from azure.core.exceptions import ResourceModifiedError

from ingestion.land import lake as lake_module
from ingestion.land.lake import DOWNLOAD_CHUNK_BYTES, Lake


@pytest.fixture
def lake() -> Lake:
    lake = Lake.from_conn_id("lake_wasb", "landing")
    lake.ensure_container()
    return lake


@pytest.mark.parametrize("size", [0, 1, DOWNLOAD_CHUNK_BYTES, 2 * DOWNLOAD_CHUNK_BYTES + 12345])
def test_a_blob_comes_back_whole_in_ranges(lake: Lake, size: int) -> None:
    name = f"t{uuid.uuid4().hex[:8]}/blob.bin"
    data = os.urandom(size)
    lake.put(name, data)
    out = io.BytesIO()
    assert lake.download_to(name, out) == size
    assert out.getvalue() == data


def test_an_overwrite_between_ranges_fails_the_download(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"t{uuid.uuid4().hex[:8]}/blob.bin"
    monkeypatch.setattr(lake_module, "DOWNLOAD_CHUNK_BYTES", 1024)
    lake.put(name, b"a" * 4096)

    class OverwritingStream(io.BytesIO):
        def write(self, chunk: bytes) -> int:  # type: ignore[override]
            if self.tell() == 0:
                lake.put(name, b"b" * 4096)  # a re-run lands the part again after the first range
            return super().write(chunk)

    with pytest.raises(ResourceModifiedError):
        lake.download_to(name, OverwritingStream())
