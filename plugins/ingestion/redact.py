"""Keep credentials out of text that leaves a process: log lines, exception messages, alerts, control-DB rows.

Two nets, both applied by `redact`:
- values this process was told are secret (`remember`: connection passwords, API keys, tokens, webhook signatures),
  in every spelling a URL or a form may give them (as is, percent-encoded, `+` for spaces);
- credential shapes whatever their value: the value of a query or form parameter with a secret-looking name
  (`key`, `api_key`, `apikey`, `token`, `access_token`, `sig`, `signature`, `code`, `password`, ...), also inside a
  percent-encoded URL (`%3Fkey%3D...`), the user-info of a URL, `Authorization` schemes (Bearer, Basic).

`remember` also hands the value and its spellings to Airflow's secrets masker when running under Airflow, so task
log lines written by other libraries (requests, urllib3, providers) are masked as well. Pure apart from that.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "***"
# Shorter values are not remembered: replacing them would shred ordinary text, and Airflow skips them too.
MIN_SECRET_CHARS = 5

# Parameter names whose values are credentials. `key`, `sig` and `code` are short and common words, so they count
# only as parameters (`name=value`); the others also in `name: value` text (JSON, YAML, messages).
_URL_ONLY_NAMES = r"key|sig|code"
_CREDENTIAL_NAMES = (
    r"[a-z0-9_-]*(?:api[_-]?key|apikey|access[_-]?key|account[_-]?key|secret|token|passw(?:or)?d|pwd|signature"
    r"|credential|authorization)[a-z0-9_-]*"
)
_NAME_START = r"(?:(?<=%26)|(?<=%3F)|(?<=%3f)|(?<![A-Za-z0-9_%-]))"
# A parameter value ends at the next parameter (also percent-encoded), white space, a quote or a bracket.
_VALUE = r"(?:(?!%26|%23)[^\s&#;,'\"<>()\[\]{}])+"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # URL user-info: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]+@"), r"\1***:***@"),  # the user may be empty
    # Authorization schemes, before `name: value` below takes the scheme's name for the value.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # name=value and name%3Dvalue (query strings, forms, percent-encoded URLs inside URLs)
    (re.compile(rf"(?i){_NAME_START}({_CREDENTIAL_NAMES}|{_URL_ONLY_NAMES})(=|%3D)({_VALUE})"), rf"\1\2{MASK}"),
    # name: value, name="value", "name": "value"
    (
        re.compile(rf"(?i){_NAME_START}({_CREDENTIAL_NAMES})([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s;,&'\"]+)"),
        rf"\1\2{MASK}",
    ),
)

_lock = threading.Lock()
_remembered: set[str] = set()
_replacer: re.Pattern[str] | None = None


def spellings(secret: str) -> set[str]:
    """The value as it may appear in text: as is, and as a URL path, query or form would encode it."""
    forms = (secret, quote(secret, safe=""), quote(secret), quote_plus(secret))
    return {form for form in forms if len(form) >= MIN_SECRET_CHARS}


def remember(*secrets: str | None) -> None:
    """Treat these values as secret from now on in this process: `redact` replaces them, and so does Airflow's log
    masker (if this runs under Airflow)."""
    global _replacer
    new = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS:
            new |= spellings(secret)
    if not new - _remembered:
        return
    with _lock:
        _remembered.update(new)
        # Longest first, so a value is masked whole even when a shorter one is part of it.
        ordered = sorted(_remembered, key=len, reverse=True)
        _replacer = re.compile("|".join(re.escape(s) for s in ordered))
    _mask_in_airflow(new)


def remember_url_secrets(url: str | None) -> None:
    """Remember the credentials a URL carries: its user-info password and every query parameter value (a webhook
    URL's `sig`, an API key): for a webhook, the whole query is what grants access."""
    if not url:
        return
    parts = urlsplit(url)
    values = [parts.password] + [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    remember(url, *values)


def redact(text: str, known: Iterable[str] = ()) -> str:
    """The text with every secret Airflow's masker knows in this process, every remembered one, every value of
    `known` and every credential shape replaced by ***."""
    # Shapes first: a remembered value may be a word that also names a parameter (`api_key`), and masking it first
    # would leave `***=<the key>`, which no shape matches any more.
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact

        text = str(airflow_redact(text))
    except ImportError:  # outside Airflow
        pass
    known = [k for k in known if k and len(k) >= MIN_SECRET_CHARS]
    if known:
        for value in sorted({s for k in known for s in spellings(k)}, key=len, reverse=True):
            text = text.replace(value, MASK)
    replacer = _replacer
    if replacer is not None:
        text = replacer.sub(MASK, text)
    return text


def _mask_in_airflow(values: Iterable[str]) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # outside Airflow: nothing else writes logs to mask
        return
    for value in values:
        mask_secret(value)
