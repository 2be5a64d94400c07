"""The benchmarks run (on tiny captures); their numbers are not asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, load_manifest

from tlslens.capture import open_capture

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


def _records(path: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "tlslens", "analyze", "--format", "jsonl", "-j", "1", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [{k: v for k, v in json.loads(line).items() if k != "file"}
            for line in proc.stdout.splitlines()]  # fmt: skip


def _etl_copy(etl: Path, *options: str) -> None:
    """bench/etl_copy.py of basic.pcap into `etl`."""
    subprocess.run([sys.executable, str(BENCH / "etl_copy.py"), str(CAPTURES / "basic.pcap"),
                    str(etl), *options], check=True, capture_output=True, timeout=60)  # fmt: skip


def test_etl_copy_holds_the_same_connections(tmp_path: Path) -> None:
    """bench/etl_copy.py writes the frames as ETL events; read back with one processor,
    every connection's record is the pcap's but for the processes the copy makes up: the
    client's side (the higher port) sends, as one of 64 processes."""
    etl = tmp_path / "basic.etl"
    _etl_copy(etl, "--cpus", "1")
    expected = _records(CAPTURES / "basic.pcap")
    got = _records(etl)
    assert expected and len(got) == len(expected)
    for record, want in zip(got, expected, strict=True):
        process = record.pop("process")
        processes = record.pop("processes")
        assert record == {k: v for k, v in want.items() if k not in ("process", "processes")}
        assert process["side"] == "client" and process["direction"] == "outbound"
        assert 1000 <= process["pid"] < 1256 and processes == [process]


@pytest.mark.parametrize("provider", ["ndis", "pktmon"])
def test_etl_copy_on_two_processors(provider: str, tmp_path: Path) -> None:
    """With two processors (the default), each flow's events are in one processor's
    buffers; read back in time order (pktmon's two appearances of a packet once), the
    connections are the pcap's."""
    etl = tmp_path / "basic.etl"
    _etl_copy(etl, "--provider", provider)
    reader = open_capture(str(etl)).reader
    frames = list(reader)
    assert len(frames) == len(list(open_capture(str(CAPTURES / "basic.pcap")).reader))
    assert reader.trace_info["cpus"] == 2  # type: ignore[union-attr]
    times = [ts for _n, ts, _l, _d, _m in frames]
    assert times == sorted(times)
    got = _records(etl)
    expected = _records(CAPTURES / "basic.pcap")
    key = ("client", "server", "sni", "version", "cipher", "outcome")
    assert sorted(json.dumps([r.get(k) for k in key]) for r in got) == sorted(
        json.dumps([r.get(k) for k in key]) for r in expected
    )


def test_etl_ratio_runs_on_a_tiny_capture(tmp_path: Path) -> None:
    """bench/etl_ratio.py times a pcap and its ETL copy and prints the copy's ratios: wall
    and processor time, split and `-j 1`."""
    etl = tmp_path / "basic.etl"
    _etl_copy(etl)
    proc = subprocess.run([sys.executable, str(BENCH / "etl_ratio.py"),
                           str(CAPTURES / "basic.pcap"), str(etl), "--runs", "1"],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| split", "| -j 1"))]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == ["split", "split cpu", "-j 1", "-j 1 cpu"], proc.stdout
    assert all(row.count("x**") == 1 for row in rows), proc.stdout


def test_etl_ratio_times_another_build_in_the_same_rounds(tmp_path: Path) -> None:
    """`--against` times a second tlslens on the same files in the same rounds, in rows of
    its own; the command given is the one run (a stand-in that writes where it ran)."""
    etl = tmp_path / "basic.etl"
    _etl_copy(etl)
    marks = tmp_path / "marks"
    other = tmp_path / "other-tlslens"
    tlslens = Path(sys.executable).with_name("tlslens")
    other.write_text(f'#!/bin/sh\necho run >> "{marks}"\nexec "{tlslens}" "$@"\n')
    other.chmod(0o755)
    proc = subprocess.run([sys.executable, str(BENCH / "etl_ratio.py"),
                           str(CAPTURES / "basic.pcap"), str(etl), "--runs", "2", "--no-j1",
                           "--against", str(other)],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| split")]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == ["split", "split cpu", "split, against", "split cpu, against"], proc.stdout
    assert all(row.count("x**") == 1 for row in rows), proc.stdout
    assert marks.read_text().count("run") == 4  # two rounds of two files
