"""Time tlslens and tshark side by side on the same capture, in the same run.

    python bench/compare.py CAPTURE [--runs 3]

Each tool runs `--runs` times; the table shows the median wall time, throughput (MB/s of
capture file, frames/s), peak resident memory, and the ratio tshark/tlslens. tshark does the
comparable job: read every frame, follow every TCP conversation and dissect its TLS handshake
(`-Y tls.handshake -T fields` with the fields that give the same facts: stream, message
types, SNI, versions, cipher suites, alerts). Numbers depend on the machine: compare ratios,
not seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def measure(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed on this capture")
    return elapsed, usage.ru_maxrss


def frame_count(path: Path) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from tlslens.capture import open_capture

    capture = open_capture(str(path))
    for _ in capture:
        pass
    return capture.frames_read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tlslens = shutil.which("tlslens") or str(Path(sys.executable).with_name("tlslens"))
    tools = {"tlslens": [tlslens, "analyze", "--format", "jsonl", str(args.capture)]}
    tshark = shutil.which("tshark")
    if tshark:
        tools["tshark"] = [
            tshark, "-r", str(args.capture), "-n", "-Y", "tls.handshake or tls.alert_message",
            "-T", "fields", "-e", "tcp.stream", "-e", "tls.handshake.type",
            "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.version",
            "-e", "tls.handshake.extensions.supported_version",
            "-e", "tls.handshake.ciphersuite", "-e", "tls.alert_message.desc",
        ]  # fmt: skip
    size_mb = args.capture.stat().st_size / 1e6
    frames = frame_count(args.capture)
    print(f"{args.capture}: {size_mb:.1f} MB, {frames:,} frames, {args.runs} runs each")
    print(f"{'tool':8} {'median s':>9} {'MB/s':>8} {'frames/s':>10} {'peak RSS MB':>12}")
    medians = {}
    for name, cmd in tools.items():
        runs = [measure(cmd) for _ in range(args.runs)]
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs) / 1024
        medians[name] = wall
        print(f"{name:8} {wall:9.3f} {size_mb / wall:8.1f} {frames / wall:10,.0f} {rss:12.1f}")
    if "tshark" in medians:
        print(f"ratio tshark/tlslens: {medians['tshark'] / medians['tlslens']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
