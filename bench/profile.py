#!/usr/bin/env python3
"""Profile `tlslens analyze --format jsonl` with py-spy; print the top functions by own time.

Usage::

    .venv/bin/pip install py-spy        # once
    .venv/bin/python bench/profile.py /tmp/bench/handshake.pcap [--top 15] [--rate 250]
    .venv/bin/python bench/profile.py --raw /tmp/bench/handshake.pyspy.txt   # re-read a profile

py-spy samples the running process (``py-spy record --format raw``: one line per distinct
stack with its sample count).  "Own" time counts the samples in which a function is the
innermost frame (a second table adds it up per file); "total" counts those in which it is
anywhere on the stack (once per sample).  Functions are named ``function (file)``, without
line numbers, so a function's lines add up.  The raw stacks are kept beside the capture
(``NAME.pyspy.txt``); for a flame graph, run ``py-spy record --format speedscope`` yourself.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed (try: {sys.executable} -m pip install py-spy)")
    return found


def frame_name(frame: str) -> str:
    m = FRAME.match(frame.strip())
    return f"{m['func']} ({m['file']})" if m else frame.strip()


def summarise(raw: Path, top: int) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        by_file[frames[-1].rpartition(" (")[2].rstrip(")")] += n
        for name in set(frames):
            total[name] += n
    if not samples:
        raise SystemExit(f"{raw}: no samples")
    rows = [
        "| # | function (file) | own % | total % |",
        "|---:|---|---:|---:|",
    ]
    for i, (name, n) in enumerate(own.most_common(top), 1):
        shown = name.replace("|", "\\|")
        if shown.startswith("__create_fn__.<locals>.__init__"):
            shown += "` (a dataclass's generated `__init__`)"
        else:
            shown += "`"
        own_pct, total_pct = 100 * n / samples, 100 * total[name] / samples
        rows.append(f"| {i} | `{shown} | {own_pct:.1f} | {total_pct:.1f} |")
    files = ["| file | own % |", "|---|---:|"]
    for name, n in by_file.most_common(top):
        files.append(f"| `{name}` | {100 * n / samples:.1f} |")
    return (
        f"{samples:,} samples\n\nTop functions by own time:\n\n"
        + "\n".join(rows)
        + "\n\nOwn time by file:\n\n"
        + "\n".join(files)
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path, nargs="?")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--raw", type=Path, help="summarise an existing raw py-spy profile")
    args = parser.parse_args(argv)
    raw = args.raw
    if raw is None:
        if args.capture is None:
            parser.error("give a capture to profile, or --raw FILE")
        raw = args.capture.with_suffix(".pyspy.txt")
        cmd = [tool("py-spy"), "record", "--format", "raw", "--rate", str(args.rate)]
        cmd += ["--output", str(raw), "--"]
        cmd += [tool("tlslens"), "analyze", "--format", "jsonl", str(args.capture)]
        print(" ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(summarise(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
