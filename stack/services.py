"""The local stack's services: how each is prepared, started, probed for readiness and seeded.

Data of every service is thrown away and rebuilt on `up`, so tests always start from the seeded state.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from stack.procs import ManagedProcess, StackError
from stack.settings import (
    API_TOKEN,
    LAKE_CONTAINERS,
    REPO,
    SFTP_PASSWORD,
    SFTP_USER,
    Settings,
)

SEED_DIR = REPO / "stack" / "seed"
IS_ROOT = os.geteuid() == 0


def run(argv: list[str], service: str, *, input_text: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run a set-up command; on failure raise a StackError that names the service and shows the output."""
    try:
        done = subprocess.run(argv, input=input_text, capture_output=True, text=True, env=env, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{service}: `{argv[0]}` failed: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise StackError(f"{service}: `{' '.join(argv[:3])} ...` exited {done.returncode}:\n{output}")
    return done.stdout


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except (urllib.error.URLError, OSError):
        return False


def as_user(user: str) -> list[str]:
    """Prefix that runs a command as `user` when we are root (setpriv execs, so the PID stays the service's)."""
    if not IS_ROOT:
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def chown_tree(path: Path, user: str) -> None:
    if not IS_ROOT:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def require_binary(path: str | None, service: str, package: str) -> str:
    if path and Path(path).exists():
        return path
    raise StackError(
        f"{service}: {package} is not installed. Run `bash scripts/bootstrap.sh` (as root it apt-installs it), "
        f"or `apt-get install {package}`."
    )


class Service:
    name: str = ""
    stop_signal = signal.SIGTERM

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.proc = ManagedProcess(self.name, settings.pid_dir, settings.log_dir)
        self.data = settings.data_dir / self.name

    @property
    def port(self) -> int:
        return self.s.port(self.name)

    @property
    def built_state(self) -> Path | None:
        """What `up` builds and a restart (`start NAME`) needs in place; None when the service keeps no state."""
        return self.data

    def fresh_data_dir(self) -> Path:
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True)
        return self.data

    def prepare(self) -> None:
        """Install-free set-up before start (config files, empty data dirs)."""

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def ready(self) -> bool:
        return tcp_open(self.port)

    def seed(self) -> None:
        """Load sample data once the service answers."""

    def check_port_free(self) -> None:
        if tcp_open(self.port):
            raise StackError(
                f"{self.name}: port {self.port} on 127.0.0.1 is already in use by another process; "
                f"free it or set {('STACK_' + self.name.upper().replace('-', '_') + '_PORT')}"
            )


