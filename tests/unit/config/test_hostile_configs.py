"""Hostile config folders: whatever a file holds, the loader reports it by file and position and never raises.

The corpus is a table of mutations applied to the sample configs, `_defaults.json` and the environment overlays
(wrong types, missing and unknown keys, bad cron, bad identifiers, duplicates, credentials in every file, huge files,
non-UTF-8 bytes, deep nesting, broken JSON). Each case asserts: no exception leaves `load_configs`, an error names the
mutated file and the JSON path (or, for text that is not JSON yet, the line and column), no credential value is
echoed, and every sample that does not merge the mutated file still loads. A source that merges an unusable
`_defaults.json` or overlay of its environment is not loaded: without that file it would run with other settings.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestion.config.config_files import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH
from ingestion.config.loader import MAX_ERRORS_PER_CONFIG, ConfigError, LoadResult, load_configs
from ingestion.config.models import SECRET_KEYS
from ingestion.config.oncall import load_oncall
from ingestion.errors import InvalidSourceConfigError
from tests.sample_configs import SAMPLES, sample_config_dir

SAMPLES_DIR = sample_config_dir()
SECRET = "S3cr3t-Pw-0x41"  # every credential value the corpus plants; no error may contain it
URI = f"postgresql://crm_loader:{SECRET}@db.internal.example.com:5432/crm"


def _sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.json").read_text())
    return data


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "source_configs"
    shutil.copytree(SAMPLES_DIR, folder, ignore=shutil.ignore_patterns("schema", "README.md"))
    return folder


def _messages(result: LoadResult) -> str:
    return "\n".join(str(e) for e in result.errors)


# -- credentials in every merged file, and a URI pasted into conn_id ---------------------------------------------------


def test_a_credential_key_in_the_defaults_is_refused_by_file_and_path_and_no_source_loads_without_them(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    defaults = json.loads((folder / "_defaults.json").read_text())
    defaults["kafka"]["sas_token"] = SECRET
    (folder / "_defaults.json").write_text(json.dumps(defaults))

    result = load_configs(folder, "dev")

    error, *refused = result.errors
    assert (Path(error.file).name, error.path) == ("_defaults.json", "$.kafka.sas_token")
    assert error.message.startswith("looks like a credential")
    assert SECRET not in _messages(result)
    # Leaving the defaults out would run every source with other settings (lake connection, alert channels).
    assert result.configs == {}
    assert [(Path(e.file).name, e.path) for e in refused] == [(f"{s}.json", "$") for s in SAMPLES]
    assert all(e.message == "not loaded: it merges _defaults.json, which has errors" for e in refused)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_credential_key_in_any_overlay_is_refused_by_file_and_path(tmp_path: Path, env: str) -> None:
    # Every overlay is checked, not only the current environment's: CI validates in dev, and a secret committed in
    # the prod overlay must fail there too.
    folder = _folder(tmp_path)
    (folder / "overlays" / "prod.json").write_text(
        json.dumps({"*": {"retries": {"count": 4}, "token": SECRET}, "crm": {"landing": {"api_key": SECRET}}})
    )

    result = load_configs(folder, env)

    own = [e for e in result.errors if Path(e.file).name == "prod.json"]
    assert [e.path for e in own] == ['$["*"].token', "$.crm.landing.api_key"]
    assert all(e.message.startswith("looks like a credential") for e in own)
    assert SECRET not in _messages(result)
    refused = [e for e in result.errors if e not in own]
    if env == "dev":
        assert (sorted(result.configs), refused) == (list(SAMPLES), [])
    else:  # the environment whose overlay it is: no source is loaded without it
        assert result.configs == {}
        assert [Path(e.file).name for e in refused] == [f"{s}.json" for s in SAMPLES]
        assert {e.message for e in refused} == {"not loaded: it merges overlays/prod.json, which has errors"}


def test_a_connection_uri_in_conn_id_is_refused_without_echoing_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["conn_id"] = URI
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, "dev")

    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("crm.json", "$.conn_id")
    assert "looks like a URI with a password" in error.message
    assert SECRET not in _messages(result)
    assert "crm_loader" not in _messages(result)
    assert sorted(result.configs) == ["orders_api", "partner_files"]


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("kafka", "conn_id"), "kafka://svc:{secret}@broker:9092", "$.kafka.conn_id"),
        (("description",), "a mirror of mysql://root:{secret}@10.0.0.7/shop", "$.description"),
        (("tags",), ["redis://:{secret}@cache:6379/0"], "$.tags[0]"),
        (("entities", 0, "description"), "from postgres://u:{secret}@h/db", "$.entities[0].description"),
        (
            ("landing", "conn_id"),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={secret}",
            "$.landing.conn_id",
        ),
    ],
)
def test_a_credential_value_anywhere_is_refused_and_never_echoed(
    tmp_path: Path, where: tuple[str | int, ...], value: Any, path: str
) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    _put(crm, where, json.loads(json.dumps(value).replace("{secret}", SECRET)))
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, "dev")

    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", path)]
    assert result.errors[0].message.startswith("looks like")
    assert SECRET not in _messages(result)


def test_a_key_that_is_a_uri_with_a_password_is_refused_and_never_echoed(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["entities"][0]["locator"][URI] = "x"
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", "$.entities[0].locator")]
    assert result.errors[0].message.startswith("a key looks like a URI with a password")
    assert SECRET not in _messages(result)


def test_every_error_text_is_masked_whatever_produced_it() -> None:
    error = ConfigError(f"/c/{URI}.json", f'$["{URI}"]', f"got {URI}; AccountKey={SECRET};x=1")
    assert SECRET not in str(error)
    assert "crm_loader" not in str(error)
    assert error.message == "got postgresql://***@db.internal.example.com:5432/crm; AccountKey=***;x=1"


def test_a_url_with_a_port_and_an_address_in_its_query_is_not_taken_for_a_password(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["description"] = "Runbook: https://wiki.example.com:8443/crm?owner=ana.lima@example.com"
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert result.errors == []


def test_a_value_error_from_an_overlay_names_the_overlay_and_its_path(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "overlays" / "dev.json").write_text(json.dumps({"*": {"retries": {"count": -1}}}))

    result = load_configs(folder, "dev")

    assert result.configs == {}  # every source takes the value
    assert {(Path(e.file).name, e.path) for e in result.errors} == {("dev.json", '$["*"].retries.count')}
    assert sorted(e.message.rsplit("merged into ", 1)[1] for e in result.errors) == [f"{s}.json)" for s in SAMPLES]


# -- bytes, nesting and size ------------------------------------------------------------------------------------------


def test_a_config_saved_as_latin_1_is_reported_with_its_byte_offset_and_the_others_load(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["description"] = "Kühe und Bäume"
    text = json.dumps(crm, ensure_ascii=False)
    (folder / "crm.json").write_bytes(text.encode("latin-1"))
    offset = text.encode("latin-1").index(b"\xfc")

    result = load_configs(folder, "dev")

    (error,) = result.errors
    assert Path(error.file).name == "crm.json"
    assert error.path == f"line 1 column {offset + 1}"
    assert f"not UTF-8: byte 0xfc at byte offset {offset}" in error.message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


def test_a_utf_8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "crm.json").write_bytes(b"\xef\xbb\xbf" + (SAMPLES_DIR / "crm.json").read_bytes())
    result = load_configs(folder, "dev")
    assert result.errors == []
    assert sorted(result.configs) == list(SAMPLES)


@pytest.mark.parametrize("depth", [MAX_CONFIG_DEPTH, 900, 100_000])
def test_deep_nesting_is_refused_at_its_position_and_the_others_load(tmp_path: Path, depth: int) -> None:
    folder = _folder(tmp_path)
    prefix = '{"name": "crm", "x": '
    (folder / "crm.json").write_text(prefix + "[" * depth + "]" * depth + "}")

    result = load_configs(folder, "dev")

    (error,) = result.errors
    assert Path(error.file).name == "crm.json"
    # The first bracket past the limit: the document itself is level 1.
    assert error.path == f"line 1 column {len(prefix) + MAX_CONFIG_DEPTH}"
    assert f"nests deeper than {MAX_CONFIG_DEPTH} levels" in error.message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    # The one place a config takes values of any shape: accepted values of a json column (levels 7 and deeper).
    crm["entities"][0]["columns"].append({"name": "doc", "type": "json"})
    nested = json.loads("[" * (MAX_CONFIG_DEPTH - 7) + "]" * (MAX_CONFIG_DEPTH - 7))
    crm["entities"][0]["checks"].append({"kind": "accepted_values", "columns": ["doc"], "params": {"values": nested}})
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert result.errors == []


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["description"] = "[{" * 5000 + '\\"[' * 100
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert result.errors == []
    assert result.configs["crm"].description == crm["description"]


def test_a_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with (folder / "crm.json").open("w") as handle:
        handle.write('{"name": "crm", "description": "')
        handle.write("x" * (MAX_CONFIG_BYTES + 10))
        handle.write('"}')

    result = load_configs(folder, "dev")

    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("crm.json", "$")
    assert f"a config file may be at most {MAX_CONFIG_BYTES // (1024 * 1024)} MiB" in error.message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


def test_something_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "zero.json").symlink_to("/dev/zero")  # would never end if it were read
    result = load_configs(folder, "dev")
    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("zero.json", "$")
    assert "not a regular file" in error.message


@pytest.mark.parametrize(
    ("folder_name", "refused"),
    [
        ("new_source.json", []),
        ("_defaults.json", list(SAMPLES)),  # no source is loaded without its defaults
        ("overlays/dev.json", list(SAMPLES)),  # nor without its environment's overlay
        ("overlays/qa.json", []),
    ],
)
def test_a_folder_named_like_a_config_is_refused_by_name(tmp_path: Path, folder_name: str, refused: list[str]) -> None:
    folder = _folder(tmp_path)
    target = folder / folder_name
    if target.exists():
        target.unlink()
    target.mkdir()

    result = load_configs(folder, "dev")

    error, *others = result.errors
    assert (str(Path(error.file).relative_to(folder)), error.path) == (folder_name, "$")
    assert error.message == "is a folder, not a file"
    assert [Path(e.file).stem for e in others] == refused
    assert sorted(result.configs) == sorted(set(SAMPLES) - set(refused))


def test_a_folder_named_like_the_oncall_file_is_refused_by_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "_oncall.json").unlink()
    (folder / "_oncall.json").mkdir()

    with pytest.raises(InvalidSourceConfigError, match=r"_oncall\.json: \$: is a folder, not a file"):
        load_oncall(folder)


def test_a_fifo_named_like_a_config_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    os.mkfifo(folder / "pipe.json")  # opening it for reading would block until a writer comes
    result = load_configs(folder, "dev")
    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("pipe.json", "$")
    assert "not a regular file" in error.message
    assert sorted(result.configs) == list(SAMPLES)


def test_a_dangling_link_as_defaults_is_an_error_not_a_folder_without_defaults(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "_defaults.json").unlink()
    (folder / "_defaults.json").symlink_to(folder / "gone.json")
    result = load_configs(folder, "dev")
    first, *refused = result.errors
    assert (Path(first.file).name, first.path) == ("_defaults.json", "$")
    assert "cannot read: No such file or directory" in first.message
    assert result.configs == {}
    assert len(refused) == len(SAMPLES)


def test_a_file_name_that_is_not_utf_8_is_reported_in_printable_form(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    name = os.fsdecode(b"k\xfche.json")
    (folder / name).write_text(json.dumps({**_sample("crm"), "name": "kuehe"}))
    result = load_configs(folder, "dev")
    (error,) = [e for e in result.errors if "he.json" in e.file]
    assert error.file.endswith("k\\udcfche.json")
    error.file.encode("utf-8")  # storable and printable, unlike the surrogate in the file name
    assert "must match the file name" in error.message


def test_a_list_of_a_million_wrong_values_gives_a_bounded_error_list(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["tags"] = list(range(100_000))
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert len(result.errors) == MAX_ERRORS_PER_CONFIG + 1
    assert all(e.path.startswith("$.tags[") for e in result.errors[:-1])
    assert (result.errors[-1].path, result.errors[-1].message) == (
        "$",
        f"{100_000 - MAX_ERRORS_PER_CONFIG} more errors not shown (fix these first)",
    )


@pytest.mark.parametrize(
    ("where", "value", "path", "message"),
    [
        # Each of these made a validator raise something pydantic does not turn into an error, out of the loader.
        (
            ("entities", 0, "checks", 2, "params", "pattern"),
            "(" * 5000 + ")" * 5000,
            "$.entities[0].checks[2]",
            "does not compile",
        ),
        (("source_timezone",), "Europe/" + "x" * 5000, "$.source_timezone", "unknown time zone"),
        (("kafka", "topic_template"), "ingest.{source}.{entity}}", "$.kafka.topic_template", "has a brace"),
        (("kafka", "topic_template"), "ingest.{", "$.kafka.topic_template", "has a brace"),
        (("kafka", "topic_template"), "ingest.{{source}}", "$.kafka.topic_template", "may use {source} and {entity}"),
    ],
)
def test_values_that_made_a_validator_raise_are_errors(
    tmp_path: Path, where: tuple[str | int, ...], value: str, path: str, message: str
) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    _put(crm, where, value)
    (folder / "crm.json").write_text(json.dumps(crm))
    result = load_configs(folder, "dev")
    assert [(Path(e.file).name, e.path) for e in result.errors] == [("crm.json", path)]
    assert message in result.errors[0].message
    assert sorted(result.configs) == ["orders_api", "partner_files"]


def test_a_file_pattern_regex_nested_too_deep_is_an_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    files = _sample("partner_files")
    files["entities"][0]["locator"]["file_pattern"] = "re:" + "(" * 5000 + ")" * 5000
    (folder / "partner_files.json").write_text(json.dumps(files))
    result = load_configs(folder, "dev")
    assert [(Path(e.file).name, e.path) for e in result.errors] == [
        ("partner_files.json", "$.entities[0].locator.file_pattern")
    ]
    assert "does not compile" in result.errors[0].message


def test_an_integer_too_long_to_convert_is_an_error_not_an_exception(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "crm.json").write_text('{"name": "crm", "retries": {"count": ' + "9" * 5000 + "}}")
    result = load_configs(folder, "dev")
    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("crm.json", "$")
    assert "invalid JSON" in error.message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1.5e400"])
def test_a_number_that_is_not_finite_is_refused_at_its_position(tmp_path: Path, literal: str) -> None:
    # Python's json reads NaN and Infinity, and 1e999 as inf: a range check against one never fails, and a retry
    # multiplier of inf reaches Airflow. Text like "NaN" inside a string, before it, is no number.
    folder = _folder(tmp_path)
    text = '{"name": "crm", "description": "NaN 1e999",\n "retries": {"backoff_multiplier": ' + literal + "}}"
    (folder / "crm.json").write_text(text)
    result = load_configs(folder, "dev")
    (error,) = [e for e in result.errors if Path(e.file).name == "crm.json"]
    assert error.path == "line 2 column 36"
    assert f"{literal} is not a finite number" in error.message
    assert sorted(result.configs) == sorted(_others("crm"))


def test_a_non_finite_number_in_check_params_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["entities"][0]["checks"] = [{"kind": "range", "columns": ["customer_id"], "params": {"min": 0, "max": 1e999}}]
    (folder / "crm.json").write_text(json.dumps(crm))  # json.dumps writes inf as Infinity
    result = load_configs(folder, "dev")
    (error,) = [e for e in result.errors if Path(e.file).name == "crm.json"]
    assert error.path.startswith("line ")
    assert "Infinity is not a finite number" in error.message


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_an_overlay_entry_for_no_source_is_refused_and_the_sources_still_load(tmp_path: Path, env: str) -> None:
    folder = _folder(tmp_path)
    prod = json.loads((folder / "overlays" / "prod.json").read_text())
    prod["crn"] = prod.pop("crm")  # a typo: crm's critical severity would be silently missing
    (folder / "overlays" / "prod.json").write_text(json.dumps(prod))

    result = load_configs(folder, env)

    assert [str(e).removeprefix(f"{folder}/") for e in result.errors] == [
        "overlays/prod.json: $.crn: no source named 'crn'"
    ]
    assert sorted(result.configs) == list(SAMPLES)


def test_the_sample_overlays_name_only_sources_of_the_folder() -> None:
    for env in ("dev", "prod"):
        assert load_configs(SAMPLES_DIR, env).errors == []


def test_an_overlay_entry_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "overlays" / "dev.json").write_text(json.dumps({"*": ["retries"], "crm": "x"}))
    result = load_configs(folder, "dev")
    own = [(Path(e.file).name, e.path) for e in result.errors if Path(e.file).name == "dev.json"]
    assert own == [("dev.json", '$["*"]'), ("dev.json", "$.crm")]
    assert result.configs == {}  # "*" applies to every source


# -- a cursor that is not a column ------------------------------------------------------------------------------------


def test_a_cursor_column_that_is_not_declared_is_refused_at_load(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    crm = _sample("crm")
    crm["entities"][1]["load"]["cursor_column"] = "placed_at"
    (folder / "crm.json").write_text(json.dumps(crm))

    result = load_configs(folder, "dev")

    (error,) = result.errors
    assert (Path(error.file).name, error.path) == ("crm.json", "$.entities[1]")
    assert "load.cursor_column 'placed_at' is not among the declared columns" in error.message


# -- the corpus -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the mutated file, relative to the config folder
    mutate: Callable[[Path], None]
    path: str  # the JSON path (or line and column) an error of `file` must name
    message: str  # a fragment of that error's message
    loads: tuple[str, ...]  # the sources that must still load


def _put(data: Any, where: tuple[str | int, ...], value: Any) -> None:
    for step in where[:-1]:
        data = data.setdefault(step, {}) if isinstance(step, str) else data[step]
    data[where[-1]] = value


def _drop(data: Any, where: tuple[str | int, ...]) -> None:
    for step in where[:-1]:
        data = data[step]
    del data[where[-1]]


def _path(where: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in where)


def _others(sample: str) -> tuple[str, ...]:
    return tuple(s for s in SAMPLES if s != sample)


def _edit_json(file: str, base: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        data = copy.deepcopy(base)
        edit(data)
        (folder / file).write_text(json.dumps(data))

    return mutate


def _write_text(file: str, text: Callable[[], str], encoding: str = "utf-8") -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / file).write_bytes(text().encode(encoding))

    return mutate


def _write_bytes(file: str, data: Callable[[], bytes]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / file).write_bytes(data())

    return mutate


E0 = ("entities", 0)
COL0 = (*E0, "columns", 0)
WRONG_TYPES: list[tuple[tuple[str | int, ...], Any, str]] = [
    (("name",), 123, "valid string"),
    (("owners",), "crm-data", "valid dictionary"),
    (("owners", "team"), ["a"], "valid string"),
    (("owners", "primary"), "", "at least 1 character"),
    (("schedule",), 5, "valid string"),
    (("start_date",), "yesterday", "valid datetime"),
    (("start_date",), 1.5e300, "valid datetime"),
    (("catchup",), "sometimes", "valid boolean"),
    (("tags",), "crm", "valid tuple"),
    (("kind",), "nosql", "Input should be 'sql', 'http' or 'sftp'"),
    (("conn_id",), 42, "valid string"),
    (("conn_id",), "has space", "should match pattern"),
    (("entities",), {}, "valid tuple"),
    (("entities",), [], "at least 1 item"),
    ((*E0,), "customers", "valid dictionary"),
    ((*COL0, "nullable"), "perhaps", "valid boolean"),  # not "no": pydantic reads that as false
    ((*COL0, "type"), "money", "unknown column type 'money'"),
    ((*COL0, "pii"), 1.5, "valid boolean"),
    ((*E0, "primary_key"), "id", "valid tuple"),
    ((*E0, "load", "mode"), "sometimes", "Input should be 'full', 'incremental' or 'interval'"),
    ((*E0, "load", "lookback_minutes"), -5, "greater than or equal to 0"),
    ((*E0, "schema_drift"), "ignore", "Input should be 'fail', 'warn' or 'evolve'"),
    ((*E0, "description"), ["x"], "valid string"),
    # Not retries.count, delay_seconds or alerts.severity: the dev overlay sets those, and its values win.
    (("retries", "backoff_multiplier"), 0.5, "greater than or equal to 1"),
    (("retries", "max_delay_minutes"), "three", "valid integer"),
    (("retries", "max_delay_minutes"), 1.5, "valid integer"),
    (("kafka", "partitions"), 0, "greater than or equal to 1"),
    (("kafka", "publish_timeout_seconds"), 100_000, "at most 840"),
    (("landing", "container"), "Bad_Name", "should match pattern"),
    (("landing", "format"), "xlsx", "Input should be 'parquet', 'jsonl' or 'csv'"),
    (("alerts", "escalate_after_minutes"), 0, "greater than or equal to 1"),
    (("alerts", "channels"), "teams", "valid tuple"),
    (("deadline", "finish_by"), "25:00", "should match pattern"),
    (("http", "timeout_seconds"), 0, "greater than 0"),
    (("retention", "raw_days"), 0, "greater than or equal to 1"),
    (("source_timezone",), "Mars/Olympus", "unknown time zone"),
]
MISSING: list[tuple[tuple[str | int, ...], str]] = [
    (("name",), "Field required"),
    (("owners",), "Field required"),
    (("owners", "team"), "Field required"),
    (("owners", "primary"), "Field required"),
    (("start_date",), "Field required"),
    (("kind",), "Field required"),
    (("conn_id",), "Field required"),
    (("entities",), "Field required"),
    ((*E0, "name"), "Field required"),
    ((*E0, "locator"), "Field required"),
    ((*COL0, "name"), "Field required"),
    ((*COL0, "type"), "Field required"),
]
UNKNOWN_KEYS: list[tuple[str | int, ...]] = [
    ("colour",),
    ("owners", "phone"),
    ("schedule_interval",),
    (*E0, "colums"),
    (*E0, "locator", "tabel"),
    (*COL0, "nulable"),
    (*E0, "load", "cursor"),
    ("kafka", "topic"),
    ("retries", "max"),
    ("deadline", "sla"),
]
BAD_CRONS = [
    *("61 * * * *", "* * *", "0 25 * * *", "*/0 * * * *", "0 0 * * 8", "", "every day", "@sometimes"),
    *("0 0 31 2 *", "0 0 30 2 *"),  # well-formed, but never due: building the DAG's runbook raised
    *("0 0 2 * * *", "* * * * * *"),  # six fields: croniter reads the last as seconds (runs every second)
]
BAD_IDENTIFIERS: list[tuple[tuple[str | int, ...], str, str]] = [
    ((*E0, "name"), "Customers", "should match pattern"),
    ((*E0, "name"), "1st", "should match pattern"),
    ((*E0, "name"), "cus-tomers", "should match pattern"),
    ((*E0, "name"), "c" * 64, "should match pattern"),
    ((*E0, "name"), "kunden\u00fc", "should match pattern"),
    ((*COL0, "name"), 'id" --', "contains a quote"),
    ((*COL0, "name"), "a;b", "contains a quote"),
    ((*COL0, "name"), "x/*y", "contains a quote"),
    ((*COL0, "name"), "", "at least 1 character"),
    ((*COL0, "name"), "c" * 129, "at most 128 characters"),
    ((*E0, "load", "cursor_column"), "updated_at`", "contains a quote"),
    (("kafka", "topic_template"), "ingest.{source}.{who}", "{source} and {entity} only"),
    (("kafka", "topic_template"), "ingest/{source}", "should match pattern"),
]
# Secret-looking keys: every one at the top, and one at each level a person might paste a credential at.
SECRET_KEY_SPOTS: list[tuple[str | int, ...]] = [
    *((key,) for key in sorted(SECRET_KEYS)),
    ("owners", "password"),
    (*E0, "token"),
    (*E0, "locator", "api_key"),
    (*COL0, "secret"),
    ("kafka", "sas_token"),
    ("landing", "connection_string"),
    ("http", "Client_Secret"),
]
CREDENTIAL_VALUES: list[tuple[tuple[str | int, ...], str, str]] = [
    (("conn_id",), URI, "looks like a URI with a password"),
    (("description",), f"copy of {URI}", "looks like a URI with a password"),
    (("kafka", "conn_id"), f"kafka://svc:{SECRET}@broker:9092", "looks like a URI with a password"),
    ((*E0, "description"), f"see redis://:{SECRET}@cache:6379", "looks like a URI with a password"),
    (("owners", "contact"), f"https://bot:{SECRET}@chat.example.com/hook", "looks like a URI with a password"),
    (("landing", "conn_id"), f"AccountName=lake;AccountKey={SECRET}", "looks like an Azure storage key"),
]


def _sample_cases(sample: str) -> list[Case]:
    base = _sample(sample)
    file = f"{sample}.json"
    others = _others(sample)
    cases: list[Case] = []

    def add(kind: str, edit: Callable[[dict[str, Any]], None], path: str, message: str) -> None:
        cases.append(Case(f"{sample}-{kind}-{len(cases)}", file, _edit_json(file, base, edit), path, message, others))

    def put(where: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda data: _put(data, where, value)

    for where, value, message in WRONG_TYPES:
        add("wrong-type", put(where, value), _path(where), message)
    for where, message in MISSING:
        add("missing", lambda data, where=where: _drop(data, where), _path(where), message)  # type: ignore[misc]
    for where in UNKNOWN_KEYS:
        add("unknown-key", put(where, "x"), _path(where), "Extra inputs are not permitted")
    for cron in BAD_CRONS:
        add("bad-cron", put(("schedule",), cron), "$.schedule", "")
    for where, value, message in BAD_IDENTIFIERS:
        add("bad-identifier", put(where, value), _path(where), message)
    add(
        "duplicate-entity",
        lambda data: data["entities"].append(copy.deepcopy(data["entities"][0])),
        "$",
        "duplicate entity names",
    )
    add(
        "duplicate-column",
        lambda data: data["entities"][0]["columns"].append(copy.deepcopy(data["entities"][0]["columns"][0])),
        "$.entities[0]",
        "duplicate column names",
    )
    add(
        "undeclared-cursor",
        put((*E0, "load", "cursor_column"), "no_such_column"),
        "$.entities[0]",
        "load.cursor_column 'no_such_column' is not among the declared columns",
    )
    for where in SECRET_KEY_SPOTS:
        add("secret-key", put(where, SECRET), _path(where), "looks like a credential")
    for where, value, message in CREDENTIAL_VALUES:
        add("secret-value", put(where, value), _path(where), message)
    cases.extend(_text_cases(file, base, others))
    return cases


def _deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def _at_byte(data: bytes, bad: bytes) -> tuple[str, str]:
    """The position and message fragment the loader must give for the first `bad` byte of `data` (all before it is
    UTF-8): line and column in characters, offset in bytes."""
    index = data.index(bad)
    line = data.count(b"\n", 0, index) + 1
    column = len(data[data.rfind(b"\n", 0, index) + 1 : index].decode("utf-8")) + 1
    return f"line {line} column {column}", f"not UTF-8: byte 0x{bad.hex()} at byte offset {index}"


def _bytes_case(file: str, kind: str, data: bytes, bad: bytes, loads: tuple[str, ...]) -> Case:
    path, message = _at_byte(data, bad)
    return Case(f"{file}-{kind}", file, _write_bytes(file, lambda: data), path, message, loads)


def _text_cases(file: str, base: dict[str, Any], loads: tuple[str, ...]) -> list[Case]:
    """Mutations of the file's bytes, for any file (a source config or a shared one)."""
    text = json.dumps(base, indent=2, ensure_ascii=False)
    # A note first, so the bad byte comes before anything a sample holds (its own description would replace it).
    noted = json.dumps({"x_note": "Kühe", **base}, ensure_ascii=False)
    key, opener = '{"x": ', '{"a":'
    deep_at = f"line 1 column {len(key) + MAX_CONFIG_DEPTH}"  # the document is level 1: bracket MAX opens MAX + 1
    deep_objects_at = f"line 1 column {len(key) + len(opener) * (MAX_CONFIG_DEPTH - 1) + 1}"
    raw: list[tuple[str, Callable[[Path], None], str, str]] = [
        ("deep-lists", _write_text(file, lambda: key + _deep(MAX_CONFIG_DEPTH + 1) + "}"), deep_at, "nests deeper"),
        (
            "deep-objects",
            _write_text(file, lambda: key + opener * 5000 + "1" + "}" * 5001),
            deep_objects_at,
            "nests deeper",
        ),
        ("nesting-bomb", _write_text(file, lambda: key + _deep(1_000_000) + "}"), deep_at, "nests deeper"),
        ("huge", _write_text(file, lambda: '{"description": "' + "x" * MAX_CONFIG_BYTES + '"}'), "$", "may be at most"),
        ("empty", _write_text(file, lambda: ""), "line 1 column 1", "invalid JSON"),
        ("truncated", _write_text(file, lambda: text[: len(text) // 2]), "line ", "invalid JSON"),
        ("trailing-comma", _write_text(file, lambda: text[:-2] + ",\n}"), "line ", "invalid JSON"),
        ("comment", _write_text(file, lambda: "// owned by crm-data\n" + text), "line 1 column 1", "invalid JSON"),
        ("single-quotes", _write_text(file, lambda: text.replace('"', "'")), "line ", "invalid JSON"),
        ("control-char", _write_text(file, lambda: '{"x": "a\tb"}'), "line 1 column 9", "invalid JSON"),
        ("huge-integer", _write_text(file, lambda: '{"x": ' + "9" * 5000 + "}"), "$", "invalid JSON"),
        ("top-level-list", _write_text(file, lambda: json.dumps([base])), "$", "expected a JSON object, got array"),
        ("top-level-null", _write_text(file, lambda: "null"), "$", "expected a JSON object, got null"),
    ]
    return [Case(f"{file}-{kind}", file, mutate, path, message, loads) for kind, mutate, path, message in raw] + [
        _bytes_case(file, "latin-1", noted.encode("latin-1"), b"\xfc", loads),
        _bytes_case(file, "cp1252", noted.replace("Kühe", "naïve € café").encode("cp1252"), b"\xef", loads),
        _bytes_case(file, "utf-16", text.encode("utf-16"), b"\xff", loads),
        _bytes_case(file, "stray-byte", b'{\n  "x": "\x80"}', b"\x80", loads),
        _bytes_case(file, "surrogate", b'{"x": "\xed\xa0\x80"}', b"\xed", loads),
        _bytes_case(file, "latin-1-on-line-3", b'{\n  "description":\n  "na\xefve"}', b"\xef", loads),
        _bytes_case(file, "after-multibyte", '{"x": "Küh'.encode() + b"\xfc" + b'"}', b"\xfc", loads),
    ]


def _overlay_path(where: tuple[str | int, ...]) -> str:
    return _path(where).replace("$.*", '$["*"]')


def _shared_cases() -> list[Case]:
    defaults = json.loads((SAMPLES_DIR / "_defaults.json").read_text())
    dev = json.loads((SAMPLES_DIR / "overlays" / "dev.json").read_text())
    prod = json.loads((SAMPLES_DIR / "overlays" / "prod.json").read_text())
    cases: list[Case] = []
    # A shared file of this environment (dev) that cannot be used is never left out silently: every source merges
    # it, so none is loaded. The prod overlay is checked as well, and the dev sources still load.
    shared: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
        ("_defaults.json", defaults, ()),
        ("overlays/dev.json", dev, ()),
        ("overlays/prod.json", prod, SAMPLES),
    ]
    for file, base, loads in shared:
        cases.extend(_text_cases(file, base, loads))
        if file == "_defaults.json":
            spots: list[tuple[str | int, ...]] = [("password",), ("kafka", "sas_token"), ("alerts", "Token")]
            value_spot: tuple[str | int, ...] = ("landing", "conn_id")
        else:
            spots = [("*", "token"), ("crm", "secret"), ("*", "kafka", "api_key")]
            value_spot = ("*", "kafka", "conn_id")
        for where in spots:
            edit = _edit_json(file, base, lambda d, w=where: _put(d, w, SECRET))  # type: ignore[misc]
            path = _overlay_path(where)
            cases.append(Case(f"{file}-secret-{path}", file, edit, path, "looks like a credential", loads))
        edit = _edit_json(file, base, lambda d, w=value_spot: _put(d, w, URI))  # type: ignore[misc]
        path = _overlay_path(value_spot)
        cases.append(Case(f"{file}-uri", file, edit, path, "looks like a URI with a password", loads))
    # A value every source takes from a shared file: each source is refused, the error names the shared file.
    value_errors: list[tuple[str, dict[str, Any], tuple[str | int, ...], Any, str, tuple[str, ...]]] = [
        ("_defaults.json", defaults, ("catchup",), "sometimes", "valid boolean", ()),
        ("_defaults.json", defaults, ("retries", "max_delay_minutes"), 0, "greater than or equal to 1", ()),
        ("_defaults.json", defaults, ("colour",), "red", "Extra inputs are not permitted", ()),
        ("_defaults.json", defaults, ("alerts", "channels", 1), "has space", "should match pattern", ()),
        ("overlays/dev.json", dev, ("*", "alerts", "severity"), "urgent", "Input should be 'critical'", ()),
        ("overlays/dev.json", dev, ("crm", "schedule"), "61 * * * *", "not a valid cron", _others("crm")),
        (
            "overlays/dev.json",
            dev,
            ("orders_api", "http"),
            {"timeout_seconds": -1},
            "greater than 0",
            _others("orders_api"),
        ),
        ("overlays/dev.json", dev, ("crm",), "x", "expected a JSON object of settings", _others("crm")),
        ("overlays/dev.json", dev, ("*",), [], "expected a JSON object of settings", ()),
        ("overlays/prod.json", prod, ("crm",), 1, "expected a JSON object of settings", SAMPLES),
    ]
    for file, base, where, value, message, loads in value_errors:
        edit = _edit_json(file, base, lambda d, w=where, v=value: _put(d, w, v))  # type: ignore[misc]
        path = _overlay_path(where) if file.startswith("overlays/") else _path(where)
        cases.append(Case(f"{file}-value-{path}", file, edit, path, message, loads))
    return cases


CORPUS = [case for sample in SAMPLES for case in _sample_cases(sample)] + _shared_cases()


def test_the_corpus_is_large_and_its_cases_distinct() -> None:
    assert len(CORPUS) >= 200
    assert len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_each_hostile_config_is_reported_by_file_and_path_and_the_rest_loads(tmp_path: Path, case: Case) -> None:
    folder = _folder(tmp_path)
    case.mutate(folder)

    result = load_configs(folder, "dev")  # must not raise, whatever the file holds

    own = [e for e in result.errors if Path(e.file) == folder / case.file]
    assert own, f"no error names {case.file}: {[str(e) for e in result.errors]}"
    assert any(e.path.startswith(case.path) and case.message in e.message for e in own), [str(e) for e in own]
    assert all(e.path.startswith(("$", "line ")) for e in result.errors)
    assert sorted(result.configs) == sorted(case.loads)
    assert SECRET not in _messages(result)
