"""A response body read as a stream, within the source's caps, then parsed as JSON.

Responses are requested streamed, so nothing is read before it is counted: the body comes 1 MiB at a time, already
decoded (urllib3 unpacks gzip and deflate as it goes, so the count is of what a gzip body unpacks to, and a small
body that unpacks to gigabytes stops at the cap), and the read stops one chunk past `max_response_bytes`. A body
that declares a larger uncompressed `Content-Length` is refused before any of it is read. Then the nesting depth is
checked (json_depth) before the parser, which recurses once per level, sees the body.

Messages name the endpoint's path and the cap and say how to raise it; never the query string, a header or any of
the body (it may hold personal data).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ingestion.extract.errors import NestingTooDeepError, ResponseTooLargeError, UnexpectedBodyError
from ingestion.extract.json_depth import nests_deeper_than

if TYPE_CHECKING:
    import requests

CHUNK_BYTES = 1 << 20
# What an error answer (4xx, 5xx) may contribute to a message: its JSON `detail` or first words, not gigabytes.
ERROR_BODY_BYTES = 64 * 1024


def _too_large(where: str, path: str, cap: int, seen: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{where}: GET {path}: the response {seen}, more than http.max_response_bytes={cap}; ask for smaller pages "
        "(locator.pagination.page_size) or raise the source's http.max_response_bytes if pages this large are expected"
    )


def read_body(response: requests.Response, *, cap: int, where: str, path: str) -> bytearray:
    """The whole body, decoded, or ResponseTooLargeError having read at most `cap` + 1 MiB of it."""
    import requests

    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    if declared.isdigit() and not encoded and int(declared) > cap:
        response.close()
        raise _too_large(where, path, cap, f"declares {int(declared)} bytes (Content-Length)")
    body = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
            body += chunk
            if len(body) > cap:
                raise _too_large(where, path, cap, "went on past the cap (counted after decoding)")
    except requests.exceptions.ContentDecodingError:
        response.close()
        raise UnexpectedBodyError(
            f"{where}: GET {path}: the body cannot be decoded as its Content-Encoding "
            f"({response.headers.get('Content-Encoding')}) says; the API sent a corrupt compressed body"
        ) from None
    except BaseException:
        response.close()  # the rest of the body is not wanted: the connection cannot serve another request
        raise
    return body  # read to its end: urllib3 has put the connection back in the pool for the next page


def parse_json(body: bytes | bytearray, *, max_depth: int, where: str, path: str, status: int) -> Any:
    """The parsed body; NestingTooDeepError or UnexpectedBodyError (naming the position, not the text) otherwise."""
    if nests_deeper_than(body, max_depth):
        raise NestingTooDeepError(
            f"{where}: GET {path}: the response nests arrays and objects deeper than http.max_json_depth={max_depth} "
            "levels; not parsed. Raise the source's http.max_json_depth if the API's records are that deep"
        )
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise UnexpectedBodyError(
            f"{where}: GET {path} answered {status} with a body that is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # not UTF-8; or a lower interpreter recursion limit than the cap
        raise UnexpectedBodyError(
            f"{where}: GET {path} answered {status} with a body that cannot be parsed as JSON ({type(exc).__name__})"
        ) from None


def error_text(response: requests.Response) -> str:
    """The start of an error answer's body, as text, for response_message; at most ERROR_BODY_BYTES are read."""
    import requests

    head = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=ERROR_BODY_BYTES):
            head += chunk
            if len(head) >= ERROR_BODY_BYTES:
                break
    except requests.RequestException:  # a broken error body still leaves the status to report
        pass
    finally:
        response.close()
    return bytes(head[:ERROR_BODY_BYTES]).decode(response.encoding or "utf-8", "replace")
