"""Apply each column's PII strategy to Arrow batches, column-wise.

What each strategy lands in the general zone (and so in Kafka):
- `hash`: lowercase hex HMAC-SHA-256 of the value's UTF-8 text, keyed by the HMAC key. The same value gives the
  same hash in every run, column and source (joins keep working); without the key it cannot be recomputed.
- `redact`: the constant `[redacted]`.
- `drop`: no column at all.
- `encrypt`: `v1.<key id>.<base64url(nonce | AES-256-GCM ciphertext)>`, with `<source>.<entity>.<column>` as the
  associated data, so a value cannot be moved to another column unnoticed. `decrypt_token` reverses it.
- `sensitive`: `[redacted]` in the general zone; the raw value, beside the primary key and the lineage columns,
  lands in the sensitive container.

A masked column is a string column whatever its source type (non-text values are masked in their Arrow text form);
NULL stays NULL under every strategy. Pure: pyarrow and cryptography only, keys handed in.

Data no column declares (a REST record's extra column, columns schema evolution adds) has no classification, so it
is treated as PII until a config classifies it: by the entity's `undeclared` setting it lands raw in the sensitive
container only (`sensitive`, the default), nowhere (`drop`), or unmasked in the general zone (`general`, an opt-in).
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.config.models import SOURCE_FILE_COLUMN, PiiStrategy
from ingestion.extract.arrow_types import arrow_schema
from ingestion.pii.errors import PiiKeyError
from ingestion.pii.keys import EncryptionKeyring, HashKey, PiiKeys

if TYPE_CHECKING:
    from collections.abc import Collection

    from ingestion.config.models import Column, Entity

REDACTED = "[redacted]"
TOKEN_VERSION = "v1"  # noqa: S105 - the token format version, not a secret
NONCE_BYTES = 12


def strategy_of(column: Column) -> PiiStrategy | None:
    return column.pii_strategy if column.pii else None


def undeclared_names(entity: Entity, columns: Sequence[Column]) -> tuple[str, ...]:
    """The columns among `columns` (what a run lands) that the entity does not declare: the REST extra column and
    columns schema evolution added. The file-name lineage column is the platform's own, not source data."""
    declared = {c.name for c in entity.columns} | {SOURCE_FILE_COLUMN}
    return tuple(c.name for c in columns if c.name not in declared)


def withheld_from_general(entity: Entity, columns: Sequence[Column]) -> frozenset[str]:
    """The landed columns the general zone (and so Kafka) never gets: undeclared data, unless the entity opted in."""
    return frozenset() if entity.undeclared == "general" else frozenset(undeclared_names(entity, columns))


def raw_to_sensitive(entity: Entity, columns: Sequence[Column]) -> tuple[str, ...]:
    """The undeclared columns that land raw in the sensitive container (`undeclared: sensitive`)."""
    return undeclared_names(entity, columns) if entity.undeclared == "sensitive" else ()


def entity_general_schema(entity: Entity, columns: Sequence[Column]) -> pa.Schema:
    """`general_schema` under the entity's policy for undeclared data: what validate and publish read back."""
    return general_schema(columns, withheld_from_general(entity, columns))


def general_schema(columns: Sequence[Column], withheld: Collection[str] = ()) -> pa.Schema:
    """The schema that lands in the general zone (before lineage columns): masked columns as strings, dropped and
    `withheld` ones gone. Validate and publish read the landed files against this."""
    fields = []
    for column, field in zip(columns, arrow_schema(columns), strict=True):
        if column.name in withheld:
            continue
        strategy = strategy_of(column)
        if strategy is None:
            fields.append(field)
        elif strategy != PiiStrategy.DROP:
            fields.append(pa.field(field.name, pa.string(), nullable=field.nullable))
    return pa.schema(fields)


def sensitive_schema(
    columns: Sequence[Column], primary_key: Sequence[str], raw: Sequence[str] = ()
) -> pa.Schema | None:
    """Primary key plus the raw `sensitive` columns and the `raw` (undeclared) ones, or None when there are none."""
    sensitive = [c.name for c in columns if strategy_of(c) == PiiStrategy.SENSITIVE or c.name in raw]
    if not sensitive:
        return None
    schema = arrow_schema(columns)
    return pa.schema([schema.field(name) for name in (*primary_key, *sensitive)])


def _as_bytes(array: pa.Array) -> pa.Array:
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return array
    text = array if pa.types.is_string(array.type) else pc.cast(array, pa.string())
    return text.cast(pa.binary())  # same buffers, viewed as bytes


