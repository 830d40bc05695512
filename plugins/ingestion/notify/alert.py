"""What an alert says, built from a task's context and the entity's plan. Pure apart from reading the context.

An alert carries what the person on call needs without opening anything else: severity, source, entity, DAG, task,
run and try, the error in short, counts, the owners, a link to the run in the Airflow UI and the runbook (the DAG's
Docs tab, generated from the config). Text that could hold a secret is scrubbed before it goes anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ingestion.redact import redact

if TYPE_CHECKING:
    from ingestion.planner import EntityPlan

MAX_ERROR_CHARS = 500


def scrub(text: str, known_secrets: tuple[str, ...] = ()) -> str:
    """The text with credentials replaced by *** (ingestion.redact: Airflow's masker, the secrets this process
    remembered, `known_secrets` and credential shapes such as `?key=...`, `&sig=...`, URL user-info)."""
    return redact(text, known_secrets)


def short_error(error: BaseException | str | None) -> str:
    if error is None:
        return ""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = scrub(" ".join(text.split()))
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True)
class Alert:
    kind: str  # failure, retry, deadline, zero_rows, check_failed, reconciliation, long_run, escalation, summary
    severity: str  # critical, high, medium, low
    title: str
    source: str
    entity: str | None
    dag_id: str
    task_id: str | None
    run_id: str | None
    try_number: int | None
    error: str
    owner: str
    secondary_owner: str | None
    team: str
    run_url: str | None
    runbook_url: str | None
    counts: dict[str, Any] = field(default_factory=dict)
    # What the reader must know about this post itself, shown under the title (e.g. that it was throttled on one
    # machine only because the control database was down). Set on the post, never on the alert's record.
    notice: str = ""
    # The team lead, named on critical incidents (data loss suspected) so they hear of it at once (notify.oncall).
    lead: str | None = None

    def facts(self) -> list[tuple[str, str]]:
        """Label and value pairs, in the order a reader wants them (Teams FactSet, Slack fields)."""
        rows = [
            ("Severity", self.severity.upper()),
            ("Source", self.source),
            ("Entity", self.entity or "-"),
            ("DAG", self.dag_id),
            ("Task", self.task_id or "-"),
            ("Run", self.run_id or "-"),
            ("Try", str(self.try_number) if self.try_number is not None else "-"),
            ("Owner", self.owner),
            ("Secondary owner", self.secondary_owner or "-"),
            ("Team", self.team),
        ]
        if self.lead:
            rows.append(("Lead", self.lead))
        rows += [(name.replace("_", " ").capitalize(), str(value)) for name, value in self.counts.items()]
        return rows


def airflow_base_url() -> str:
    try:
        from airflow.sdk.configuration import conf

        return str(conf.get("api", "base_url", fallback="http://localhost:8080")).rstrip("/")
    except ImportError:
        return "http://localhost:8080"


def run_url(base: str, dag_id: str, run_id: str | None, task_id: str | None = None) -> str:
    url = f"{base}/dags/{quote(dag_id, safe='')}"
    if run_id:
        url += f"/runs/{quote(run_id, safe='')}"
        if task_id:
            url += f"/tasks/{quote(task_id, safe='')}"
    return url


def runbook_url(base: str, dag_id: str) -> str:
    return f"{base}/dags/{quote(dag_id, safe='')}/docs"  # the DAG's doc_md: the runbook generated from the config


def alert_from_context(
    context: Any, plan: EntityPlan, *, kind: str, severity: str, title: str, counts: dict[str, Any] | None = None
) -> Alert:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", None) or f"ingest_{plan.source}"
    run_id = getattr(dag_run, "run_id", None)
    task_id = getattr(ti, "task_id", None)
    base = airflow_base_url()
    owners = plan.owners
    return Alert(
        kind=kind,
        severity=severity,
        title=scrub(title),
        source=plan.source,
        entity=plan.entity.name,
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        try_number=getattr(ti, "try_number", None),
        error=short_error(context.get("exception")),
        owner=owners.primary if owners else "-",
        secondary_owner=owners.secondary if owners else None,
        team=owners.team if owners else "-",
        run_url=run_url(base, dag_id, run_id, task_id),
        runbook_url=runbook_url(base, dag_id),
        counts=counts or {},
    )
