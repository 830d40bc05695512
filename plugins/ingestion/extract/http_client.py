"""GET requests to a REST source through HttpHook: auth from the connection, a rate limit, retries that respect 429.

The connection (never the config) says how to authenticate, in its extra `auth`:
- `bearer` (the default when the connection has a password and no login): `Authorization: Bearer <password>`;
- `basic` (the default when it has a login): HTTP basic auth with login and password, as HttpHook does;
- `api_key`: the password in the header `api_key_header` (default X-API-Key), or in the query parameter
  `api_key_param` when that is set;
- `oauth2`: client credentials: login is the client id, password the secret, `token_url` (absolute, or a path on the
  connection's host) issues the token; it is fetched again shortly before it expires, and once on a 401.
These extra keys are taken out of the session's headers (HttpHook turns unknown extra keys into headers).

Retries (tenacity): 429 waits for its Retry-After; 5xx, timeouts, connection errors and bodies cut short back off
exponentially; other 4xx fail at once with the response's own message (TerminalError). Messages name the path,
never the query string (an API key may sit there) or a header; a connection error, whose text holds the URL, is
raised as SourceUnreachableError with the query's secrets masked (ingestion.redact), and the connection's password
is remembered as a secret in every spelling a URL gives it, for Airflow's log masker too.

Bodies are streamed and held to the source's caps (http_body): `max_response_bytes` counted after decoding, and
`max_json_depth` checked before parsing. A body past a cap fails at once (TerminalError, no retries): the next try
would get the same body.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ingestion.extract.errors import (
    RetryableResponseError,
    SourceAuthError,
    SourceRequestError,
    SourceUnreachableError,
)
from ingestion.redact import redact, remember

if TYPE_CHECKING:
    import requests

    from ingestion.config.models import HttpOptions

log = logging.getLogger(__name__)

AUTH_EXTRA_KEYS = ("auth", "api_key_header", "api_key_param", "token_url", "scope", "audience")
AUTH_KINDS = ("bearer", "basic", "api_key", "oauth2", "none")
# Refresh an OAuth token this long before the server says it expires, so no request carries a stale one.
TOKEN_EXPIRY_MARGIN_SECONDS = 30.0


class RateLimiter:
    """At most `per_second` requests a second: each request waits for its slot (thread-safe)."""

    def __init__(self, per_second: float, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def wait(self) -> float:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        return slot - now


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def response_message(response: requests.Response, limit: int = 300) -> str:
    """What the API said about the error: its JSON `detail`, `error` or `message`, else the start of the body; with
    credentials masked (an API may echo the key it refused). At most 64 KiB of the body is read: an error answer can
    be hostile too."""
    import json

    from ingestion.extract.http_body import error_text

    text = error_text(response)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict):
        for key in ("detail", "error_description", "error", "message"):
            if body.get(key):
                return redact(str(body[key])[:limit])
    return redact((text or response.reason or "").strip()[:limit])


@dataclass
class _Token:
    value: str
    expires_at: float


class ApiClient:
    """One source's API: `get(path_or_url, params)` returns the parsed JSON body and the response."""

    def __init__(self, conn_id: str, options: HttpOptions, *, where: str) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.where = where
        self.options = options
        hook = HttpHook(method="GET", http_conn_id=conn_id)
        connection = hook.get_connection(conn_id)
        extra = connection.extra_dejson
        self.session = hook.get_conn()
        for key in AUTH_EXTRA_KEYS:
            self.session.headers.pop(key, None)
        self.base_url = hook.base_url.rstrip("/") + "/"
        self._origin = urlsplit(self.base_url)[:2]
        default_auth = "basic" if connection.login else "bearer" if connection.password else "none"
        self.auth = str(extra.get("auth") or default_auth)
        if self.auth not in AUTH_KINDS:
            raise SourceAuthError(f"{where}: connection {conn_id!r} has auth {self.auth!r}; use one of {AUTH_KINDS}")
        self._params: dict[str, str] = {}
        self._password = connection.password or ""
        remember(self._password)  # also percent-encoded: an API key sent as a query parameter is spelled so
        self._login = connection.login or ""
        self._extra = extra
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        if self.auth in ("bearer", "api_key", "oauth2") and not self._password:
            raise SourceAuthError(f"{where}: connection {conn_id!r} uses {self.auth} auth but has no password")
        if self.auth == "oauth2" and not extra.get("token_url"):
            raise SourceAuthError(f"{where}: connection {conn_id!r} uses oauth2 but its extra has no token_url")
        if self.auth != "basic":
            self.session.auth = None  # HttpHook sets basic auth whenever there is a login
        if self.auth == "bearer":
            self.session.headers["Authorization"] = f"Bearer {self._password}"
        elif self.auth == "api_key":
            if extra.get("api_key_param"):
                self._params[str(extra["api_key_param"])] = self._password
            else:
                self.session.headers[str(extra.get("api_key_header") or "X-API-Key")] = self._password
        self.limiter = RateLimiter(options.requests_per_second)
        self.requests_made = 0

    # -- OAuth2 ------------------------------------------------------------------------------------------------

    def _oauth_token(self, *, force: bool = False) -> str:
        with self._token_lock:
            if not force and self._token is not None and time.monotonic() < self._token.expires_at:
                return self._token.value
            url = self.url_for(str(self._extra["token_url"]), same_origin=False)
            form = {"grant_type": "client_credentials", "client_id": self._login, "client_secret": self._password}
            for key in ("scope", "audience"):
                if self._extra.get(key):
                    form[key] = str(self._extra[key])
            self.limiter.wait()
            response = self.session.post(url, data=form, timeout=self.options.timeout_seconds)
            if response.status_code != 200:
                raise SourceAuthError(
                    f"{self.where}: the token endpoint {urlsplit(url).path} refused the client credentials "
                    f"({response.status_code}): {response_message(response)}"
                )
            body = response.json()
            token = str(body["access_token"])
            remember(token)  # a token obtained at run time is as secret as the connection's password
            lifetime = float(body.get("expires_in") or 3600)
            margin = min(TOKEN_EXPIRY_MARGIN_SECONDS, lifetime / 2)
            self._token = _Token(token, time.monotonic() + lifetime - margin)
            log.info("%s: got an OAuth2 token valid for %.0f s", self.where, lifetime)
            return token

    # -- requests ------------------------------------------------------------------------------------------------

    def url_for(self, path_or_url: str, *, same_origin: bool = True) -> str:
        """An endpoint path under the base URL, or an absolute URL (next links), which must stay on the same host:
        the session carries the connection's credentials."""
        url = urljoin(self.base_url, path_or_url.lstrip("/") if "://" not in path_or_url else path_or_url)
        if same_origin and urlsplit(url)[:2] != self._origin:
            raise SourceRequestError(
                f"{self.where}: the API pointed to {urlsplit(url).scheme}://{urlsplit(url).netloc}, another host than "
                "the connection's; not following it with the connection's credentials"
            )
        return url

    def _get_once(self, url: str, params: dict[str, Any] | None, *, fresh_token: bool = False) -> requests.Response:
        headers = {}
        if self.auth == "oauth2":
            headers["Authorization"] = f"Bearer {self._oauth_token(force=fresh_token)}"
        self.limiter.wait()
        self.requests_made += 1
        return self.session.get(
            url,
            params={**self._params, **(params or {})},
            headers=headers,
            timeout=self.options.timeout_seconds,
            stream=True,  # the body is read by http_body, counted against the caps as it comes
        )

    def _send(self, url: str, params: dict[str, Any] | None) -> requests.Response:
        response = self._get_once(url, params)
        if response.status_code == 401 and self.auth == "oauth2":
            # Expired early or revoked: one fresh token, then the answer stands.
            response.close()
            response = self._get_once(url, params, fresh_token=True)
        path = urlsplit(url).path
        status = response.status_code
        if status < 400:
            return response
        message = f"{self.where}: GET {path} answered {status}: {response_message(response)}"
        if status == 429 or status >= 500:
            raise RetryableResponseError(message, status, _retry_after_seconds(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise SourceAuthError(f"{message} (check the credentials of the source's connection)")
        raise SourceRequestError(message)

    def _fetch(self, url: str, params: dict[str, Any] | None) -> tuple[bytearray, requests.Response]:
        """One try: the answer and its whole body, read within max_response_bytes. The body is read inside the try, so
        a connection cut in the middle of it is retried like any connection error."""
        from ingestion.extract.http_body import read_body

        response = self._send(url, params)
        body = read_body(response, cap=self.options.max_response_bytes, where=self.where, path=urlsplit(url).path)
        return body, response

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> tuple[Any, requests.Response]:
        import requests
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        from ingestion.extract.http_body import parse_json

        url = self.url_for(path_or_url)
        backoff = wait_exponential(multiplier=0.5, min=0.5, max=self.options.max_retry_wait_seconds)
        cap = self.options.max_retry_wait_seconds

        def wait(state: Any) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RetryableResponseError) and error.retry_after is not None:
                return min(error.retry_after, cap)
            return float(backoff(state))

        def before_sleep(state: Any) -> None:
            error = state.outcome.exception()
            log.warning(
                "%s: try %d of %d failed (%s); waiting %.1f s",
                self.where,
                state.attempt_number,
                self.options.max_attempts,
                error if isinstance(error, RetryableResponseError) else type(error).__name__,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            # ChunkedEncodingError: the connection closed in the middle of the body (a proxy or server restart).
            retry=retry_if_exception_type(
                (
                    RetryableResponseError,
                    requests.ConnectionError,
                    requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                )
            ),
            stop=stop_after_attempt(self.options.max_attempts),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        path = urlsplit(url).path
        try:
            raw, response = retrying(self._fetch, url, params)
        except requests.RequestException as error:
            # requests puts the whole URL, query string included, into its messages: say it without the secrets,
            # and without the original in the chain (Airflow logs chained exceptions in full).
            raise SourceUnreachableError(
                f"{self.where}: GET {path} failed after {self.options.max_attempts} tries: "
                f"{type(error).__name__}: {redact(str(error), (self._password,))}"
            ) from None
        # Not the body itself in any message: a broken page of records holds record values, which may be personal data.
        body = parse_json(
            raw, max_depth=self.options.max_json_depth, where=self.where, path=path, status=response.status_code
        )
        return body, response

    def close(self) -> None:
        self.session.close()