class Postgres(Service):
    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, then exit

    def _bin(self, tool: str) -> str:
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), key=lambda p: int(p.parts[-3]))
        found = str(candidates[-1]) if candidates else shutil.which(tool)
        return require_binary(found, self.name, "postgresql")

    def prepare(self) -> None:
        data = self.fresh_data_dir()
        self.s.data_dir.chmod(0o755)
        chown_tree(data, "postgres")
        run(
            [
                *as_user("postgres"),
                self._bin("initdb"),
                "-D",
                str(data / "pgdata"),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            self.name,
        )

    def command(self) -> list[str]:
        # A throwaway cluster: durability settings off for speed, loopback only, socket in its own dir.
        return [
            *as_user("postgres"),
            self._bin("postgres"),
            "-D",
            str(self.data / "pgdata"),
            "-p",
            str(self.port),
            "-k",
            str(self.data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "max_connections=100",
            "-c",
            "timezone=UTC",
        ]

    def ready(self) -> bool:
        done = subprocess.run([self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False)
        return done.returncode == 0

    def psql(self, sql_file: Path, database: str = "postgres") -> str:
        return run(
            [
                self._bin("psql"),
                "-h",
                str(self.data),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-f",
                str(sql_file),
            ],
            self.name,
        )

    def seed(self) -> None:
        self.psql(SEED_DIR / "postgres.sql")


class Redis(Service):
    """Debian's redis-server: the Celery broker of `make airflow EXECUTOR=celery`. Queued task messages only, so
    nothing is persisted."""

    name = "redis"

    def _server(self) -> str:
        return require_binary(shutil.which("redis-server") or "/usr/bin/redis-server", self.name, "redis-server")

    def prepare(self) -> None:
        self._server()  # before the chown to its user, which the package creates
        data = self.fresh_data_dir()
        self.s.data_dir.chmod(0o755)
        chown_tree(data, "redis")

    def command(self) -> list[str]:
        server = self._server()
        # No config file: Debian's /etc/redis/redis.conf is for the system service (port 6379, its own pid file).
        return [
            *as_user("redis"),
            server,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--dir",
            str(self.data),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


class MariaDB(Service):
    name = "mariadb"

    def _socket(self) -> Path:
        return self.data / "mysqld.sock"

    def _tmp(self) -> Path:
        # MariaDB writes temporary files to TMPDIR, which may be a folder only the caller can write (mktemp -d).
        return self.data / "tmp"

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self._tmp())}

    def prepare(self) -> None:
        data = self.fresh_data_dir()
        self.s.data_dir.chmod(0o755)
        self._tmp().mkdir()
        installer = require_binary(shutil.which("mariadb-install-db"), self.name, "mariadb-server")
        argv = [
            installer,
            "--no-defaults",
            f"--datadir={data / 'db'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        if IS_ROOT:
            chown_tree(data, "mysql")
            argv.append("--user=mysql")
        run(argv, self.name, env=self.env())

    def command(self) -> list[str]:
        server = require_binary(shutil.which("mariadbd") or "/usr/sbin/mariadbd", self.name, "mariadb-server")
        argv = [
            server,
            "--no-defaults",
            f"--datadir={self.data / 'db'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self._socket()}",
            f"--pid-file={self.data / 'mariadb.pid'}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=2",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00",
            f"--tmpdir={self._tmp()}",
        ]
        if IS_ROOT:
            argv.append("--user=mysql")
        return argv

    def _client(self) -> list[str]:
        client = require_binary(shutil.which("mariadb"), self.name, "mariadb-client")
        return [client, "--no-defaults", f"--socket={self._socket()}", "-uroot", "--default-character-set=utf8mb4"]

    def ready(self) -> bool:
        done = subprocess.run([*self._client(), "-e", "SELECT 1"], capture_output=True, check=False)
        return done.returncode == 0

    def seed(self) -> None:
        run(self._client(), self.name, input_text=(SEED_DIR / "mariadb.sql").read_text())


class Kafka(Service):
    name = "kafka"

    def _config(self) -> Path:
        return self.data / "server.properties"

    def _java(self) -> list[str]:
        java = require_binary(shutil.which("java"), self.name, "openjdk-17-jre-headless")
        if not any(self.s.kafka_libs.glob("kafka_2.13-*.jar")):
            raise StackError(
                f"{self.name}: broker jars missing in {self.s.kafka_libs}; run `bash scripts/bootstrap.sh`"
            )
        return [
            java,
            "-cp",
            f"{self.s.kafka_libs}/*",
            f"-Dlog4j2.configurationFile={REPO / 'stack' / 'kafka' / 'log4j2.yaml'}",
        ]

    def prepare(self) -> None:
        data = self.fresh_data_dir()
        ctrl = self.s.port("kafka-controller")
        self._config().write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{ctrl}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{ctrl}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={data / 'logs'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    # Kafka's default, stated: the longest transaction timeout a producer may ask for. Source configs
                    # are held to it (ingestion.config.models.BROKER_TRANSACTION_MAX_TIMEOUT_MS), and
                    # tests/integration/publish/test_transaction_timeout.py checks that this broker agrees.
                    "transaction.max.timeout.ms=900000",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                ]
            )
            + "\n"
        )
        cluster_id = run([*self._java(), "kafka.tools.StorageTool", "random-uuid"], self.name).strip().splitlines()[-1]
        run(
            [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self._config())], self.name
        )

    def command(self) -> list[str]:
        java = self._java()
        # Heap capped: the broker shares 2 cores and the memory budget with everything else.
        return [java[0], "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", *java[1:], "kafka.Kafka", str(self._config())]

    def check_port_free(self) -> None:
        super().check_port_free()
        if tcp_open(self.s.port("kafka-controller")):
            raise StackError(f"{self.name}: controller port {self.s.port('kafka-controller')} is already in use")

    def ready(self) -> bool:
        if not tcp_open(self.port):
            return False
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:
            return True
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{self.port}"})
        metadata = admin.list_topics(timeout=3)
        return bool(metadata.brokers)


class Azurite(Service):
    name = "azurite"

    def prepare(self) -> None:
        self.fresh_data_dir()

    def command(self) -> list[str]:
        entry = self.s.azurite_dir / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
        if not entry.exists():
            raise StackError(f"{self.name}: not installed in {self.s.azurite_dir}; run `bash scripts/bootstrap.sh`")
        node = require_binary(shutil.which("node"), self.name, "nodejs")
        # The Python SDK's API version is newer than Azurite's: skip the check. Blob service only.
        return [
            node,
            str(entry),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--location",
            str(self.data),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
        ]

    def ready(self) -> bool:
        return http_answers(f"http://127.0.0.1:{self.port}/devstoreaccount1?comp=list")

    def seed(self) -> None:
        try:
            from azure.core.exceptions import ResourceExistsError
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            return  # containers are created on first use by the platform as well
        from stack.connections import azurite_connection_string

        client = BlobServiceClient.from_connection_string(azurite_connection_string(self.port))
        for container in LAKE_CONTAINERS:
            with contextlib.suppress(ResourceExistsError):
                client.create_container(container)


