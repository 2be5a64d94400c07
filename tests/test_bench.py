"""The benchmark runs (on a tiny capture); its numbers are not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import CAPTURES, ROOT, load_manifest


def test_bench_compare_runs_on_a_tiny_capture() -> None:
    capture = CAPTURES / "basic.pcap"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "compare.py"), str(capture), "--runs", "1"],
        capture_output=True, text=True, check=True, cwd=Path(ROOT),
    )  # fmt: skip
    frames = load_manifest()["basic.pcap"]["packets"]
    assert "tlslens" in proc.stdout and f"{frames} frames" in proc.stdout
