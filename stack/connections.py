"""Airflow connections for the local stack, written as `AIRFLOW_CONN_*` exports to one env file.

Airflow (every component), the CLI, the demo and the tests all source the same file, so a connection id means the
same thing everywhere. docker-compose.yaml declares the same ids with container host names; a test keeps the two
in step.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from stack.settings import (
    API_TOKEN,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    PII_ENCRYPTION_KEY,
    PII_HASH_KEY,
    SFTP_PASSWORD,
    SFTP_USER,
    SMTP_DIGEST_TO,
    SMTP_FROM,
    Settings,
)

LOOPBACK = "127.0.0.1"


def azurite_connection_string(port: int, host: str = LOOPBACK) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT};"
    )


def connections(
    settings: Settings, *, sftp_host_key: str | None, sftp_key_file: Path | None
) -> dict[str, dict[str, Any]]:
    """Connection id -> Airflow connection in its JSON form."""
    p = settings.port
    sftp_extra: dict[str, Any] = {}
    if sftp_host_key:
        sftp_extra["host_key"] = sftp_host_key
    else:
        sftp_extra["no_host_key_check"] = True
    conns: dict[str, dict[str, Any]] = {
        # Sample CRM source, read through a read-only role as a real source would be.
        "crm_postgres": {
            "conn_type": "postgres",
            "host": LOOPBACK,
            "port": p("postgres"),
            "login": "crm_reader",
            "password": "crm_reader",
            "schema": "crm",
        },
        # The platform's control database (watermarks, run records, check results).
        "control_db": {
            "conn_type": "postgres",
            "host": LOOPBACK,
            "port": p("postgres"),
            "login": "ingest",
            "password": "ingest",
            "schema": "control",
        },
        "shop_mysql": {
            "conn_type": "mysql",
            "host": LOOPBACK,
            "port": p("mariadb"),
            "login": "shop",
            "password": "shop",
            "schema": "shop",
        },
        # The Kafka provider reads the confluent-kafka client config from the extra.
        "kafka_default": {
            "conn_type": "kafka",
            "extra": {"bootstrap.servers": f"{LOOPBACK}:{p('kafka')}"},
        },
        "lake_wasb": {
            "conn_type": "wasb",
            "extra": {"connection_string": azurite_connection_string(p("azurite"))},
        },
        "partner_sftp": {
            "conn_type": "sftp",
            "host": LOOPBACK,
            "port": p("sftp"),
            "login": SFTP_USER,
            "password": SFTP_PASSWORD,
            "extra": sftp_extra,
        },
        "orders_api": {
            "conn_type": "http",
            "host": LOOPBACK,
            "port": p("sample-api"),
            "schema": "http",
            # The bearer token lives in the password field, which Airflow masks in logs.
            "password": API_TOKEN,
        },
        # PII keys (see ingestion.pii.keys): the secret is the password, which Airflow masks in logs.
        "pii_hash_key": {"conn_type": "generic", "password": PII_HASH_KEY, "extra": {"key_id": "local1"}},
        "pii_encryption_key": {"conn_type": "generic", "password": PII_ENCRYPTION_KEY, "extra": {"key_id": "local1"}},
        # Webhook URLs carry their secret, so they sit in the password field like Slack's own convention.
        "teams_alerts": {
            "conn_type": "http",
            "host": LOOPBACK,
            "port": p("webhook-sink"),
            "schema": "http",
            "password": f"http://{LOOPBACK}:{p('webhook-sink')}/hooks/teams",
        },
        "slack_alerts": {
            "conn_type": "slackwebhook",
            "password": f"http://{LOOPBACK}:{p('webhook-sink')}/hooks/slack",
        },
        # E-mail alerts (ingestion.notify.email) through the SMTP sink: plain SMTP on loopback, no login. `to` is
        # the mailbox for alerts that name no person (the digest); a real relay adds login, password and TLS.
        "smtp_alerts": {
            "conn_type": "smtp",
            "host": LOOPBACK,
            "port": p("smtp-sink-smtp"),
            "extra": {
                "from_email": SMTP_FROM,
                "to": SMTP_DIGEST_TO,
                "disable_ssl": True,
                "disable_tls": True,
                "timeout": 10,
                "retry_limit": 1,
            },
        },
    }
    if sftp_key_file is not None:
        conns["partner_sftp_key"] = {
            "conn_type": "sftp",
            "host": LOOPBACK,
            "port": p("sftp"),
            "login": SFTP_USER,
            "extra": {**sftp_extra, "key_file": str(sftp_key_file)},
        }
    return conns


def conn_env_var(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


def write_env_file(settings: Settings, conns: dict[str, dict[str, Any]]) -> Path:
    lines = [
        "# Written by `python -m stack up`; source it to reach the local stack. Local-only credentials.",
        f"export STACK_STATE_DIR={shlex.quote(str(settings.state_dir))}",
    ]
    for name, port in sorted(settings.ports.items()):
        lines.append(f"export STACK_{name.upper().replace('-', '_')}_PORT={port}")
    lines.append(f"export STACK_SAMPLE_API_URL=http://{LOOPBACK}:{settings.port('sample-api')}")
    lines.append(f"export STACK_WEBHOOK_SINK_URL=http://{LOOPBACK}:{settings.port('webhook-sink')}")
    lines.append(f"export STACK_SMTP_SINK_URL=http://{LOOPBACK}:{settings.port('smtp-sink')}")
    lines.append(f"export STACK_REDIS_URL=redis://{LOOPBACK}:{settings.port('redis')}/0")
    lines.append(f"export STACK_SAMPLE_API_TOKEN={shlex.quote(API_TOKEN)}")
    for conn_id, conn in sorted(conns.items()):
        lines.append(f"export {conn_env_var(conn_id)}={shlex.quote(json.dumps(conn, sort_keys=True))}")
    settings.env_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings.env_file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o600)
    tmp.replace(settings.env_file)
    return settings.env_file


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the `export K=V` lines this module writes (the tests use it instead of a shell)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("export "):
            continue
        key, _, raw = line[len("export ") :].partition("=")
        parts = shlex.split(raw)
        values[key] = parts[0] if parts else ""
    return values
