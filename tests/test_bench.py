"""The benchmarks run (on tiny captures); their numbers are not asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, load_manifest

BENCH = ROOT / "bench"


def test_bench_compare_runs_on_a_tiny_capture() -> None:
    capture = CAPTURES / "basic.pcap"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "compare.py"), str(capture), "--runs", "1"],
        capture_output=True, text=True, check=True, cwd=Path(ROOT),
    )  # fmt: skip
    frames = load_manifest()["basic.pcap"]["packets"]
    assert "tlslens" in proc.stdout and f"{frames} frames" in proc.stdout


def plan(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), "--plan", *args],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(proc.stdout)


def test_generator_plan_is_seeded_and_sized() -> None:
    handshake = plan("--profile", "handshake", "--size-mb", "50")
    assert handshake["connections"] == 8000
    assert 45 <= handshake["estimated_mb"] <= 55
    assert plan("--profile", "handshake", "--size-mb", "50") == handshake
    bulk = plan("--profile", "bulk", "--size-mb", "250", "--seed", "7")
    assert 2500 <= bulk["connections"] <= 4000
    assert bulk["kinds"]["bulk"] > 20
    assert {"tls10", "tls11", "tls12", "tls13", "fail-version-old", "fail-reset"} <= set(
        bulk["kinds"]
    )
    assert plan("--profile", "bulk", "--size-mb", "250", "--seed", "8") != bulk


def test_generate_and_run_on_a_tiny_generated_capture(tmp_path: Path) -> None:
    """bench/generate.py makes a 1 MB capture of real traffic; bench/run.py times both tools."""
    generate = [sys.executable, str(BENCH / "generate.py")]
    check = subprocess.run([*generate, "--check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        pytest.skip(f"cannot generate traffic on this machine: {check.stdout.strip()}")
    if shutil.which("tshark") is None or shutil.which("editcap") is None:
        pytest.skip("tshark/editcap not installed")
    capture = tmp_path / "tiny.pcap"
    subprocess.run(
        [*generate, "--profile", "handshake", "--size-mb", "1", "--out", str(capture),
         "--workers", "1", "--threads", "8"],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    summary = json.loads(capture.with_suffix(".json").read_text())
    assert summary["connections"] == 160
    assert summary["unexpected_outcomes"] == {}
    assert 0.5e6 < capture.stat().st_size < 2e6
    assert summary["packets"] > 1000
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), str(capture), "--runs", "1"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| tiny.")]
    assert {(r.split("|")[2].strip(), r.split("|")[5].strip()) for r in rows} >= {
        ("pcap", "tlslens"),
        ("pcap", "tshark"),
        ("pcapng", "tlslens"),
        ("pcapng", "tshark"),
    }
    assert " connections |" in proc.stdout
    assert all(float(r.split("|")[7]) > 0 for r in rows)  # the CPU time column
    assert "ETL:" in proc.stdout


def test_stage_breakdown_runs_every_stage_on_a_tiny_capture() -> None:
    """bench/stages.py runs each pipeline stage on its own; a stage whose code no longer
    matches the pipeline's API fails here, not on a user's benchmark day."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "stages.py"), str(CAPTURES / "basic.pcap"), "--runs", "1"],
        capture_output=True, text=True, check=True, timeout=120, cwd=Path(ROOT),
    )  # fmt: skip
    stages = [line.split("|")[1].strip() for line in proc.stdout.splitlines()
              if line.startswith("| ") and not line.startswith("| stage")]  # fmt: skip
    assert stages == ["start", "import", "floor", "tls", "analyze", "split"]


def test_etl_copy_holds_the_same_connections(tmp_path: Path) -> None:
    """bench/etl_copy.py writes the frames as ETL events; read back, every connection's
    record is the pcap's (but the file's name)."""
    etl = tmp_path / "basic.etl"
    subprocess.run([sys.executable, str(BENCH / "etl_copy.py"), str(CAPTURES / "basic.pcap"),
                    str(etl)], check=True, capture_output=True, timeout=60)  # fmt: skip

    def records(path: Path) -> list[dict]:
        proc = subprocess.run(
            [sys.executable, "-m", "tlslens", "analyze", "--format", "jsonl", "-j", "1", str(path)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return [{k: v for k, v in json.loads(line).items() if k != "file"}
                for line in proc.stdout.splitlines()]  # fmt: skip

    expected = records(CAPTURES / "basic.pcap")
    assert expected and records(etl) == expected
