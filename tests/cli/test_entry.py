"""The `tlslens` command as a process: it leaves without the interpreter's teardown
(`tlslens.cli.main.entry`), which must lose nothing it wrote and keep its exit status."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import CAPTURES

from tlslens.cli.main import main

COMMAND = [sys.executable, "-m", "tlslens"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "text"])
def test_everything_written_comes_out(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CAPTURES / "failures.pcap")
    assert main(["analyze", "--format", fmt, "-j", "1", path]) == 0
    expected = capsys.readouterr().out
    done = subprocess.run([*COMMAND, "analyze", "--format", fmt, "-j", "1", path],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout == expected and expected


def test_the_exit_status_is_kept() -> None:
    done = subprocess.run([*COMMAND, "analyze", str(CAPTURES / "no-such-file.pcap")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "no-such-file.pcap" in done.stderr


def test_a_reader_that_goes_away_is_no_error() -> None:
    # `tlslens analyze ... | head -c 100`: the pipe closes under the writer, with far more
    # than the pipe holds still to come. (Python's own exit status for a failed flush at
    # its teardown is 120.)
    files = [str(CAPTURES / "failures.pcap")] * 10
    with subprocess.Popen([*COMMAND, "analyze", "--format", "jsonl", "-j", "1", *files],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        assert len(process.stdout.read(100)) == 100
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait() == 0
    assert b"Traceback" not in error
