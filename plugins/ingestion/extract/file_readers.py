"""A local copy of a source file (CSV, JSON Lines or Parquet, optionally gzipped) as typed Arrow batches.

Streamed: CSV through Arrow's incremental reader in blocks, JSON Lines a chunk of lines at a time, Parquet a row
group slice at a time, so memory stays flat however big the file. Each batch comes with the records it rejected
(a CSV row with the wrong number of cells, a line that is not JSON or nests deeper than `max_json_depth`, a value
that does not fit its column) and the number of records it read, for reconciliation.

The locator's caps hold whatever the file holds: CSV blocks are `max_record_bytes` long, so a row that does not fit
fails the file (Arrow refuses a row spanning more than two blocks); a JSON line is read at most `max_record_bytes` + 1
at a time, so a longer one fails without being held; the bytes read, after gunzip, are counted against
`max_file_bytes`. These failures are terminal (SourceCapExceededError): the same file fails the same way again.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.extract.errors import FileTooLargeError, RecordTooLargeError, UnreadableFileError
from ingestion.extract.json_depth import nests_deeper_than
from ingestion.extract.record_typing import Rejected, numbered

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import SftpLocator
    from ingestion.extract.record_typing import RecordTyper

JSONL_CHUNK_LINES = 20_000
PARQUET_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class FileChunk:
    batch: pa.RecordBatch
    rejected: list[Rejected]
    seen: int


def is_gzipped(locator: SftpLocator, name: str) -> bool:
    return locator.compression == "gzip" or (locator.compression == "auto" and name.lower().endswith(".gz"))


def read_file(
    path: Path,
    name: str,
    locator: SftpLocator,
    typer: RecordTyper,
    on_columns: Callable[[list[str]], None] | None = None,
) -> Iterator[FileChunk]:
    """The file's records, typed; `name` is the server's file name (already checked safe to show), for the
    quarantine's `where` and for messages. `on_columns` sees the columns the file names (a CSV's header, a Parquet
    file's schema) before any row is read, and may raise; it is not called for files that name none (JSON Lines, a
    CSV without a header, an empty file)."""
    gz = is_gzipped(locator, name)
    if not gz and (size := path.stat().st_size) > locator.max_file_bytes:
        raise _file_too_large(name, locator, f"is {size} bytes")
    try:
        if on_columns is not None and (named := _named_columns(path, locator, gz)) is not None:
            on_columns(named)
        if locator.file_format == "csv":
            yield from _read_csv(path, name, locator, typer, gz)
        elif locator.file_format == "jsonl":
            yield from _read_jsonl(path, name, locator, typer, gz)
        else:
            yield from _read_parquet(path, name, typer, gz)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        # Not the original (nor chained: Airflow logs the chain): gzip's and codecs' texts quote the file's bytes.
        raise UnreadableFileError(
            f"{name}: cannot be read as {locator.file_format}{' (gzip)' if gz else ''}: {unreadable_reason(exc)}"
        ) from None
    except ValueError as exc:  # pyarrow's ArrowInvalid
        import pyarrow as pa

        if not isinstance(exc, pa.ArrowException):
            raise
        if "straddl" in str(exc):
            # Arrow found a row spanning more than two blocks; its message says only that.
            raise _record_too_large(name, locator, "has a CSV row") from None
        raise UnreadableFileError(
            f"{name}: cannot be read as {locator.file_format}{' (gzip)' if gz else ''}: "
            f"{_arrow_reason(exc, path, locator, gz)}"
        ) from None


def _named_columns(path: Path, locator: SftpLocator, gz: bool) -> list[str] | None:
    """The columns the file names, in its order (duplicates kept), or None where it names none."""
    import pyarrow as pa

    if locator.file_format == "parquet" and not gz:
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if locator.file_format != "csv" or not locator.csv.header:
        return None
    import pyarrow.csv as pacsv

    with pa.input_stream(str(path), compression="gzip" if gz else None) as probe:
        if not probe.read(1):
            return None
    options = locator.csv
    with pacsv.open_csv(  # reads the first block only: the header's names
        pa.input_stream(str(path), compression="gzip" if gz else None),
        read_options=pacsv.ReadOptions(encoding=options.encoding, block_size=locator.max_record_bytes),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, quote_char=options.quote_char, invalid_row_handler=lambda row: "skip"
        ),
        convert_options=pacsv.ConvertOptions(include_columns=[], column_types={}),
    ) as reader:
        return list(reader.schema.names)


def _arrow_reason(exc: BaseException, path: Path, locator: SftpLocator, gz: bool) -> str:
    """Why Arrow could not read the file, never quoting it: Arrow's messages may quote a cell or a row, so only the
    place it names is kept. Text that is not in the declared encoding is found again, for the byte it starts at."""
    text = str(exc)
    if "invalid utf8" in text.lower() and (reason := _undecodable_at(path, locator.csv.encoding, gz)) is not None:
        return reason
    place = re.search(r"column #\d+: row #\d+", text, re.IGNORECASE)
    where = f" at {place.group(0)}" if place else ""
    return f"{type(exc).__name__}{where} (Arrow's message is not shown: it may quote the file)"


def _undecodable_at(path: Path, encoding: str, gz: bool) -> str | None:
    """`not <encoding> text at byte N` for the first byte (counted after gunzip) that does not decode, or None."""
    import codecs
    from itertools import chain

    decoder = codecs.getincrementaldecoder(encoding)()
    opener: Any = gzip.open if gz else open
    offset = 0  # bytes handed to the decoder so far; it may hold back the start of a character split between blocks
    try:
        with opener(path, "rb") as handle:
            # The file's blocks, then an empty final one: a character cut off at the end fails only there.
            for block in chain(iter(lambda: handle.read(1 << 20), b""), [None]):  # streamed: files may be large
                held = len(decoder.getstate()[0])
                try:
                    decoder.decode(block or b"", final=block is None)
                except UnicodeDecodeError as error:
                    return unreadable_reason(error, at=offset - held)
                offset += len(block or b"")
    except (OSError, EOFError):
        return None
    return None


def unreadable_reason(exc: BaseException, *, at: int = 0) -> str:
    """Why a file could not be read, in words that never quote its content; `at`: the file's byte where the text
    that failed to decode began."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not {exc.encoding} text at byte {at + exc.start}"
    if isinstance(exc, gzip.BadGzipFile):
        return "not a gzip file"
    if isinstance(exc, EOFError):
        return "it ends early (truncated)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    # Arrow's I/O and zlib's messages describe the stream ("zlib inflate failed: incorrect header check"), not its
    # bytes; Python's BadGzipFile (above) is the one that quotes them.
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _file_too_large(name: str, locator: SftpLocator, found: str) -> FileTooLargeError:
    return FileTooLargeError(
        f"{name}: {found}, more than the locator's max_file_bytes={locator.max_file_bytes} (counted after "
        "decompression); not loaded. Raise max_file_bytes if files this large are expected"
    )


