"""The compiled core (tlslens.compiled) against its own source: same output, and compiled
where it was built to be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, PREFETCH_BUILT, corpus_captures

from tlslens.compiled import CORE, describe, is_compiled, runs_from_source

PURE_ONLY = runs_from_source() or os.environ.get("TLSLENS_COMPILE") == "0"


def _tlslens(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TLSLENS_PURE": "1" if pure else "0"}
    return subprocess.run(
        [sys.executable, "-m", "tlslens.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(PURE_ONLY, reason="installed or run as pure Python on purpose")
def test_every_core_module_runs_compiled() -> None:
    pure = [name for name in CORE if not is_compiled(name)]
    assert not pure, f"not compiled: {pure} (install with a C compiler: scripts/test does)"


@pytest.mark.skipif(PURE_ONLY or os.name != "posix", reason="no C module built on purpose")
def test_capture_files_are_mapped_where_the_c_module_is_built() -> None:
    # scripts/test builds it with the core (setup.py); --version says how files are taken in.
    assert _tlslens("--version", pure=False).stdout.rstrip().endswith("; capture files mapped")
    env = {**os.environ, "TLSLENS_MAP": "0"}
    run = subprocess.run([sys.executable, "-m", "tlslens.cli.main", "--version"], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert "capture files read (TLSLENS_MAP=0)" in run.stdout


@pytest.mark.skipif(PURE_ONLY or os.name != "posix", reason="no C module built on purpose")
def test_etl_events_are_prefetched_where_the_c_module_is_built() -> None:
    # setup.py builds it beside the mapping module; a failed build would only be slower.
    from tlslens.capture import etl

    assert PREFETCH_BUILT
    assert etl._PREFETCH is not None or os.environ.get("TLSLENS_PREFETCH") == "0"


def test_tlslens_pure_runs_the_core_from_source() -> None:
    run = _tlslens("--version", pure=True)
    assert run.returncode == 0, run.stderr
    assert "pure Python" in run.stdout
    assert "pure Python" not in describe() or PURE_ONLY


def _captures() -> list[Path]:
    ours = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    return ours + corpus_captures()


@pytest.mark.skipif(PURE_ONLY, reason="no compiled core to compare with")
@pytest.mark.parametrize("command", ["analyze", "diagnose"])
def test_the_compiled_core_says_what_its_source_says(command: str) -> None:
    files = [str(p) for p in _captures()]
    args = (command, "--format", "jsonl", "-j", "1", *files)
    compiled, pure = _tlslens(*args, pure=False), _tlslens(*args, pure=True)
    assert compiled.stdout.count("\n") > len(files), compiled.stderr
    assert compiled.stdout == pure.stdout
    assert compiled.stderr == pure.stderr
    assert compiled.returncode == pure.returncode
