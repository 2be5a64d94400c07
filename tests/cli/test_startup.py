"""Start-up: a command imports what it runs and no more (cli/arguments.py, cli/main.py's
COMMANDS, and the lazy imports in cli/analyze_cmd.py, cli/files.py, capture/__init__.py and
tlslens/__init__.py). Each case runs in a fresh interpreter, since this one has imported
everything already; what is checked is the set of modules loaded, never a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES

from tlslens.cli.arguments import build_parser
from tlslens.cli.main import COMMANDS, command

BASIC = str(CAPTURES / "basic.pcap")

#: Runs `tlslens` with the given arguments, output discarded, then prints its exit status
#: and the modules it loaded as JSON.
PROBE = """
import io, json, sys
from tlslens.cli.main import main
out, sys.stdout = sys.stdout, io.StringIO()
status = main(sys.argv[1:])
sys.stdout = out
print(json.dumps([status, sorted(sys.modules)]))
"""

#: What a plain `analyze` of a pcap file into JSON lines does not need.
NOT_FOR_PLAIN_ANALYZE = (
    "concurrent.futures",  # several files at once
    "rich",  # the text table and the progress bar
    "tlslens.analysis.correlate",  # --events
    "tlslens.analysis.frame_list",  # the messages command
    "tlslens.capture.etl",  # ETL traces
    "tlslens.capture.netmon",  # Network Monitor captures
    "tlslens.cli.render",  # the text table and CSV
    "tlslens.diagnose",  # the diagnose command, filters on finding.code
    "tlslens.eventlog",  # --events
    "tlslens.explain",  # the explain command
    "tlslens.query",  # --filter and --columns
)


def loaded(*args: str) -> tuple[int, set[str]]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, check=True)  # fmt: skip
    status, modules = json.loads(result.stdout.splitlines()[-1])
    return status, set(modules)


def has(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_plain_analyze_loads_only_what_it_needs() -> None:
    status, modules = loaded("analyze", "--format", "jsonl", BASIC)
    assert status == 0 and "tlslens.analysis.pipeline" in modules
    assert [p for p in NOT_FOR_PLAIN_ANALYZE if has(modules, p)] == []


@pytest.mark.parametrize(
    ("args", "needed"),
    [
        (["-Y", "conn.version == TLS1.2"], ["tlslens.query"]),
        (["-Y", 'finding.code == "x"'], ["tlslens.query", "tlslens.diagnose"]),
        (["--columns", "tcp.stream"], ["tlslens.query", "tlslens.cli.columns"]),
        (["--events", "no-such.evtx"], ["tlslens.eventlog", "tlslens.analysis.correlate"]),
        (["--skew", "+2s"], ["tlslens.analysis.correlate"]),
        (["--format", "text"], ["rich", "tlslens.cli.render"]),
        (["--format", "csv"], ["tlslens.cli.render"]),
    ],
)
def test_options_load_what_they_need(args: list[str], needed: list[str]) -> None:
    _, modules = loaded("analyze", "--format", "jsonl", *args, BASIC)
    assert [p for p in needed if not has(modules, p)] == []


def test_several_files_load_the_process_pool() -> None:
    status, modules = loaded("analyze", "--format", "jsonl", "-j", "2", BASIC, BASIC)
    assert status == 0 and has(modules, "concurrent.futures")


def test_windows_readers_load_for_windows_files(tmp_path: Path) -> None:
    netmon = tmp_path / "damaged.cap"
    netmon.write_bytes(b"GMBU" + bytes(200))
    _, modules = loaded("analyze", "--format", "jsonl", str(netmon))
    assert "tlslens.capture.netmon" in modules and "tlslens.capture.etl" not in modules
    other = tmp_path / "unknown.bin"
    other.write_bytes(bytes(200))
    _, modules = loaded("analyze", "--format", "jsonl", str(other))
    assert "tlslens.capture.etl" in modules


def test_other_commands_do_not_load_the_analysis() -> None:
    status, modules = loaded("explain", "48")
    assert status == 0 and "tlslens.explain" in modules
    assert not has(modules, "tlslens.analysis") and not has(modules, "tlslens.capture")


def test_every_command_has_a_run_function() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) == set(subparsers.choices or ())
    for name in COMMANDS:
        assert callable(command(name))


def test_the_public_api_is_lazy_but_complete() -> None:
    probe = (
        "import sys, tlslens; before = sorted(sys.modules); "
        "from tlslens import *; "
        "print(all(callable(globals()[n]) for n in tlslens.__all__ if n != '__version__'), "
        "[m for m in before if m.startswith('tlslens.')])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert result.stdout.split() == ["True", "[]"]
