"""The README stays one screen that starts with the two commands, and the docs tree around it stays navigable: every
page under docs/ is linked from the README, and every relative link (and its #heading) leads somewhere."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
RELIABILITY = DOCS / "reliability.md"
MATRIX_WRITER = REPO / "tests" / "integration" / "faults" / "matrix.py"

# The README carries what a newcomer needs before any page: the two commands, connections, column types, onboarding,
# deploying and the UI; everything else lives under docs/.
README_MAX_LINES = 200
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked (a link or heading in code is none)."""
    lines, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def relative_links(page: Path) -> list[str]:
    targets = [m.group(1) for line in prose_lines(page.read_text()) for m in LINK.finditer(line)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto: are not ours


def github_anchor(heading_text: str) -> str:
    """GitHub's id for a heading: the rendered text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading_text)  # a link counts by its text
    text = text.replace("`", "").replace("*", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; repeated headings get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    in_fence = False
    for line in page.read_text().splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or not (match := HEADING.match(line)):
            continue
        slug = github_anchor(match.group(2))
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_readme_is_one_screen_that_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    assert lines[0].startswith("# ")
    body = [line for line in lines[1:] if line.strip()]
    assert body[0] == "```bash"
    assert body[1].startswith("make demo ")
    assert body[2].startswith("make test ")
    assert body[3] == "```"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    pages = sorted(p for p in DOCS.rglob("*") if p.is_file()) if DOCS.is_dir() else []
    assert pages, "docs/ holds no pages"
    linked = {(README.parent / link.split("#")[0]).resolve() for link in relative_links(README)}
    missing = [str(p.relative_to(REPO)) for p in pages if p.resolve() not in linked]
    assert missing == [], f"not linked from README.md: {missing}"


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        path_part, _, fragment = link.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(f"{link}: no heading with that anchor in {target.relative_to(REPO)}")
    assert broken == [], f"{page.relative_to(REPO)}: {broken}"


def marker(name: str) -> str:
    """A fault-matrix marker as the suite that writes the table spells it (read, not imported: it needs the stack)."""
    for node in ast.parse(MATRIX_WRITER.read_text()).body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == [name]:
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"{MATRIX_WRITER.relative_to(REPO)} defines no {name}")


def test_the_fault_matrix_markers_are_in_the_reliability_page_once() -> None:
    start, end = marker("START"), marker("END")
    text = RELIABILITY.read_text() if RELIABILITY.exists() else ""
    assert (text.count(start), text.count(end)) == (1, 1)
    assert text.index(start) < text.index(end)
    assert "fault-matrix:start" not in README.read_text()


CONNECTIONS = DOCS / "connections.md"
CONN_EXAMPLE = re.compile(r"^export (AIRFLOW_CONN_[A-Z0-9_]+)='(.*)'$", re.MULTILINE)
SQL_CONN_TYPES = {"postgres", "mysql", "mssql"}


def connection_examples(page: Path) -> dict[str, dict[str, Any]]:
    return {name: json.loads(value) for name, value in CONN_EXAMPLE.findall(page.read_text())}


def test_the_readme_connection_examples_parse_and_use_only_what_the_code_supports() -> None:
    from airflow.models.connection import Connection

    from ingestion.extract.http_client import AUTH_EXTRA_KEYS, AUTH_KINDS

    examples = connection_examples(README)
    assert examples == connection_examples(CONNECTIONS)  # the README shows the docs page's examples, unchanged
    for variable, data in examples.items():
        # Airflow's own parser of an AIRFLOW_CONN_<ID> JSON value: every field lands where the example says.
        connection = Connection.from_json(json.dumps(data), conn_id=variable.removeprefix("AIRFLOW_CONN_").lower())
        assert (connection.conn_type, connection.host, connection.schema) == (
            data["conn_type"],
            data["host"],
            data.get("schema"),
        )
        assert connection.extra_dejson == data.get("extra", {})
    by_type: dict[str, list[dict[str, Any]]] = {}
    for data in examples.values():
        by_type.setdefault(data["conn_type"], []).append(data)
    assert set(by_type) == SQL_CONN_TYPES | {"http", "sftp"}
    # REST: every auth kind the client accepts, each named explicitly, with only the extra keys it reads.
    http = by_type["http"]
    assert sorted(d["extra"]["auth"] for d in http) == sorted([*AUTH_KINDS, "api_key"])  # api_key: header and param
    assert all(set(d["extra"]) <= set(AUTH_EXTRA_KEYS) for d in http)
    # SFTP: one with a password, one with a key, both pinning the server's host key.
    sftp = by_type["sftp"]
    assert sorted("password" in d for d in sftp) == [False, True]
    assert any("key_file" in d["extra"] or "private_key" in d["extra"] for d in sftp)
    assert all("host_key" in d["extra"] for d in sftp)
