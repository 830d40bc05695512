"""Hostile sources: peak memory and time of reading them under the caps, beside the same input read as the code did
before the caps (the `--before` git revision's http_client.py and file_readers.py, loaded from git), in one run.

    .venv/bin/python bench/hostile_sources_bench.py [--page-gib 1] [--bomb-gib 10] [--line-gib 1] [--kill-at-gib 6]
                                                    [--before 0986b2b] [--only rest_page,...]

REST cases go to the local stack's sample API (`make stack-up` first), whose `/v1/hostile/*` endpoints generate the
body as they stream it; file cases read a local file, as extract_land does after copying a file from SFTP to a
temporary file (the copy goes to disk, not memory). Every read runs in a child process of its own, which imports what
an Airflow task has imported, reports its peak RSS (VmHWM) and what it ended with. A child whose RSS passes
`--kill-at-gib` is killed (the machine is shared), and reported as such, with the RSS it had reached.

Cases:
- rest_under_cap: an ordinary page of 60 MiB, just under the default cap (64 MiB): what a page that large costs;
- rest_page:   one page of `--page-gib` GiB of order records, chunked (no Content-Length);
- rest_gzip:   a gzip-encoded page that unpacks to `--bomb-gib` GiB (about a thousandth of that on the wire);
- rest_nested: a 20 MB body nesting arrays ten million deep;
- jsonl_line:  a JSON Lines file of one `--line-gib` GiB line;
- csv_row:     a CSV file whose one row is `--line-gib` GiB long.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
GIB = 1 << 30
MIB = 1 << 20
CASES = ("rest_under_cap", "rest_page", "rest_gzip", "rest_nested", "jsonl_line", "csv_row")
BEFORE_MODULES = {
    "http": "plugins/ingestion/extract/http_client.py",
    "files": "plugins/ingestion/extract/file_readers.py",
}

# -- the child: one read, one JSON line on stdout --------------------------------------------------------------


def _peak_mb() -> float:
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024


def _module_from(path: str, name: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def child(case: str, variant: str, target: str, module_path: str) -> None:
    """Reads `target` (an API path with its query, or a local file) with today's code ("capped") or the module at
    `module_path` ("before"); prints {peak_mb, seconds, outcome}."""
    import airflow.sdk  # noqa: F401 - what a task process has imported before execute()

    from ingestion.config.models import Column, HttpOptions, SftpLocator
    from ingestion.extract.record_typing import RecordTyper

    outcome = "read whole"
    started = time.perf_counter()
    try:
        if case.startswith("rest_"):
            from urllib.parse import parse_qsl, urlsplit

            client_module = _module_from(module_path, "before_http_client") if variant == "before" else None
            if client_module is None:
                from ingestion.extract import http_client as client_module
            options = HttpOptions(requests_per_second=50, max_attempts=1)
            client = client_module.ApiClient("orders_api", options, where="bench.orders")
            parts = urlsplit(target)
            body, _ = client.get(parts.path, dict(parse_qsl(parts.query)))
            outcome = f"read whole: {len(body.get('data', []))} records"
        else:
            readers = _module_from(module_path, "before_file_readers") if variant == "before" else None
            if readers is None:
                from ingestion.extract import file_readers as readers
            path = Path(target)
            columns = [Column(name="id", type="string"), Column(name="note", type="string")]
            locator = SftpLocator(remote_path="in", file_format="jsonl" if case == "jsonl_line" else "csv")
            rows = sum(
                chunk.batch.num_rows for chunk in readers.read_file(path, path.name, locator, RecordTyper(columns))
            )
            outcome = f"read whole: {rows} rows"
    except BaseException as error:  # noqa: BLE001 - what the read ended with is the measurement
        kind = "terminal" if getattr(error, "terminal", None) else "not classified: Airflow retries it"
        if getattr(error, "terminal", None) is False:
            kind = "transient"
        outcome = f"{type(error).__name__} ({kind}): {str(error)[:110]}"
    print(json.dumps({"peak_mb": _peak_mb(), "seconds": time.perf_counter() - started, "outcome": outcome}))


# -- the parent ------------------------------------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0.0
    return int(status.split("VmRSS:")[1].split()[0]) / 1024 if "VmRSS:" in status else 0.0


def run_child(case: str, variant: str, target: str, module_path: str, env: dict[str, str], kill_mb: float) -> dict:
    """The child's report, or how it was killed: RSS is watched every 0.1 s."""
    command = [sys.executable, __file__, "--child", case, variant, target, module_path]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    highest = 0.0
    while process.poll() is None:
        highest = max(highest, _rss_mb(process.pid))
        if highest > kill_mb:
            process.kill()
            process.wait()
            seconds = time.perf_counter() - started
            return {"peak_mb": highest, "seconds": seconds, "outcome": f"killed: RSS passed {kill_mb / 1024:.0f} GiB"}
        time.sleep(0.1)
    out, err = process.communicate()
    lines = out.strip().splitlines()
    if process.returncode != 0 or not lines:
        return {"peak_mb": highest, "seconds": time.perf_counter() - started, "outcome": f"crashed: {err[-300:]}"}
    return json.loads(lines[-1])


