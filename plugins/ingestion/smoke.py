"""`platform_smoke_check`: one task per provider hook, proving every connection of the deployment works.

It is the demo's first step and a quick check after a deployment or a credentials change. Each task opens its
hook at execute time, does one small real operation, and returns a short summary (never data) over XCom.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

SMOKE_DAG_ID = "platform_smoke_check"
SMOKE_TOPIC = "platform.smoke"
SMOKE_CONTAINER = "landing"


@task(task_id="read_postgres")
def read_postgres(conn_id: str = "crm_postgres") -> dict[str, Any]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    rows = PostgresHook(postgres_conn_id=conn_id).get_first(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders)"
    )
    return {"customers": rows[0], "orders": rows[1]}


@task(task_id="read_mysql")
def read_mysql(conn_id: str = "shop_mysql") -> dict[str, Any]:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    (count,) = MySqlHook(mysql_conn_id=conn_id).get_first("SELECT count(*) FROM products")
    return {"products": count}


@task(task_id="write_lake")
def write_lake(conn_id: str = "lake_wasb", **context: Any) -> dict[str, Any]:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    hook = WasbHook(wasb_conn_id=conn_id)
    blob = f"_smoke/{context['dag_run'].run_id.replace(':', '_')}.txt"
    hook.load_string("smoke", container_name=SMOKE_CONTAINER, blob_name=blob, overwrite=True)
    return {"blob": f"{SMOKE_CONTAINER}/{blob}", "exists": hook.check_for_blob(SMOKE_CONTAINER, blob)}


@task(task_id="produce_kafka")
def produce_kafka(conn_id: str = "kafka_default", **context: Any) -> dict[str, Any]:
    from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

    delivered: list[Any] = []
    producer = KafkaProducerHook(kafka_config_id=conn_id).get_producer()
    producer.produce(
        SMOKE_TOPIC,
        key=b"smoke",
        value=context["dag_run"].run_id.encode(),
        on_delivery=lambda err, msg: delivered.append(err or (msg.partition(), msg.offset())),
    )
    remaining = producer.flush(30)
    if remaining or not delivered or not isinstance(delivered[0], tuple):
        raise RuntimeError(f"Kafka delivery failed: {delivered or 'timed out'}")
    partition, offset = delivered[0]
    return {"topic": SMOKE_TOPIC, "partition": partition, "offset": offset}


@task(task_id="list_sftp")
def list_sftp(conn_id: str = "partner_sftp", path: str = "inbound/partners") -> dict[str, Any]:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    files = sorted(SFTPHook(ssh_conn_id=conn_id).list_directory(path) or [])
    return {"path": path, "files": files}


@task(task_id="call_api")
def call_api(conn_id: str = "orders_api") -> dict[str, Any]:
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.sdk import BaseHook

    token = BaseHook.get_connection(conn_id).password
    response = HttpHook(method="GET", http_conn_id=conn_id).run(
        "/v1/orders", data={"page": 1, "page_size": 10}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    return {"records_on_page": len(body["data"]), "total": body["meta"]["total"]}


@task(task_id="source_connections")
def source_connections() -> dict[str, Any]:
    """Every source config's connection resolves in this deployment and answers its hook's own connection test, so
    a release whose new source names a connection the environment lacks fails here, before its first run."""
    from airflow.sdk import BaseHook

    from ingestion.config.loader import load_configs
    from ingestion.paths import config_dir

    results: dict[str, Any] = {}
    failed: list[str] = []
    for name, config in sorted(load_configs(config_dir()).configs.items()):
        outcome = "ok"
        try:
            conn = BaseHook.get_connection(config.conn_id)
            if config.kind.value == "sftp":
                from airflow.providers.sftp.hooks.sftp import SFTPHook

                answered, _ = SFTPHook(ssh_conn_id=config.conn_id).test_connection()
            elif config.kind.value == "sql":
                answered, _ = conn.get_hook().test_connection()
            else:  # http: its endpoints need the source's paging and auth; resolving the connection is the check
                answered = True
            # The hooks' messages may quote a host or a URI: the outcome is all that is reported.
            outcome = "ok" if answered else "does not answer"
        except Exception as exc:  # noqa: BLE001 - reported per source, by type only (a message may quote a URI)
            outcome = f"not usable ({type(exc).__name__})"
        results[name] = {"conn_id": config.conn_id, "outcome": outcome}
        if outcome != "ok":
            failed.append(f"{name}: {config.conn_id} {outcome}")
    if failed:
        raise RuntimeError(f"source connections failed: {'; '.join(failed)}")
    return results


@task(task_id="post_alert")
def post_alert(conn_id: str = "slack_alerts", **context: Any) -> dict[str, Any]:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    response = SlackWebhookHook(slack_webhook_conn_id=conn_id).send_text(
        f"platform smoke check {context['dag_run'].run_id}: all connections answered"
    )
    return {"status": response.status_code}


def build_smoke_dag() -> DAG:
    with DAG(
        dag_id=SMOKE_DAG_ID,
        description="One small real operation through each provider hook the platform uses",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["platform", "smoke"],
        default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=5)},
        doc_md=__doc__,
    ) as dag:
        checks = [
            read_postgres(),
            read_mysql(),
            write_lake(),
            produce_kafka(),
            list_sftp(),
            call_api(),
            source_connections(),
        ]
        # The alert goes last so it only claims success once every other check passed.
        checks >> post_alert()
    return dag
