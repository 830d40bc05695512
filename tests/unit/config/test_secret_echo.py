"""No validation error quotes a secret: a URI whose password holds `/` or `@` is found and masked whole, and an unknown
key, or a key named like a secret, is named without its value.

Each case plants SECRET in a copy of crm.json and asserts it appears in no error, while the error still names the file
and the JSON path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ingestion.config.config_files import json_path_step
from ingestion.config.credentials import mask_credentials
from ingestion.config.loader import LoadResult, load_configs
from tests.sample_configs import sample_config_dir

SAMPLES_DIR = sample_config_dir()
SECRET = "Hunter2-Secret"


def _load_with(tmp_path: Path, change: Any, source: str = "crm") -> LoadResult:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder)
    data = json.loads((folder / f"{source}.json").read_text())
    change(data)
    (folder / f"{source}.json").write_text(json.dumps(data))
    return load_configs(folder, "dev")


def _messages(result: LoadResult) -> str:
    return "\n".join(str(e) for e in result.errors)


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://loader:Pa/ss9x{secret}@db.internal:5432/crm",  # a slash in the password
        "postgresql://loader:Pa@ss9x{secret}@db.internal:5432/crm",  # an @ in the password
        "mysql://loader:a:b/c@d{secret}@10.0.0.7/shop",
    ],
)
def test_a_uri_whose_password_holds_a_slash_or_an_at_is_refused_and_never_echoed(tmp_path: Path, uri: str) -> None:
    uri = uri.format(secret=SECRET)

    result = _load_with(tmp_path, lambda crm: crm.update(conn_id=uri))

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", "$.conn_id")]
    assert "looks like a URI with a password" in result.errors[0].message
    assert SECRET not in _messages(result)
    assert "loader" not in _messages(result)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://loader:Pa@ss9x@db.internal/crm", "postgresql://***@db.internal/crm"),
        ("postgresql://loader:Pa/ss9x@db.internal/crm", "postgresql://***@db.internal/crm"),
        ("got redis://:p@ss@cache:6379/0; next", "got redis://***@cache:6379/0; next"),
    ],
)
def test_masking_takes_the_password_up_to_the_last_at_before_the_host(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "https://host:8443/x?owner=a@b.com",
        "https://host:8443?owner=a@b.com",
        "http://[::1]:8080/x?owner=a@b.com",
        "http://wiki.example.com/page?by=a@b.com",
    ],
)
def test_an_address_in_a_query_string_is_still_not_taken_for_a_password(text: str) -> None:
    assert mask_credentials(text) == text


@pytest.mark.parametrize("key", ["pwd", "passphrase", "access_token", "db_passwd2", "pass_code", "colour"])
def test_an_unknown_key_is_named_without_its_value(tmp_path: Path, key: str) -> None:
    result = _load_with(tmp_path, lambda crm: crm["owners"].update({key: SECRET}))

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", f"$.owners.{key}")]
    assert SECRET not in _messages(result)
    assert "(got" not in _messages(result)


def test_an_unknown_object_is_named_without_its_content(tmp_path: Path) -> None:
    result = _load_with(tmp_path, lambda crm: crm.setdefault("landing", {}).update(auth={"user": "u", "pass": SECRET}))

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", "$.landing.auth")]
    assert SECRET not in _messages(result)


@pytest.mark.parametrize("key", ["session_token", "x-api-key", "sig", "db_password_2", "Credential"])
def test_a_wrong_value_under_a_key_that_looks_secret_is_not_echoed(tmp_path: Path, key: str) -> None:
    # A REST query parameter is text; a number pasted there fails its type, and must not be quoted if the parameter's
    # name says it is a secret.
    result = _load_with(
        tmp_path,
        lambda api: api["entities"][0]["locator"].setdefault("params", {}).update({key: 84736251}),
        "orders_api",
    )

    assert [(Path(e.file).name, e.path) for e in result.errors] == [
        ("orders_api.json", f"$.entities[0].locator.params{json_path_step(key)}")
    ]
    assert "Input should be a valid string" in result.errors[0].message
    assert "84736251" not in _messages(result)


def test_other_wrong_values_are_still_quoted(tmp_path: Path) -> None:
    result = _load_with(tmp_path, lambda crm: crm.update(catchup="sometimes"))

    assert [str(e).split(": ", 1)[1] for e in result.errors] == [
        '$.catchup: Input should be a valid boolean, unable to interpret input (got "sometimes")'
    ]