def _write_streamed(path: Path, pieces: Any) -> Path:
    with path.open("wb") as handle:
        for piece in pieces:
            handle.write(piece)
    return path


def _filler(total: int) -> Any:
    block = b"x" * (16 * MIB)
    for _ in range(total // len(block)):
        yield block
    yield b"x" * (total % len(block))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page-gib", type=float, default=1.0)
    parser.add_argument("--bomb-gib", type=float, default=10.0)
    parser.add_argument("--line-gib", type=float, default=1.0)
    parser.add_argument("--kill-at-gib", type=float, default=6.0)
    # The last commit before the caps; a later one would compare the caps with themselves.
    parser.add_argument("--before", default="0986b2b", help="git revision of the code without the caps")
    parser.add_argument("--only", default=",".join(CASES))
    args = parser.parse_args()
    cases = [c for c in args.only.split(",") if c]

    import requests

    from stack.connections import read_env_file

    env_file = Path(os.environ.get("STACK_STATE_DIR", REPO / ".stack")) / "env"
    env = {**os.environ, **(read_env_file(env_file) if env_file.exists() else {})}
    env["PYTHONPATH"] = f"{REPO / 'plugins'}:{REPO}"
    kill_mb = args.kill_at_gib * 1024
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as scratch:
        before: dict[str, str] = {}
        for key, module in BEFORE_MODULES.items():
            source = subprocess.run(
                ["git", "show", f"{args.before}:{module}"], cwd=REPO, check=True, capture_output=True, text=True
            ).stdout
            before[key] = str(Path(scratch) / f"before_{key}.py")
            Path(before[key]).write_text(source)
        targets = {
            "rest_under_cap": f"/v1/hostile/page?size={60 * MIB}",
            "rest_page": f"/v1/hostile/page?size={int(args.page_gib * GIB)}",
            "rest_gzip": f"/v1/hostile/page?size={int(args.bomb_gib * GIB)}&gzip=true",
            "rest_nested": "/v1/hostile/nested?depth=10000000",
        }
        line = int(args.line_gib * GIB)
        if "jsonl_line" in cases:
            pieces = [b'{"id": "1", "note": "', *_filler(line), b'"}\n']
            targets["jsonl_line"] = str(_write_streamed(Path(scratch) / "one_line.jsonl", pieces))
        if "csv_row" in cases:
            pieces = [b"id,note\n1,short\n2,", *_filler(line), b"\n3,short\n"]
            targets["csv_row"] = str(_write_streamed(Path(scratch) / "one_row.csv", pieces))
        results = []
        for case in cases:
            module = before["http" if case.startswith("rest_") else "files"]
            for variant in ("capped", "before"):
                if case.startswith("rest_"):
                    requests.post(f"{env['STACK_SAMPLE_API_URL']}/_control/reset", timeout=10).raise_for_status()
                result = run_child(case, variant, targets[case], module, env, kill_mb)
                results.append((case, variant, result))
                print(
                    f"{case:12} {variant:7} {result['peak_mb']:8.0f} MB {result['seconds']:7.1f} s  {result['outcome']}"
                )
                sys.stdout.flush()
    print("\n| case | variant | peak RSS | seconds | outcome |\n|---|---|---|---|---|")
    for case, variant, result in results:
        outcome = result["outcome"].replace("|", "/")
        print(f"| {case} | {variant} | {result['peak_mb']:.0f} MB | {result['seconds']:.1f} | {outcome} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
