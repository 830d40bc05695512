"""Where the native stack keeps its files and which loopback ports it uses. Every value can be overridden by env."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Azurite's well-known development account: public, documented, and accepted by nothing but the emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# Users and passwords of the throwaway local services. They exist only on 127.0.0.1 and are rebuilt each `up`.
SFTP_USER = "ingest_sftp"
SFTP_PASSWORD = "sftp-local-only"
API_TOKEN = "sample-api-local-token"
# Sender and fallback recipient of e-mail alerts on the local stack (the SMTP sink takes any address).
SMTP_FROM = "airflow-alerts@example.com"
SMTP_DIGEST_TO = "data-platform-alerts@example.com"
# PII keys of the local stack only: an HMAC key (>= 32 bytes) and a base64 AES-256 key. Production keys come from
# the secrets backend under the same connection ids.
PII_HASH_KEY = "local-only-hmac-key-for-pii-hashing-0001"
PII_ENCRYPTION_KEY = "bG9jYWwtb25seS1hZXMtMjU2LWtleS1mb3ItcGlpLTE="

# Services in start order; `down` stops them in reverse.
ALL_SERVICES = ("postgres", "redis", "mariadb", "kafka", "azurite", "sftp", "sample-api", "webhook-sink", "smtp-sink")

# Below Linux's ephemeral range (32768-60999), so an outgoing connection can never hold one of them
# as its source port when a service starts.
DEFAULT_PORTS = {
    "postgres": 25432,
    # The Celery broker of `make airflow EXECUTOR=celery` (Redis's 6379 moved into the stack's range).
    "redis": 26379,
    "mariadb": 23306,
    "kafka": 29092,
    "kafka-controller": 29093,
    "azurite": 20000,
    "sftp": 22222,
    "sample-api": 28080,
    "webhook-sink": 28081,
    # The SMTP sink: its HTTP side (health, the messages it received), then the SMTP port alerts are sent to.
    "smtp-sink": 28082,
    "smtp-sink-smtp": 28025,
}

# Containers created in Azurite for the landing zone.
LAKE_CONTAINERS = ("landing", "sensitive")


def _env_name(service: str) -> str:
    return "STACK_" + service.upper().replace("-", "_") + "_PORT"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    data_dir: Path
    tools_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    ready_timeout: float = 120.0
    services: tuple[str, ...] = ALL_SERVICES

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    @property
    def kafka_libs(self) -> Path:
        return self.tools_dir / "kafka-libs"

    @property
    def azurite_dir(self) -> Path:
        return REPO / "stack" / "azurite"

    def port(self, service: str) -> int:
        return self.ports[service]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        state_dir = Path(env.get("STACK_STATE_DIR", REPO / ".stack")).resolve()
        # Postgres and MariaDB drop root privileges, so their data must sit where their users can reach it:
        # not inside a checkout that may live under /root. One data dir per state dir keeps stacks apart.
        digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:10]
        data_dir = Path(env.get("STACK_DATA_DIR", f"/tmp/ingest-stack-{digest}")).resolve()
        tools_dir = Path(env.get("STACK_TOOLS_DIR", REPO / ".tools")).resolve()
        # A second stack beside the first (the test runner's second lane): every default port moved by one offset.
        offset = env.get("STACK_PORT_OFFSET", "0")
        if not offset.isdigit() or int(offset) + max(DEFAULT_PORTS.values()) > 32767:
            raise ValueError(f"STACK_PORT_OFFSET={offset!r}: a number that keeps every port below 32768")
        ports = {}
        for name, default in DEFAULT_PORTS.items():
            raw = env.get(_env_name(name), str(default + int(offset)))
            if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
                raise ValueError(f"{_env_name(name)}={raw!r}: a port must be a number from 1024 to 65535")
            ports[name] = int(raw)
        services: tuple[str, ...] = ALL_SERVICES
        if env.get("STACK_SERVICES"):
            wanted = [s.strip() for s in env["STACK_SERVICES"].split(",") if s.strip()]
            unknown = sorted(set(wanted) - set(ALL_SERVICES))
            if unknown:
                raise ValueError(f"STACK_SERVICES names unknown services {unknown}; known: {list(ALL_SERVICES)}")
            services = tuple(s for s in ALL_SERVICES if s in wanted)
        return cls(
            state_dir=state_dir,
            data_dir=data_dir,
            tools_dir=tools_dir,
            ports=ports,
            ready_timeout=float(env.get("STACK_READY_TIMEOUT", "120")),
            services=services,
        )
