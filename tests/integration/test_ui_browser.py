"""The Airflow UI in a real browser (Debian's headless Chromium, driven by Playwright) against `make airflow`'s
components on the stack: what a data engineer clicks through.

- log in; the DAG list shows the sample DAGs with their team tags and owners;
- ingest_crm's Docs button shows the runbook's sections;
- ingest_crm triggered from the UI's trigger form with {"full_refresh": true} succeeds;
- the Ingestion view lists every sample entity with its state, an entity whose validation failed shows the failing
  check, and an entity page shows its runs and watermark history;
- a broken config in the folder: the import-error banner names the file and the field.

A page fails its test if it shows an error or nothing, or if the browser logs a console error. Screenshots go to
SCREENSHOTS (CI keeps them as an artefact, pass or fail).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.integration.airflow_rest import AirflowRest
from tests.integration.support import COMPONENT_SETTINGS, REPO, airflow_env, free_port, start_airflow

SCREENSHOTS = Path(os.environ.get("UI_SCREENSHOTS", REPO / "test-artifacts" / "screenshots"))
CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/bootstrap.sh): Playwright cannot download its own browsers here
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SAMPLE_DAGS = {
    "ingest_crm": "crm-data",
    "ingest_orders_api": "commerce-data",
    "ingest_partner_files": "partner-integrations",
}
SAMPLE_ENTITIES = {
    ("crm", "customers"),
    ("crm", "orders"),
    ("orders_api", "orders"),
    ("partner_files", "customers"),
    ("partner_files", "orders"),
    ("partner_files", "events"),
}
RUN_TIMEOUT = 600


def _failing_source(name: str) -> dict[str, Any]:
    """ingest_crm's orders as a source of its own whose accepted-values check (severity error) cannot pass: validation
    stops its run."""
    crm = json.loads((REPO / "include" / "source_configs" / "crm.json").read_text())
    orders = next(e for e in crm["entities"] if e["name"] == "orders")
    orders["load"] = {"mode": "full"}
    orders["checks"] = [{"kind": "accepted_values", "columns": ["status"], "params": {"values": ["no-such-status"]}}]
    return {**crm, "name": name, "schedule": None, "deadline": {}, "entities": [orders]}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("browser")
    configs = tmp / "source_configs"
    shutil.copytree(REPO / "include" / "source_configs", configs)
    failing = "crm_strict"  # its state in the shared control DB is what its newest run left: this test's
    (configs / f"{failing}.json").write_text(json.dumps(_failing_source(failing)))
    home = tmp / "airflow"
    port = free_port()
    proc, _ = start_airflow(airflow_env(home, configs, **COMPONENT_SETTINGS), port)
    base = f"http://127.0.0.1:{port}"
    password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    api = AirflowRest(base, password, timeout=RUN_TIMEOUT, poll_seconds=3)
    paused_before: dict[str, bool] = {}
    try:
        wanted = {*SAMPLE_DAGS, f"ingest_{failing}"}
        api.wait("the sample DAGs parsed", lambda: wanted <= {d["dag_id"] for d in api.call("GET", "/dags")["dags"]})
        paused_before = {d: api.call("GET", f"/dags/{d}")["is_paused"] for d in SAMPLE_DAGS}
        # The failing source runs meanwhile (through the API: what the browser checks is its outcome).
        api.call("PATCH", f"/dags/ingest_{failing}", json={"is_paused": False})
        run = api.call("POST", f"/dags/ingest_{failing}/dagRuns", json={"logical_date": None})
        yield {
            "base": base,
            "password": password,
            "api": api,
            "configs": configs,
            "failing": failing,
            "failing_run": run["dag_run_id"],
        }
    finally:
        # The metadata database is shared with other local runs: leave the sample DAGs paused as they were.
        for dag_id, paused in paused_before.items():
            api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        api.call("PATCH", f"/dags/ingest_{failing}", json={"is_paused": True})
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=180)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh, throw-away profile (its own --user-data-dir).
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(airflow: dict[str, Any], browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A logged-in page; after the test, a screenshot, and no console error may have been logged. Airflow comes
    first, so that it is stopped after the browser: the browser's open connections held the api-server's graceful
    shutdown until it was killed, 60 s later."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.goto(f"{airflow['base']}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", airflow["password"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{airflow['base']}/", timeout=60_000)
    page.wait_for_load_state("networkidle")
    # The login page's own requests answer 401 before there is a session: count errors from here on.
    page.on("console", lambda message: _console_error(message, errors))
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert errors == [], errors


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(f"{message.text} ({message.location.get('url', '')})")


def _no_error_shown(page: Page) -> None:
    text = page.inner_text("body")
    assert text.strip(), "the page is blank"
    for sign in ("Something went wrong", "Internal Server Error", "Not Found"):
        assert sign not in text, f"the page shows {sign!r}"


def test_the_dag_list_shows_the_sample_dags_with_their_team_tags_and_owners(
    page: Page, airflow: dict[str, Any]
) -> None:
    page.goto(f"{airflow['base']}/dags")
    for dag_id in SAMPLE_DAGS:
        expect(page.locator(f"a[href='/dags/{dag_id}']").first).to_be_visible(timeout=30_000)
    _no_error_shown(page)
    for dag_id, team in SAMPLE_DAGS.items():
        # The team's tag lists the DAG (the list filtered as a click on the tag filters it)...
        page.goto(f"{airflow['base']}/dags?tags=team%3A{team}")
        expect(page.locator(f"a[href='/dags/{dag_id}']").first).to_be_visible(timeout=30_000)
        # ...and the DAG's page names the team as its owner.
        page.goto(f"{airflow['base']}/dags/{dag_id}")
        owner = page.get_by_text("Owner", exact=True).first.locator("xpath=..")
        expect(owner).to_contain_text(team, timeout=30_000)
        _no_error_shown(page)


def test_ingest_crms_docs_show_the_runbook(page: Page, airflow: dict[str, Any]) -> None:
    page.goto(f"{airflow['base']}/dags/ingest_crm")
    page.get_by_role("button", name="Dag Docs").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="ingest_crm: runbook")).to_be_visible(timeout=30_000)
    for section in ("Owners and escalation", "Schedule and deadline"):
        expect(dialog.get_by_role("heading", name=section)).to_be_visible()
    _no_error_shown(page)


def test_a_full_refresh_triggered_from_the_form_succeeds(page: Page, airflow: dict[str, Any]) -> None:
    api: AirflowRest = airflow["api"]
    before = {r["dag_run_id"] for r in api.call("GET", "/dags/ingest_crm/dagRuns", params={"limit": 100})["dag_runs"]}
    page.goto(f"{airflow['base']}/dags/ingest_crm")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Advanced Options").click()
    dialog.locator(".monaco-editor .view-lines").click()  # the conf editor (Monaco); its textbox has no size
    page.keyboard.press("Control+A")
    # Pasted, as typed keys get the editor's own closing brackets and quotes.
    page.evaluate("text => navigator.clipboard.writeText(text)", '{"full_refresh": true}')
    page.keyboard.press("Control+V")
    expect(dialog.locator(".monaco-editor .view-lines")).to_have_text(re.compile(r'^\{\s*"full_refresh":\s*true\s*\}$'))
    # Leaving the editor applies the conf to the form (its keys then show as "Run Parameters"), moving the button.
    dialog.get_by_role("heading", name=re.compile("Trigger Dag")).click()
    expect(dialog.get_by_role("button", name="Run Parameters")).to_be_visible()
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(dialog).to_be_hidden(timeout=30_000)

    def new_run() -> dict[str, Any] | None:
        runs = api.call("GET", "/dags/ingest_crm/dagRuns", params={"limit": 100})["dag_runs"]
        return next((r for r in runs if r["dag_run_id"] not in before and r["run_type"] == "manual"), None)

    run = api.wait("the triggered run", new_run, timeout=60)
    assert run["conf"] == {"full_refresh": True}
    state = api.wait(f"ingest_crm run {run['dag_run_id']}", lambda: api.run_state("ingest_crm", run["dag_run_id"]))
    assert state == "success"
    page.goto(f"{airflow['base']}/dags/ingest_crm/runs/{run['dag_run_id']}")
    expect(page.get_by_text("success", exact=False).first).to_be_visible(timeout=30_000)
    _no_error_shown(page)


def test_the_ingestion_view_lists_every_entity_and_the_failing_check(page: Page, airflow: dict[str, Any]) -> None:
    api: AirflowRest = airflow["api"]
    failing = airflow["failing"]
    state = api.wait("the failing source's run", lambda: api.run_state(f"ingest_{failing}", airflow["failing_run"]))
    assert state == "failed"
    page.goto(f"{airflow['base']}/")
    page.get_by_role("link", name="Ingestion").first.click()
    page.wait_for_url(re.compile(r"/plugin/ingestion"))
    view = page.frame_locator("iframe").first
    table = view.locator("#entities")
    expect(table).to_be_visible(timeout=30_000)
    for source, entity in SAMPLE_ENTITIES:
        row = view.locator(f"tr[data-source='{source}'][data-entity='{entity}']")
        expect(row).to_have_count(1)
        expect(row.locator(".state")).to_have_text(re.compile("^(ok|late|failing|never)$"))
    crm_orders = view.locator("tr[data-source='crm'][data-entity='orders'] .state")
    expect(crm_orders).to_have_text(re.compile("^(ok|late)$"))  # the full refresh just committed
    failed = view.locator(f"tr[data-source='{failing}'][data-entity='orders']")
    expect(failed.locator(".state")).to_have_text("failing")
    expect(failed.locator(".failing-checks")).to_contain_text("accepted_values(status) [error]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ingestion_view.png"))  # the one in docs/images, taken here
    # Filter by state, then open an entity page.
    view.locator("select[name=state]").select_option("failing")
    expect(view.locator("tr[data-source='crm'][data-entity='customers']")).to_be_hidden()
    expect(failed).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "ingestion_view_failing.png"))
    view.locator("select[name=state]").select_option("")
    view.locator("tr[data-source='crm'][data-entity='customers'] a").click()
    expect(view.locator("h1")).to_contain_text("crm.customers", timeout=30_000)
    expect(view.locator("#runs tbody tr").first).to_be_visible()
    expect(view.locator("svg.chart")).to_be_visible()
    expect(view.locator("#watermarks tbody tr").first).to_be_visible()
    expect(view.locator("#watermarks")).to_contain_text("airflow:ingest_crm")
    _no_error_shown(page)


def test_a_broken_config_shows_the_import_error_banner_naming_file_and_field(
    page: Page, airflow: dict[str, Any]
) -> None:
    configs: Path = airflow["configs"]
    broken = json.loads((configs / "crm.json").read_text())
    broken["name"] = "broken_crm"
    broken["schedule"] = "every day please"
    (configs / "broken_crm.json").write_text(json.dumps(broken))
    try:
        api: AirflowRest = airflow["api"]
        api.wait("the import error", lambda: api.call("GET", "/importErrors")["import_errors"], timeout=120)
        page.goto(f"{airflow['base']}/")
        page.get_by_role("button", name=re.compile("Dag Import Error")).click()
        dialog = page.get_by_role("dialog")
        trace = dialog.locator("code")
        if not trace.first.is_visible():  # one file: its trace may be open already
            dialog.get_by_role("button", name=re.compile("ingestion_config_errors.py")).click()
        expect(dialog).to_contain_text("broken_crm.json: $.schedule: 'every day please'", timeout=30_000)
        expect(dialog).to_contain_text("is not a valid cron expression")
        _no_error_shown(page)
    finally:
        (configs / "broken_crm.json").unlink()
