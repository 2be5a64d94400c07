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
    args = parser.parse_args()
    files = [args.pcap, *args.etl]
    for path in files:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    tlslens = tlslens_command()
    modes = [("split", [])] + ([] if args.no_j1 else [("-j 1", ["-j", "1"])])
    print("| run | " + " | ".join(path.name for path in files) + " |")
    print("|---|" + "---:|" * len(files))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        for name, extra in modes:
            runs: dict[Path, list[tuple[float, float]]] = {path: [] for path in files}
            for _ in range(args.runs):
                for path in files:
                    runs[path].append(one_run(tlslens, path, extra, out))
            for kind, which in (("", 0), (" cpu", 1)):
                medians = [statistics.median(run[which] for run in runs[path]) for path in files]
                cells = [f"{medians[0]:.3f} s"] + [
                    f"{m:.3f} s (**{m / medians[0]:.2f}x**)" for m in medians[1:]
                ]
                print(f"| {name}{kind} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
