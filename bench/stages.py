#!/usr/bin/env python3
"""Where the time of `tlslens analyze` goes: each stage of the pipeline timed on its own, as
a fresh process, so that a target can be checked against what the stages below it cost.

Usage::

    .venv/bin/python bench/stages.py /tmp/bench/handshake.pcap [--runs 3] [--tshark]

The stages build on each other: each row from "floor" on does the work of the rows above it,
importing only the modules it needs, so "floor" can come out faster than "import":

1. ``start``: the Python interpreter starting and exiting (``python -c pass``);
2. ``import``: importing what ``analyze`` loads (what it pays before reading a byte);
3. ``floor``: the pipeline reading every frame and following no connection (a share that
   none is in): what every process pays per frame before it knows whose connection a frame
   is in, and what a split worker pays for the other shares' frames;
4. ``tls``: plus following TCP, the TLS layer and the connection records
   (`Analysis.conversations`);
5. ``analyze``: the whole command in one process, ``tlslens analyze --format jsonl -j 1
   FILE > file``;
6. ``split``: the same with the default ``-j``, one process per core (a large capture is
   split by connection over them: see ``tlslens.cli.split``).

With ``--tshark`` the table also times tshark's handshake listing (the same command as
``bench/run.py``) and shows, per stage, what fraction of a 10x-tshark budget it already uses:
a stage over 100% shows that no work above it can meet the target. Compare ratios, not
seconds: the machine's load moves both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from run import commands  # noqa: E402

# A share index no connection has: every frame is read, and skipped or decoded, and none
# is followed.
FLOOR = """
from tlslens.analysis.pipeline import Analysis
for conv in Analysis(PATH, share=(1 << 20, 1 << 20)).conversations():
    pass
"""
TLS = """
from tlslens.analysis.pipeline import Analysis
for conv in Analysis(PATH).conversations():
    pass
"""

STAGES = (
    ("start", "interpreter start-up", None),
    ("import", "import what `analyze` loads", "import tlslens.cli.main, tlslens.cli.analyze_cmd"),
    ("floor", "+ read every frame, follow none", FLOOR),
    ("tls", "+ TCP, TLS and connection records", TLS),
    ("analyze", "the whole `analyze --format jsonl -j 1`", None),
    ("split", "the same on every core (the default)", None),
)


def timed(command: list[str], output: Path | None = None) -> float:
    start = time.perf_counter()
    with open(output or os.devnull, "w") as out:
        subprocess.run(command, stdout=out, check=True)
    return time.perf_counter() - start


def command_of(stage: str, body: str | None, capture: Path) -> list[str]:
    python = sys.executable
    if stage == "start":
        return [python, "-c", "pass"]
    if stage == "analyze":
        return commands(capture, ["tlslens-j1"])["tlslens-j1"]
    if stage == "split":
        return commands(capture, ["tlslens"])["tlslens"]
    assert body is not None
    return [python, "-c", f"PATH = {str(capture)!r}\n{body}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tshark", action="store_true", help="time tshark too, for the budget")
    args = parser.parse_args()
    if not args.capture.exists():
        print(f"stages.py: {args.capture}: no such file", file=sys.stderr)
        return 2
    budget = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.tshark:
            if shutil.which("tshark") is None:
                print("stages.py: tshark is not installed", file=sys.stderr)
                return 2
            out = Path(tmp) / "tshark.txt"
            tshark = commands(args.capture, ["tshark"])["tshark"]
            runs = [timed(tshark, out) for _ in range(args.runs)]
            budget = statistics.median(runs) / 10
        rows = []
        for stage, what, body in STAGES:
            command = command_of(stage, body, args.capture)
            out = Path(tmp) / f"{stage}.out"
            rows.append((stage, what, statistics.median(timed(command, out)
                                                        for _ in range(args.runs))))  # fmt: skip
    size = args.capture.stat().st_size / 1e6
    print(f"{args.capture.name} ({size:.1f} MB), median of {args.runs} runs\n")
    head = "| stage | what | cumulative s | this stage s |"
    rule = "|---|---|---:|---:|"
    if budget is not None:
        head += " of the 10x-tshark budget |"
        rule += "---:|"
    print(head)
    print(rule)
    before = 0.0
    for stage, what, seconds in rows:
        line = f"| {stage} | {what} | {seconds:.2f} | {seconds - before:+.2f} |"
        if budget is not None:
            line += f" {seconds / budget:.0%} |"
        print(line)
        before = seconds
    if budget is not None:
        print(f"\ntshark: {budget * 10:.2f} s; 10x tshark leaves {budget:.2f} s for everything.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
