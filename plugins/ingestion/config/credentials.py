"""What looks like a credential in a config file, and masking such text in every error the loader reports.

Configs name Airflow connection ids; a credential in a config would be committed to the repository and shown in the
UI. Two signs are looked for in every file that is merged (sources, `_defaults.json`, every overlay): a key named like
a secret (`password`, `token`, ...), and a value that carries one (a URI with a password, an Azure connection string
with its key). Errors name the JSON path, never the value.
"""

from __future__ import annotations

import re
from typing import Any

from ingestion.config.config_files import json_path_step
from ingestion.config.models import SECRET_KEYS

# scheme://user:password@ (the user may be empty: redis://:pw@host). The password runs to the last `@` of the text (a
# password may hold `/`, `:` and `@`: masking stops at none of them). What follows `user:` is no password when it is a
# port followed by a path or query (host:8443/x?owner=a@b.com, [::1]:8080/x?...): an address in a query string is
# not a credential.
URI_WITH_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:\"']*:(?!(?:[^\s/@\"']*:)?\d+[/?#])[^\s\"']+@")
# Keys whose value no error quotes, found or not as a credential: a substring match, so that `db_password_2` or
# `x-api-key` stay unquoted too. A false match only costs an error without the offending value.
SECRET_LOOKING_KEY = re.compile(r"token|passw|pwd|secret|api[-_]?key|passphrase|sig|credential", re.IGNORECASE)
AZURE_KEY = re.compile(r"\b(AccountKey|SharedAccessKey)=[^;\s\"']*", re.IGNORECASE)
_CREDENTIAL_KEY_MESSAGE = (
    "looks like a credential: configs name connection ids, secrets belong in Airflow connections or the secrets backend"
)
_URI_MESSAGE = (
    "looks like a URI with a password: name an Airflow connection id instead and keep the URI in that connection "
    "or the secrets backend (the value is not shown)"
)
_AZURE_MESSAGE = (
    "looks like an Azure storage key (a connection string with AccountKey or SharedAccessKey): name an Airflow "
    "connection id instead (the value is not shown)"
)


def find_credentials(data: Any, root: str = "$") -> list[tuple[str, str]]:
    """(JSON path, why) of every credential-looking key or value under `data`, in document order.

    A loop with an explicit stack: the file's depth is already bounded, but this walk must not depend on it."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            children = []
            for key, child in value.items():
                child_path = path + json_path_step(key)
                if key.lower() in SECRET_KEYS:
                    found.append((child_path, _CREDENTIAL_KEY_MESSAGE))
                elif (why := _value_problem(key)) is not None:
                    found.append((path, f"a key {why}"))
                children.append((child_path, child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{index}]", child) for index, child in enumerate(value)]))
        elif isinstance(value, str) and (why := _value_problem(value)) is not None:
            found.append((path, why))
    return found


def without_credentials(data: Any) -> Any:
    """A copy of `data` with every value under a credential-looking key replaced by `***`, and every URI password or
    Azure key in a key or value masked: a file holding a credential is still validated, so its other errors are
    listed too, and no validation message can echo the secret. Recursive: read_config_file bounds the depth."""
    if isinstance(data, dict):
        return {
            mask_credentials(key): "***" if key.lower() in SECRET_KEYS else without_credentials(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [without_credentials(value) for value in data]
    if isinstance(data, str):
        return mask_credentials(data)
    return data


def _value_problem(text: str) -> str | None:
    if URI_WITH_PASSWORD.search(text):
        return _URI_MESSAGE
    if AZURE_KEY.search(text):
        return _AZURE_MESSAGE
    return None


def looks_secret(key: str) -> bool:
    """Whether a key's name says its value may be a secret (see SECRET_LOOKING_KEY)."""
    return SECRET_LOOKING_KEY.search(key) is not None


def mask_credentials(text: str) -> str:
    """`text` with the user and password of every URI, and every Azure key, replaced by ***."""
    if "://" in text:
        text = URI_WITH_PASSWORD.sub(lambda m: m.group().split("://", 1)[0] + "://***@", text)
    if "=" in text:
        text = AZURE_KEY.sub(lambda m: m.group(1) + "=***", text)
    return text
