"""Many files at once: the same output as one after the other, in the order given, in every
format; folders are expanded; a bad file does not stop the others."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES

FILES = [str(CAPTURES / n) for n in ("failures.pcap", "basic.pcapng", "lossy.pcap")]


def tlslens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlslens", *args], capture_output=True,
                          text=True, check=False)  # fmt: skip


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "text"])
def test_parallel_equals_sequential(fmt: str) -> None:
    one = tlslens("analyze", "--format", fmt, "-j", "1", *FILES)
    many = tlslens("analyze", "--format", fmt, "-j", "3", *FILES)
    assert one.returncode == many.returncode == 0
    assert one.stdout == many.stdout and one.stdout
    if fmt == "json":
        assert [c["file"] for c in json.loads(many.stdout)["captures"]] == FILES


def test_columns_in_parallel() -> None:
    args = ("analyze", "--format", "csv", "--columns", "tcp.stream,conn.version", *FILES)
    assert tlslens(*args, "-j", "3").stdout == tlslens(*args, "-j", "1").stdout


def test_folders_and_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(FILES[0], folder / "a.pcap")
    shutil.copy(FILES[1], folder / "sub" / "b.pcapng")
    (folder / "notes.txt").write_text("not a capture\n")
    (folder / ".hidden.pcap").write_text("ignored\n")
    result = tlslens("analyze", "--format", "jsonl", "-j", "2", str(folder))
    files = [json.loads(line)["file"] for line in result.stdout.splitlines()]
    assert sorted(set(files)) == [str(folder / "a.pcap"), str(folder / "sub" / "b.pcapng")]
    assert result.returncode == 1 and "notes.txt" in result.stderr
    assert ".hidden" not in result.stderr and "Traceback" not in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = tlslens("diagnose", str(empty))
    assert "holds no files" in result.stderr
