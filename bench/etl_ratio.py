"""Time tlslens on a pcap and on ETL copies of the same traffic (`etl_copy.py`), runs
alternating so that a slow spell of a shared machine falls on all of them, and print each
copy's median time over the pcap's: the issue's "ETL within 1.5x of pcap" in one command.

    .venv/bin/python bench/etl_copy.py /tmp/bench/bulk.pcap /tmp/bench/bulk.etl
    .venv/bin/python bench/etl_copy.py --provider pktmon \
        /tmp/bench/bulk.pcap /tmp/bench/bulk-pktmon.etl
    .venv/bin/python bench/etl_ratio.py /tmp/bench/bulk.pcap \
        /tmp/bench/bulk.etl /tmp/bench/bulk-pktmon.etl

Each run is `tlslens analyze --format jsonl FILE` (also with `-j 1`, unless `--no-j1`),
its output written to a temporary file; the time is the process's wall time, from its start
to `wait4`. Prints a markdown table: the wall times, then ("cpu" rows) the processor time
the run and its workers took (user and system, from `wait4`). The second moves less when
other tenants of a shared machine are busy, and shows where a copy's time goes: reading a
file twice the size costs system time in every worker.

`--against OTHER` times another tlslens as well (say `/tmp/base/.venv/bin/tlslens`, a
worktree of an earlier commit), each round running both builds on each file, in turn
first: times taken minutes apart on a shared machine differ by more than most changes
(bench/RESULTS.md, seventeenth session), times taken in the same minutes do not. Its rows
are marked "against". (Where PYTHONDONTWRITEBYTECODE is set, run `python -m compileall`
on the other build's sources first, or it compiles them at every start.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import tlslens_command  # bench/run.py, beside this script


def one_run(tlslens: str, capture: Path, extra: list[str], out: Path) -> tuple[float, float]:
    """Wall seconds and processor seconds (user and system, with the workers it waited
    for) of one `tlslens analyze --format jsonl` of `capture`."""
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen([tlslens, "analyze", "--format", "jsonl", *extra, str(capture)],
                                stdout=sink, stderr=subprocess.DEVNULL)  # fmt: skip
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tlslens failed on {capture} (exit {os.waitstatus_to_exitcode(status)})")
    return seconds, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pcap", type=Path, help="the capture the copies were made of")
    parser.add_argument("etl", type=Path, nargs="+", help="ETL copies of it (etl_copy.py)")
    parser.add_argument("--runs", type=int, default=7, help="runs of each file (default 7)")
    parser.add_argument("--no-j1", action="store_true", help="only the default (split) run")
    parser.add_argument("--against", metavar="TLSLENS",
                        help="another tlslens command to time in the same rounds")  # fmt: skip
    args = parser.parse_args()
    files = [args.pcap, *args.etl]
    for path in files:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    builds = [("", tlslens_command())]
    if args.against:
        builds.append((", against", args.against))
    modes = [("split", [])] + ([] if args.no_j1 else [("-j 1", ["-j", "1"])])
    print("| run | " + " | ".join(path.name for path in files) + " |")
    print("|---|" + "---:|" * len(files))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        for name, extra in modes:
            runs: dict[tuple[tuple[str, str], Path], list[tuple[float, float]]] = {
                (build, path): [] for build in builds for path in files
            }
            for round_ in range(args.runs):
                for path in files:
                    # Each build first in every other round: neither always finds the
                    # file's pages, or the processor, as the other left them.
                    for build in builds if round_ % 2 == 0 else builds[::-1]:
                        runs[build, path].append(one_run(build[1], path, extra, out))
            for build in builds:
                for kind, which in (("", 0), (" cpu", 1)):
                    medians = [
                        statistics.median(run[which] for run in runs[build, path]) for path in files
                    ]
                    cells = [f"{medians[0]:.3f} s"] + [
                        f"{m:.3f} s (**{m / medians[0]:.2f}x**)" for m in medians[1:]
                    ]
                    row = f"| {name}{kind}{build[0]} | " + " | ".join(cells) + " |"
                    print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
