"""The partner drop through the provider's SFTPHook, on the stack's OpenSSH server."""

from __future__ import annotations

import gzip
from pathlib import Path

from airflow.providers.sftp.hooks.sftp import SFTPHook

DROP = "inbound/partners"
SEEDED = ["customers_2026-11-01.csv", "events_2026-11-01.jsonl", "orders_2026-11-02.csv.gz"]


def test_lists_and_retrieves_seeded_files_with_password_auth(tmp_path: Path) -> None:
    hook = SFTPHook(ssh_conn_id="partner_sftp")
    assert sorted(hook.list_directory(DROP) or []) == SEEDED
    described = hook.describe_directory(DROP)
    assert described["customers_2026-11-01.csv"]["size"] > 0

    local = tmp_path / "customers.csv"
    hook.retrieve_file(f"{DROP}/customers_2026-11-01.csv", str(local))
    lines = local.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "partner_customer_id,email,name,country,signup_date,lifetime_value"
    assert any("李娜" in line for line in lines)


def test_key_auth_and_gzipped_file(tmp_path: Path) -> None:
    hook = SFTPHook(ssh_conn_id="partner_sftp_key")
    local = tmp_path / "orders.csv.gz"
    hook.retrieve_file(f"{DROP}/orders_2026-11-02.csv.gz", str(local))
    with gzip.open(local, "rt", encoding="utf-8") as fh:
        assert fh.readline().strip() == "partner_order_id,partner_customer_id,amount,currency,ordered_at"


def test_host_key_is_verified() -> None:
    # The connection pins the stack's host key; a wrong one must be refused, not silently accepted.
    import json
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_PARTNER_SFTP"])
    assert conn["extra"]["host_key"].startswith("ssh-ed25519 ")
    wrong = dict(
        conn, extra={"host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOn3P2bqGzzTQz4Hf9aMVkDY7u8lN3pJ0t0c1n2wYwXq"}
    )
    os.environ["AIRFLOW_CONN_PARTNER_SFTP_WRONG_KEY"] = json.dumps(wrong)
    try:
        import paramiko
        import pytest

        with pytest.raises(paramiko.SSHException):
            SFTPHook(ssh_conn_id="partner_sftp_wrong_key").list_directory(DROP)
    finally:
        del os.environ["AIRFLOW_CONN_PARTNER_SFTP_WRONG_KEY"]
