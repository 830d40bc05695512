"""Read one config file defensively: whatever it holds, the result is a JSON object or a problem with its position.

Configs are read at every DAG parse, inside the process that parses every DAG of the folder, so nothing a file holds
may raise out of here: a huge file is refused before it is read, bytes that are not UTF-8 are reported at their byte
offset, nesting deeper than any config needs is refused before the parser (recursive in CPython) sees it, and JSON
errors carry their line and column. Positions of text that is not JSON yet are "line L column C" (columns count
characters, as editors do); positions inside a parsed object are JSON paths.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # the largest real config is a few hundred KiB; a bigger file is a mistake
MAX_CONFIG_DEPTH = 32  # levels of nested objects and arrays, the document itself being level 1; configs use about 8
UTF8_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}

# A JSON string (skipped whole: brackets inside it are text) or a bracket. The string part is the unrolled
# `"(?:[^"\\]|\\.)*"`, which never backtracks, so the scan is linear in the file's size.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_STRING_OR_NUMBER = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(-?(?:Infinity|NaN|[0-9][0-9.eE+-]*))', re.DOTALL)


@dataclass(frozen=True)
class FileProblem:
    """Why a file yields no config: where (a JSON path, or "line L column C") and what."""

    path: str
    message: str


def read_config_file(path: Path) -> dict[str, Any] | FileProblem:
    """The JSON object `path` holds, or the first problem that keeps it from being one."""
    raw = _read_capped(path)
    if isinstance(raw, FileProblem):
        return raw
    skipped = len(UTF8_BOM) if raw.startswith(UTF8_BOM) else 0  # editors on Windows write one; it is not content
    try:
        text = raw[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(raw[skipped:], exc.start, skipped)
    if (too_deep := _first_too_deep(text)) is not None:
        return FileProblem(_line_column(text, too_deep), f"nests deeper than {MAX_CONFIG_DEPTH} levels")
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except _NotFinite as exc:
        # Python reads NaN and Infinity (not JSON) and 1e999 (overflows to inf); a bound or a check compared with
        # one is silently always true or always false, and Airflow's serialized DAG cannot hold one.
        return FileProblem(
            _line_column(text, _first_not_finite(text)),
            f"{exc} is not a finite number (JSON has no NaN or Infinity; a number must be below 1.8e308)",
        )
    except json.JSONDecodeError as exc:
        return FileProblem(f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}")
    except (ValueError, RecursionError) as exc:
        # An integer longer than Python converts (4300 digits) is a ValueError without a position; RecursionError
        # cannot happen below the depth limit, and is caught only so that a lower interpreter limit cannot raise.
        return FileProblem("$", f"invalid JSON: {type(exc).__name__}: {str(exc)[:120]}")
    if not isinstance(data, dict):
        return FileProblem("$", f"expected a JSON object, got {json_type_name(data)}")
    return data


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type: array, not list."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _read_capped(path: Path) -> bytes | FileProblem:
    mib = MAX_CONFIG_BYTES // (1024 * 1024)
    try:
        # O_NONBLOCK: opening a FIFO named *.json must not hang the parse; fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return FileProblem("$", f"cannot read: {exc.strerror}")
    # fstat before any file object: os.fdopen raises IsADirectoryError for a folder named like a config.
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return FileProblem("$", "is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            return FileProblem("$", "not a regular file (a device or FIFO named like a config)")
        if info.st_size > MAX_CONFIG_BYTES:
            return FileProblem("$", f"{info.st_size} bytes: a config file may be at most {mib} MiB")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # the file may have grown since fstat
    except OSError as exc:
        return FileProblem("$", f"cannot read: {exc.strerror}")
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        return FileProblem("$", f"more than {MAX_CONFIG_BYTES} bytes: a config file may be at most {mib} MiB")
    return raw


def _not_utf8(content: bytes, start: int, skipped: int) -> FileProblem:
    line_start = content.rfind(b"\n", 0, start) + 1
    line = content.count(b"\n", 0, start) + 1
    column = len(content[line_start:start].decode("utf-8")) + 1  # everything before the bad byte decoded
    byte = content[start]
    return FileProblem(
        f"line {line} column {column}",
        f"not UTF-8: byte 0x{byte:02x} at byte offset {start + skipped}; save the file as UTF-8",
    )


def _first_too_deep(text: str) -> int | None:
    """The index of the first bracket that opens a level past MAX_CONFIG_DEPTH, or None. A loop, not recursion:
    the point is to refuse what would exhaust the parser's stack. Unbalanced brackets are left to the parser."""
    if text.count("[") + text.count("{") <= MAX_CONFIG_DEPTH:  # too few brackets to nest too deep: no scan
        return None
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                return match.start()
        elif token in ("]", "}"):
            depth -= 1
    return None


class _NotFinite(ValueError):
    """A number token that is not a finite float; its text (a number, never a secret) is the message."""


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NotFinite(token)
    return value


def _refuse_constant(token: str) -> float:
    raise _NotFinite(token)


def _first_not_finite(text: str) -> int:
    """Where the first number token outside strings that is not finite starts (0 if none is found)."""
    for match in _STRING_OR_NUMBER.finditer(text):
        token = match.group(1)
        if token is not None and _is_not_finite(token):
            return match.start(1)
    return 0


def _is_not_finite(token: str) -> bool:
    try:
        return not math.isfinite(float(token))
    except ValueError:  # a token the parser read as something else
        return False


def _line_column(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)  # rfind is -1 on the first line: columns count from 1
    return f"line {line} column {column}"


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def json_path_step(key: str | int) -> str:
    """One step of a JSON path: `[0]` for an index, `.name` for a plain key, `["*"]` for any other key."""
    if isinstance(key, int):
        return f"[{key}]"
    return f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
