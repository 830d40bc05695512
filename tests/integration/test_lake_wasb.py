"""The landing zone through the provider's WasbHook, on Azurite's blob API."""

from __future__ import annotations

import uuid
from pathlib import Path

from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

CONTAINER = "landing"


def test_upload_list_download_and_overwrite(tmp_path: Path) -> None:
    hook = WasbHook(wasb_conn_id="lake_wasb")
    prefix = f"_tests/{uuid.uuid4().hex}/"
    payload = "id,name\n1,Ærøskøbing\n".encode()
    source = tmp_path / "part.csv"
    source.write_bytes(payload)

    hook.load_file(str(source), container_name=CONTAINER, blob_name=prefix + "a.csv", overwrite=True)
    hook.load_string("second", container_name=CONTAINER, blob_name=prefix + "b.txt", overwrite=True)

    assert sorted(hook.get_blobs_list(CONTAINER, prefix=prefix)) == [prefix + "a.csv", prefix + "b.txt"]
    target = tmp_path / "back.csv"
    hook.get_file(str(target), container_name=CONTAINER, blob_name=prefix + "a.csv")
    assert target.read_bytes() == payload

    # Re-running a write replaces the blob instead of adding a second one (idempotent landing relies on it).
    hook.load_string("replaced", container_name=CONTAINER, blob_name=prefix + "b.txt", overwrite=True)
    assert hook.read_file(CONTAINER, prefix + "b.txt") == "replaced"
    assert len(hook.get_blobs_list(CONTAINER, prefix=prefix)) == 2


def test_stack_created_the_landing_containers() -> None:
    client = WasbHook(wasb_conn_id="lake_wasb").get_conn()
    names = {c.name for c in client.list_containers()}
    assert {"landing", "sensitive"} <= names