class Sftp(Service):
    name = "sftp"

    @property
    def ssh_dir(self) -> Path:
        return self.s.state_dir / "sftp"

    @property
    def built_state(self) -> Path | None:
        return self.ssh_dir  # its config, host key and the client's key

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "client_ed25519"

    @property
    def authorized_keys(self) -> Path:
        # sshd reads it as the SFTP user, who cannot reach a checkout under /root or in a `mktemp -d` folder: it
        # lives in the stack's data dir (world-readable) instead of beside the other keys.
        return self.data / "authorized_keys"

    def host_public_key(self) -> str | None:
        pub = self.ssh_dir / "ssh_host_ed25519_key.pub"
        if not pub.exists():
            return None
        key_type, key = pub.read_text().split()[:2]
        return f"{key_type} {key}"

    def home(self) -> Path:
        return Path(pwd.getpwnam(SFTP_USER).pw_dir)

    def prepare(self) -> None:
        if not IS_ROOT:
            raise StackError(
                f"{self.name}: the native sshd needs root to create the test user {SFTP_USER!r}; "
                "run as root, or use docker-compose"
            )
        require_binary("/usr/sbin/sshd", self.name, "openssh-server")
        shutil.rmtree(self.ssh_dir, ignore_errors=True)
        self.ssh_dir.mkdir(parents=True)
        keygen = require_binary(shutil.which("ssh-keygen"), self.name, "openssh-client")
        run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(self.ssh_dir / "ssh_host_ed25519_key")], self.name)
        run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", SFTP_USER, "-f", str(self.client_key)], self.name)
        self.fresh_data_dir()
        self.s.data_dir.chmod(0o755)
        shutil.copy(self.ssh_dir / "client_ed25519.pub", self.authorized_keys)
        self.authorized_keys.chmod(0o644)
        try:
            pwd.getpwnam(SFTP_USER)
        except KeyError:
            run(["useradd", "--create-home", "--shell", "/bin/sh", SFTP_USER], self.name)
        run(["chpasswd"], self.name, input_text=f"{SFTP_USER}:{SFTP_PASSWORD}\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        (self.ssh_dir / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.ssh_dir / 'ssh_host_ed25519_key'}",
                    f"PidFile {self.ssh_dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "StrictModes no",
                    "PasswordAuthentication yes",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "UsePAM no",
                    "PermitRootLogin no",
                    f"AllowUsers {SFTP_USER}",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "Subsystem sftp internal-sftp",
                    "ForceCommand internal-sftp",
                    "LogLevel INFO",
                ]
            )
            + "\n"
        )
        self._seed_files()

    def _seed_files(self) -> None:
        """Seed the partner drop: CSV and JSON Lines, one of them gzipped, under ~/inbound/partners."""
        inbound = self.home() / "inbound"
        shutil.rmtree(inbound, ignore_errors=True)
        target = inbound / "partners"
        target.mkdir(parents=True)
        for src in sorted((SEED_DIR / "sftp").iterdir()):
            shutil.copy(src, target / src.name)
        (inbound / "archive").mkdir()
        chown_tree(inbound, SFTP_USER)

    def command(self) -> list[str]:
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.ssh_dir / "sshd_config")]

    def ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            return sock.recv(64).startswith(b"SSH-")


class PythonApp(Service):
    """A FastAPI app from stack/apps, served by uvicorn from the project's virtualenv."""

    module = ""

    @property
    def built_state(self) -> Path | None:
        return None  # state lives in the process; a restart starts it afresh

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.module,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(REPO), "SAMPLE_API_TOKEN": API_TOKEN}

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as resp:
            return json.load(resp).get("status") == "ok"


class SampleApi(PythonApp):
    name = "sample-api"
    module = "stack.apps.sample_api:app"


class WebhookSink(PythonApp):
    name = "webhook-sink"
    module = "stack.apps.webhook_sink:app"


class SmtpSink(PythonApp):
    """Records e-mail alerts: SMTP on its own port, what it received over HTTP on the service's port."""

    name = "smtp-sink"
    module = "stack.apps.smtp_sink:app"

    @property
    def smtp_port(self) -> int:
        return self.s.port("smtp-sink-smtp")

    def env(self) -> dict[str, str]:
        return {**super().env(), "SMTP_SINK_HOST": "127.0.0.1", "SMTP_SINK_SMTP_PORT": str(self.smtp_port)}

    def check_port_free(self) -> None:
        super().check_port_free()
        if tcp_open(self.smtp_port):
            raise StackError(
                f"{self.name}: SMTP port {self.smtp_port} on 127.0.0.1 is already in use by another process; "
                "free it or set STACK_SMTP_SINK_SMTP_PORT"
            )


SERVICE_CLASSES: dict[str, type[Service]] = {
    cls.name: cls for cls in (Postgres, Redis, MariaDB, Kafka, Azurite, Sftp, SampleApi, WebhookSink, SmtpSink)
}
