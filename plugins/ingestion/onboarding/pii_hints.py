"""PII suggestions for a drafted column, from its name and its sampled values. Pure.

A suggestion is a guess for a person to confirm: it says what the column looks like and why (the name, or how many
sampled values match), never a value. Values are recognised by shape: e-mail addresses, phone numbers, IBANs (with
their mod-97 check), card numbers (13-19 digits passing the Luhn check), IP addresses. Names of people are
recognised by the column name only: no shape tells a name from other text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A kind matches when at least this share of the sampled non-empty values has its shape.
VALUE_SHARE = 0.5


@dataclass(frozen=True)
class PiiSuggestion:
    kind: str  # e-mail, phone, iban, card number, ip address, person name
    strategy: str  # the suggested pii_strategy
    reason: str

    def describe(self) -> str:
        return f"PII suggested ({self.kind}, {self.strategy}): {self.reason}"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{2}[./-]\d{2}[./-]\d{4}")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")


def _is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def _is_phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE.match(text) or not 7 <= digits <= 15 or _DATE_LIKE.match(text):
        return False
    return not text.replace(".", "").isdigit()  # a plain number (an id, an amount) is not a phone number


def _is_iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _is_card_number(text: str) -> bool:
    compact = re.sub(r"[\s-]", "", text)
    if not compact.isdigit() or not 13 <= len(compact) <= 19:
        return False
    total = 0
    for index, ch in enumerate(reversed(compact)):
        digit = int(ch)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# (kind, strategy, column-name pattern, value test): in order, the first that matches wins.
_KINDS: tuple[tuple[str, str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("e-mail", "hash", re.compile(r"e_?mail"), _is_email),
    ("iban", "encrypt", re.compile(r"iban|bank_?account"), _is_iban),
    ("card number", "drop", re.compile(r"card_?(num|no)|credit_?card|\bpan\b|cc_?num"), _is_card_number),
    ("ip address", "hash", re.compile(r"(^|_)ip(_|$)|ip_?addr|remote_?addr"), _is_ip),
    ("phone", "redact", re.compile(r"phone|mobile|(^|_)tel(_|$)|fax"), _is_phone),
    (
        "person name",
        "redact",
        re.compile(r"(^|_)(first|last|full|given|family|middle|sur|maiden|contact|customer|user)_?name$|^name$"),
        None,
    ),
)


def _words(name: str) -> str:
    """The column name in lower snake case (`FirstName`, `first-name` and `First Name` read as `first_name`)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def suggest_pii(name: str, values: Sequence[object]) -> PiiSuggestion | None:
    """The PII the column looks like, or None. Values are looked at, never kept or said."""
    texts = [str(v).strip() for v in values if v is not None and not isinstance(v, dict | list | bool)]
    texts = [t for t in texts if t]
    words = _words(name)
    for kind, strategy, name_pattern, value_test in _KINDS:
        by_name = bool(name_pattern.search(words))
        matching = sum(value_test(t) for t in texts) if value_test is not None else 0
        by_values = bool(texts) and matching >= VALUE_SHARE * len(texts)
        if by_name and by_values:
            return PiiSuggestion(kind, strategy, f"the name, and {matching} of {len(texts)} sampled value(s)")
        if by_values:
            return PiiSuggestion(kind, strategy, f"{matching} of {len(texts)} sampled value(s) look like one")
        if by_name:
            return PiiSuggestion(kind, strategy, f"the column name {name!r}")
    return None
