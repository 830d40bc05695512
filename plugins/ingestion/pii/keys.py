"""The keys PII masking needs, read from Airflow connections at execute time (so through the secrets backend).

- HMAC key for `hash`: connection `pii.hash_key_conn_id` (default `pii_hash_key`); the password is the key (at least
  32 bytes of UTF-8). Optional extra `key_id` names the key generation; it is recorded in the run's manifest.
- Keyring for `encrypt`: connection `pii.encryption_key_conn_id` (default `pii_encryption_key`); the password is a
  base64 AES-256 key (32 bytes), extra `key_id` its id (default `k1`), and extra `previous_keys`
  (`{"<id>": "<base64 key>"}`) older keys that are still needed to decrypt values written before a rotation.

Keys are loaded before extraction starts, so a missing or malformed key fails the task before any row is read.
Key objects never print their secrets.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingestion.pii.errors import PiiKeyError

MIN_HASH_KEY_BYTES = 32
AES_KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DEFAULT_HASH_KEY_ID = "default"
DEFAULT_ENCRYPTION_KEY_ID = "k1"


@dataclass(frozen=True)
class HashKey:
    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class EncryptionKeyring:
    active_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @property
    def active(self) -> bytes:
        return self.keys[self.active_id]


@dataclass(frozen=True)
class PiiKeys:
    hash_key: HashKey | None = None
    keyring: EncryptionKeyring | None = None

    def ids(self) -> dict[str, str]:
        """Which key generations a run used, for its manifest (ids only, never the keys)."""
        ids = {}
        if self.hash_key is not None:
            ids["hash"] = self.hash_key.key_id
        if self.keyring is not None:
            ids["encrypt"] = self.keyring.active_id
        return ids


# (password, extra) of a connection, or None when there is no such connection. A function, so unit tests can hand
# in connections without Airflow.
ConnectionLookup = Callable[[str], "tuple[str | None, dict[str, Any]] | None"]


def airflow_connection_lookup(conn_id: str) -> tuple[str | None, dict[str, Any]] | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return conn.password, conn.extra_dejson


def _key_id(value: Any, default: str, conn_id: str) -> str:
    key_id = str(value) if value is not None else default
    if not KEY_ID_PATTERN.match(key_id):
        raise PiiKeyError(f"connection {conn_id!r}: extra key_id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
    return key_id


def _aes_key(text: str, conn_id: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != AES_KEY_BYTES:
        raise PiiKeyError(
            f"connection {conn_id!r}: {what} must be a base64 AES-256 key ({AES_KEY_BYTES} bytes); generate one with "
            '`python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"`'
        )
    return key


def _password_and_extra(
    conn_id: str, lookup: ConnectionLookup, needed_by: str, key: str, form: str
) -> tuple[str, dict[str, Any]]:
    """The connection's password (the key) and extra, or PiiKeyError saying who needs which key where."""
    found = lookup(conn_id)
    if found is None or not found[0]:
        problem = "there is no such connection" if found is None else "it has no password"
        raise PiiKeyError(
            f"{needed_by} need(s) the {key} in Airflow connection {conn_id!r} ({form}), but {problem}; "
            "nothing was extracted"
        )
    return found[0], found[1]


def load_hash_key(conn_id: str, lookup: ConnectionLookup, needed_by: str) -> HashKey:
    form = f"its password, at least {MIN_HASH_KEY_BYTES} bytes"
    password, extra = _password_and_extra(conn_id, lookup, needed_by, "HMAC key", form)
    secret = password.encode()
    if len(secret) < MIN_HASH_KEY_BYTES:
        raise PiiKeyError(
            f"connection {conn_id!r}: the HMAC key is {len(secret)} bytes; use at least {MIN_HASH_KEY_BYTES} "
            "random bytes; nothing was extracted"
        )
    return HashKey(_key_id(extra.get("key_id"), DEFAULT_HASH_KEY_ID, conn_id), secret)


def load_keyring(conn_id: str, lookup: ConnectionLookup, needed_by: str) -> EncryptionKeyring:
    form = "its password, a base64 AES-256 key"
    password, extra = _password_and_extra(conn_id, lookup, needed_by, "encryption key", form)
    active_id = _key_id(extra.get("key_id"), DEFAULT_ENCRYPTION_KEY_ID, conn_id)
    keys = {active_id: _aes_key(password, conn_id, "the password")}
    previous = extra.get("previous_keys") or {}
    if not isinstance(previous, dict):
        raise PiiKeyError(f"connection {conn_id!r}: extra previous_keys must be an object of key id -> base64 key")
    for key_id, text in previous.items():
        key_id = _key_id(key_id, DEFAULT_ENCRYPTION_KEY_ID, conn_id)
        if key_id == active_id:
            raise PiiKeyError(f"connection {conn_id!r}: previous_keys repeats the active key id {key_id!r}")
        keys[key_id] = _aes_key(str(text), conn_id, f"previous_keys[{key_id!r}]")
    return EncryptionKeyring(active_id, keys)


def load_pii_keys(
    *,
    where: str,
    columns: Any,
    hash_key_conn_id: str,
    encryption_key_conn_id: str,
    lookup: ConnectionLookup = airflow_connection_lookup,
) -> PiiKeys:
    """The keys the columns' strategies need, and only those (`where` is `<source>.<entity>`, for the errors)."""
    hashed = [c.name for c in columns if c.pii and c.pii_strategy == "hash"]
    encrypted = [c.name for c in columns if c.pii and c.pii_strategy == "encrypt"]
    return PiiKeys(
        hash_key=load_hash_key(hash_key_conn_id, lookup, f"{where}: hashed column(s) {hashed}") if hashed else None,
        keyring=(
            load_keyring(encryption_key_conn_id, lookup, f"{where}: encrypted column(s) {encrypted}")
            if encrypted
            else None
        ),
    )
