"""Credentials never survive into messages: query-string keys under any common name, also percent-encoded, a webhook's
`sig`, and values this process was told are secret in every spelling a URL gives them."""

from __future__ import annotations

import pytest

from ingestion.notify.alert import short_error
from ingestion.redact import MASK, redact, remember, remember_url_secrets

KEY = "k3y+Val/ue=="  # characters a URL encodes: the encoded spelling must go as well


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Max retries exceeded with url: /v1/orders?key=Zq81canary&page=1", "Zq81canary"),
        ("GET /v1/orders?page=2&api_key=Zq81canary", "Zq81canary"),
        ("GET /v1/orders?apikey=Zq81canary&page=2", "Zq81canary"),
        ("GET /v1/orders?access_token=Zq81canary", "Zq81canary"),
        ("GET /v1/orders?token=Zq81canary", "Zq81canary"),
        (
            "POST /workflows/1/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers&sv=1.0&sig=Zq81canary",
            "Zq81canary",
        ),
        ("https://x/cb?signature=Zq81canary&x=1", "Zq81canary"),
        ("https://x/oauth/cb?code=Zq81canary&state=1", "Zq81canary"),
        ("https://x/login?user=a&password=Zq81canary", "Zq81canary"),
        ("https://x/login?user=a&PASSWORD=Zq81canary", "Zq81canary"),
        # A URL inside a URL: the inner query string is percent-encoded.
        ("redirect to https://sso/?next=https%3A%2F%2Fapi%2Fv1%3Fkey%3DZq81canary%26page%3D1", "Zq81canary"),
        ("https://sso/?next=https%3A%2F%2Fapi%2Fv1%3Fpage%3D1%26api_key%3DZq81canary", "Zq81canary"),
        ("the value is key=Zq81canary%2B%2F%3D%3D", "Zq81canary"),
        ('{"client_secret": "Zq81canary"}', "Zq81canary"),
        ("postgresql://reader:Zq81canary@db:5432/crm", "Zq81canary"),
        ("redis://:Zq81canary@cache:6379/0", "Zq81canary"),  # a URL whose user is empty
        ("Authorization: Bearer Zq81canaryZq81canary", "Zq81canary"),
    ],
)
def test_credential_shapes_are_masked_in_messages_and_alerts(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert secret not in short_error(ConnectionError(text))  # what failure alerts and delivery logs carry


def test_a_remembered_secret_is_masked_as_is_and_percent_encoded() -> None:
    remember(KEY)
    for text in (
        f"the API answered 401 to {KEY}",
        "Max retries exceeded with url: /v1/orders?page=1&q=k3y%2BVal%2Fue%3D%3D",
        "form body q=k3y%2BVal/ue%3D%3D",
        "k3y%2BVal%2Fue%3D%3D in a path",
    ):
        redacted = redact(text)
        assert "k3y" not in redacted, redacted
        assert MASK in redacted


def test_a_webhook_urls_query_values_are_remembered() -> None:
    remember_url_secrets("https://prod.logic.azure.com/workflows/abc/invoke?api-version=1&sig=Wh00kSigCanary")
    assert "Wh00kSigCanary" not in redact("posting failed: Wh00kSigCanary (connection reset)")


def test_ordinary_text_is_left_alone() -> None:
    text = "crm.orders: 3 value(s) of status not in ['new', 'paid']; primary_key=order_id; GET /v1/orders answered 500"
    assert redact(text) == text


def test_a_remembered_word_that_names_a_parameter_does_not_hide_the_parameters_value() -> None:
    # A known secret may be a word like this (a password, or what Airflow's masker holds in a long-lived worker);
    # the key after it must still go. `known` rather than remember(): the remembered set is process-wide.
    assert redact("GET /v1/orders?page=2&api_key=Zq81canary", known=("api_key",)) == "GET /v1/orders?page=2&***=***"
