"""PII strategies on Arrow batches, and the keys they need (pure: connections are handed in, no Airflow)."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from ingestion.config.models import Column
from ingestion.extract.arrow_types import arrow_schema
from ingestion.pii.errors import PiiKeyError
from ingestion.pii.keys import load_pii_keys
from ingestion.pii.masking import (
    REDACTED,
    PiiMasker,
    associated_data,
    decrypt_token,
    general_schema,
    hmac_hex,
)

HASH_SECRET = "h" * 40
AES_KEY = bytes(range(32))
OLD_AES_KEY = bytes(range(32, 64))

COLUMNS = (
    Column(name="id", type="integer", nullable=False),
    Column(name="email", type="string", pii=True, pii_strategy="hash"),
    Column(name="phone", type="string", pii=True, pii_strategy="redact"),
    Column(name="ssn", type="string", pii=True, pii_strategy="drop"),
    Column(name="iban", type="string", pii=True, pii_strategy="encrypt"),
    Column(name="full_name", type="string", nullable=False, pii=True, pii_strategy="sensitive"),
    Column(name="salary", type="decimal(10,2)", pii=True, pii_strategy="hash"),
    Column(name="country", type="string"),
)


def _connections(**conns: tuple[str | None, dict[str, Any]]) -> Any:
    return lambda conn_id: conns.get(conn_id)


GOOD = _connections(
    pii_hash_key=(HASH_SECRET, {"key_id": "h1"}),
    pii_encryption_key=(
        base64.b64encode(AES_KEY).decode(),
        {"key_id": "k2", "previous_keys": {"k1": base64.b64encode(OLD_AES_KEY).decode()}},
    ),
)


def _keys(lookup: Any = GOOD, columns: tuple[Column, ...] = COLUMNS) -> Any:
    return load_pii_keys(
        where="crm.customers",
        columns=columns,
        hash_key_conn_id="pii_hash_key",
        encryption_key_conn_id="pii_encryption_key",
        lookup=lookup,
    )


def _masker(keys: Any = None) -> PiiMasker:
    return PiiMasker(source="crm", entity="customers", columns=COLUMNS, primary_key=("id",), keys=keys or _keys())


def _batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [
            {"id": 1, "email": "ana@example.com", "phone": "+351 912", "ssn": "123-45", "iban": "PT50 0001",
             "full_name": "Ana Lima", "salary": Decimal("1000.50"), "country": "PT"},
            {"id": 2, "email": None, "phone": None, "ssn": None, "iban": None,
             "full_name": "Bo Chen", "salary": None, "country": "NL"},
            {"id": 3, "email": "ana@example.com", "phone": "+31 6", "ssn": "999", "iban": "NL91 ABNA",
             "full_name": "Çelik Ünal", "salary": Decimal("-2.00"), "country": None},
        ],
        schema=arrow_schema(COLUMNS),
    )  # fmt: skip


def test_general_schema_masks_to_strings_and_drops() -> None:
    schema = general_schema(COLUMNS)
    assert schema.names == ["id", "email", "phone", "iban", "full_name", "salary", "country"]
    assert schema.field("id").type == pa.int32()
    assert schema.field("salary").type == pa.string()
    assert not schema.field("full_name").nullable


def test_each_strategy_and_nulls_stay_null() -> None:
    masker = _masker()
    out = masker.general(_batch()).to_pydict()
    expected_hash = hmac.new(HASH_SECRET.encode(), b"ana@example.com", "sha256").hexdigest()
    assert out["email"] == [expected_hash, None, expected_hash]  # stable: same value, same hash
    assert out["phone"] == [REDACTED, None, REDACTED]
    assert "ssn" not in out
    assert out["full_name"] == [REDACTED] * 3
    assert out["salary"][0] == hmac.new(HASH_SECRET.encode(), b"1000.50", "sha256").hexdigest()
    assert out["salary"][1] is None
    assert out["id"] == [1, 2, 3]
    assert out["country"] == ["PT", "NL", None]
    assert out["iban"][1] is None
    assert all(token.startswith("v1.k2.") for token in (out["iban"][0], out["iban"][2]))


def test_no_raw_value_survives_in_the_general_batch() -> None:
    raw = _batch().to_pydict()
    general = _masker().general(_batch())
    text = repr(general.to_pydict()) + general.schema.to_string()
    for column in ("email", "phone", "ssn", "iban", "full_name"):
        for value in raw[column]:
            if value is not None:
                assert value not in text, (column, value)


def test_sensitive_batch_holds_key_and_raw_values() -> None:
    sensitive = _masker().sensitive(_batch())
    assert sensitive is not None
    assert sensitive.to_pydict() == {"id": [1, 2, 3], "full_name": ["Ana Lima", "Bo Chen", "Çelik Ünal"]}


def test_encryption_round_trips_only_under_its_column_and_key() -> None:
    keys = _keys()
    token = _masker(keys).general(_batch()).column("iban")[0].as_py()
    aad = associated_data("crm", "customers", "iban")
    assert decrypt_token(token, keys.keyring, aad) == b"PT50 0001"
    with pytest.raises(ValueError, match="does not decrypt"):
        decrypt_token(token, keys.keyring, associated_data("crm", "customers", "phone"))
    # Two encryptions of one value differ (random nonce), both decrypt.
    again = _masker(keys).general(_batch()).column("iban")[0].as_py()
    assert again != token
    assert decrypt_token(again, keys.keyring, aad) == b"PT50 0001"


def test_a_token_from_before_a_rotation_decrypts_with_previous_keys() -> None:
    old = load_pii_keys(
        where="crm.customers",
        columns=COLUMNS,
        hash_key_conn_id="pii_hash_key",
        encryption_key_conn_id="pii_encryption_key",
        lookup=_connections(
            pii_hash_key=(HASH_SECRET, {}), pii_encryption_key=(base64.b64encode(OLD_AES_KEY).decode(), {})
        ),
    )
    token = _masker(old).general(_batch()).column("iban")[0].as_py()
    assert token.startswith("v1.k1.")
    rotated = _keys()  # active k2, k1 kept in previous_keys
    assert decrypt_token(token, rotated.keyring, associated_data("crm", "customers", "iban")) == b"PT50 0001"


def test_missing_keys_fail_with_the_connection_and_columns_named() -> None:
    with pytest.raises(PiiKeyError, match=r"hashed column\(s\) \['email', 'salary'\].*'pii_hash_key'.*no such"):
        _keys(_connections())
    with pytest.raises(PiiKeyError, match="at least 32"):
        _keys(_connections(pii_hash_key=("short", {})))
    with pytest.raises(PiiKeyError, match="base64 AES-256 key"):
        _keys(_connections(pii_hash_key=(HASH_SECRET, {}), pii_encryption_key=("bm90IDMyIGJ5dGVz", {})))


def test_only_the_keys_the_columns_need_are_loaded() -> None:
    plain = (Column(name="id", type="integer"), Column(name="phone", type="string", pii=True, pii_strategy="redact"))
    keys = _keys(_connections(), plain)  # no connections at all, and none needed
    assert keys.hash_key is None
    assert keys.keyring is None


def test_key_objects_never_print_their_secrets() -> None:
    keys = _keys()
    assert HASH_SECRET not in repr(keys)
    assert repr(AES_KEY) not in repr(keys)
    assert "k2" in repr(keys)


def test_hmac_hashes_each_distinct_value_once_and_handles_empty() -> None:
    keys = _keys()
    assert hmac_hex(pa.array([], pa.string()), keys.hash_key).to_pylist() == []
    many = pa.array(["x", "y"] * 1000)
    hashed = hmac_hex(many, keys.hash_key)
    assert len(set(hashed.to_pylist())) == 2
    assert len(hashed) == 2000


def test_timestamps_hash_by_their_text_form() -> None:
    keys = _keys()
    ts = pa.array([datetime(2026, 11, 1, 12, 0, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    text = pa.array(ts.cast(pa.string()).to_pylist())
    assert hmac_hex(ts, keys.hash_key).equals(hmac_hex(text, keys.hash_key))