def _record_too_large(name: str, locator: SftpLocator, what: str) -> RecordTooLargeError:
    return RecordTooLargeError(
        f"{name}: {what} longer than the locator's max_record_bytes={locator.max_record_bytes}; not loaded. Raise "
        "max_record_bytes if records this long are expected (CSV is read in blocks of that size: memory grows with it)"
    )


class _CountedStream(io.RawIOBase):
    """A readable stream that counts the bytes read through it: a gzip file's size once unpacked, as Arrow reads."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _read_csv(path: Path, name: str, locator: SftpLocator, typer: RecordTyper, gz: bool) -> Iterator[FileChunk]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = locator.csv
    bad: list[Rejected] = []

    def on_invalid_row(row: Any) -> str:
        where = f"{name} line {row.number}" if row.number is not None else f"{name} (a malformed row)"
        reason = f"expected {row.expected_columns} cell(s), found {row.actual_columns}"
        bad.append(Rejected(where, reason, row.text))
        return "skip"

    names = list(typer.names)
    with pa.input_stream(str(path), compression="gzip" if gz else None) as probe:
        if not probe.read(1):  # a zero-byte file holds no records (Arrow refuses it as "Empty CSV file")
            return
    counted = _CountedStream(pa.input_stream(str(path), compression="gzip" if gz else None))
    reader = pacsv.open_csv(
        pa.PythonFile(counted, mode="r"),
        read_options=pacsv.ReadOptions(
            encoding=options.encoding,
            block_size=locator.max_record_bytes,
            column_names=None if options.header else names,
            # One thread: blocks are parsed as they are read (no read-ahead of several blocks), and Arrow then
            # numbers the rows it refuses, for the quarantine.
            use_threads=False,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, quote_char=options.quote_char, invalid_row_handler=on_invalid_row
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=names,
            include_missing_columns=True,
            null_values=list(options.null_values),
            strings_can_be_null=True,
        ),
    )
    done = 0
    with reader:
        for batch in reader:
            if counted.count > locator.max_file_bytes:  # Arrow reads ahead a block or two: that much past the cap
                raise _file_too_large(name, locator, "went on past the cap")
            first = done
            typed, rejected = typer.batch_to_typed(batch, numbered(f"{name} record", first))
            done += batch.num_rows
            malformed, bad[:] = list(bad), []
            yield FileChunk(typed, malformed + rejected, batch.num_rows + len(malformed))
    if bad:  # rows refused after the last batch
        yield FileChunk(typer.records_to_batch([], str)[0], list(bad), len(bad))


def _read_jsonl(path: Path, name: str, locator: SftpLocator, typer: RecordTyper, gz: bool) -> Iterator[FileChunk]:
    opener: Any = gzip.open if gz else open
    cap, depth = locator.max_record_bytes, locator.max_json_depth
    with opener(path, "rb") as handle:
        records: list[Any] = []
        lines: list[int] = []
        bad: list[Rejected] = []
        read = number = 0
        # readline with a limit, never plain iteration: a line is held at most cap + 1 bytes long, however long it is.
        while raw := handle.readline(cap + 1):
            number += 1
            read += len(raw)
            if len(raw) > cap and not raw.endswith(b"\n"):
                raise _record_too_large(name, locator, f"line {number} is")
            if read > locator.max_file_bytes:
                raise _file_too_large(name, locator, "went on past the cap")
            if not raw.strip():
                continue
            if nests_deeper_than(raw, depth):
                text = raw.decode("utf-8", "replace").rstrip("\n")
                bad.append(
                    Rejected(f"{name} line {number}", f"nests deeper than max_json_depth={depth}", text[:10_000])
                )
            else:
                try:
                    records.append(json.loads(raw))
                    lines.append(number)
                except (ValueError, RecursionError) as exc:  # the depth check keeps RecursionError out; belt and braces
                    text = raw.decode("utf-8", "replace").rstrip("\n")
                    bad.append(Rejected(f"{name} line {number}", f"not valid JSON: {exc}", text[:10_000]))
            if len(records) + len(bad) >= JSONL_CHUNK_LINES:
                yield _jsonl_chunk(typer, name, records, lines, bad)
                records, lines, bad = [], [], []
        if records or bad:
            yield _jsonl_chunk(typer, name, records, lines, bad)


def _jsonl_chunk(typer: RecordTyper, name: str, records: list[Any], lines: list[int], bad: list[Rejected]) -> FileChunk:
    typed, rejected = typer.records_to_batch(records, lambda i: f"{name} line {lines[i]}")
    return FileChunk(typed, bad + rejected, len(records) + len(bad))


def _read_parquet(path: Path, name: str, typer: RecordTyper, gz: bool) -> Iterator[FileChunk]:
    import pyarrow.parquet as pq

    if gz:
        raise UnreadableFileError(f"{name}: gzipped Parquet is not supported; Parquet compresses its own pages")
    parquet = pq.ParquetFile(path)
    present = [n for n in typer.names if n in parquet.schema_arrow.names]
    done = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=present):
        first = done
        typed, rejected = typer.batch_to_typed(batch, numbered(f"{name} row", first))
        done += batch.num_rows
        yield FileChunk(typed, rejected, batch.num_rows)