def hmac_hex(array: pa.Array, key: HashKey) -> pa.Array:
    """HMAC-SHA-256 hex of each value. Each distinct value is hashed once (dictionary encoding), NULLs stay NULL."""
    encoded = pc.dictionary_encode(_as_bytes(array))
    secret = key.secret
    digests = [hmac.digest(secret, value, "sha256").hex() for value in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(digests, pa.string()), encoded.indices)


def redact(array: pa.Array) -> pa.Array:
    constant = pa.nulls(len(array), pa.string()).fill_null(REDACTED)
    return pc.if_else(pc.is_valid(array), constant, pa.scalar(None, pa.string()))


def associated_data(source: str, entity: str, column: str) -> bytes:
    return f"{source}.{entity}.{column}".encode()


def encrypt(array: pa.Array, keyring: EncryptionKeyring, aad: bytes) -> pa.Array:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = AESGCM(keyring.active)
    prefix = f"{TOKEN_VERSION}.{keyring.active_id}."
    tokens: list[str | None] = []
    for value in _as_bytes(array).to_pylist():
        if value is None:
            tokens.append(None)
            continue
        nonce = os.urandom(NONCE_BYTES)  # random per value: AES-GCM must never reuse a nonce under one key
        sealed = nonce + cipher.encrypt(nonce, value, aad)
        tokens.append(prefix + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode())
    return pa.array(tokens, pa.string())


def decrypt_token(token: str, keyring: EncryptionKeyring, aad: bytes) -> bytes:
    """The raw value's bytes (UTF-8 text for non-binary columns). Old tokens decrypt with `previous_keys`."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, _, rest = token.partition(".")
    key_id, _, payload = rest.partition(".")
    if version != TOKEN_VERSION or not payload:
        raise ValueError(f"not a {TOKEN_VERSION} PII token")
    if key_id not in keyring.keys:
        raise PiiKeyError(f"the token was encrypted with key {key_id!r}, which the keyring does not hold")
    sealed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    try:
        return AESGCM(keyring.keys[key_id]).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise ValueError("the token does not decrypt: wrong key, wrong column, or altered") from None


class PiiMasker:
    """Masks one entity's batches. Build it once per run, with the keys loaded before extraction."""

    def __init__(
        self,
        *,
        source: str,
        entity: str,
        columns: Sequence[Column],
        primary_key: Sequence[str],
        keys: PiiKeys,
        withheld: Collection[str] = (),
        raw: Sequence[str] = (),
    ) -> None:
        """`withheld`: columns the general zone never gets; `raw`: columns that land raw in the sensitive container
        (see withheld_from_general and raw_to_sensitive)."""
        self.source = source
        self.entity = entity
        self.strategies = {c.name: s for c in columns if (s := strategy_of(c)) is not None}
        self.keys = keys
        self.withheld = frozenset(withheld)
        self.schema = general_schema(columns, self.withheld)
        self.sensitive_schema = sensitive_schema(columns, primary_key, raw)
        self.primary_key = tuple(primary_key)
        for name, strategy in self.strategies.items():
            if strategy == PiiStrategy.HASH and keys.hash_key is None:
                raise PiiKeyError(f"{source}.{entity}.{name}: pii_strategy hash needs the HMAC key")
            if strategy == PiiStrategy.ENCRYPT and keys.keyring is None:
                raise PiiKeyError(f"{source}.{entity}.{name}: pii_strategy encrypt needs the encryption key")

    @property
    def masks_anything(self) -> bool:
        return bool(self.strategies or self.withheld)

    def _mask(self, name: str, array: pa.Array) -> pa.Array:
        strategy = self.strategies[name]
        if strategy == PiiStrategy.HASH:
            assert self.keys.hash_key is not None
            return hmac_hex(array, self.keys.hash_key)
        if strategy == PiiStrategy.ENCRYPT:
            assert self.keys.keyring is not None
            return encrypt(array, self.keys.keyring, associated_data(self.source, self.entity, name))
        return redact(array)  # redact, and sensitive outside the sensitive container

    def general(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch as the general zone and Kafka may see it."""
        if not self.masks_anything:
            return batch
        columns = []
        for name in self.schema.names:
            array = batch.column(name)
            columns.append(self._mask(name, array) if name in self.strategies else array)
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def sensitive(self, batch: pa.RecordBatch) -> pa.RecordBatch | None:
        """Primary key and raw sensitive values, for the sensitive container; None when the entity has none."""
        if self.sensitive_schema is None:
            return None
        return pa.RecordBatch.from_arrays(
            [batch.column(name) for name in self.sensitive_schema.names], schema=self.sensitive_schema
        )
