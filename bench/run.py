#!/usr/bin/env python3
"""Benchmark tlslens against tshark on the same captures, in the same run; print markdown.

Usage::

    .venv/bin/python bench/run.py /tmp/bench/handshake.pcap /tmp/bench/bulk.pcap [--runs 3]
    .venv/bin/python bench/run.py /tmp/bench/bulk-x10.pcap --runs 1 --tools tlslens --no-pcapng

For every capture, and for a pcapng copy of it (``editcap -F pcapng``, made once next to the
capture or in ``--workdir``; ``--formats pcapng,netmon2`` adds a NetMon copy), each tool
runs ``--runs`` times; the runs alternate between the tools so that a busy neighbour slows
both alike.  The table shows the median wall time and the median CPU time (user and
system, of the tool and the workers it forked: ``os.wait4``), whose ratio says how many
cores a run got (on a shared machine a split run may get fewer than it asks for),
throughput (MB of capture file per second, frames per second), the peak resident memory
(``ru_maxrss`` of the child, from ``os.wait4``), how many records the tool wrote, and the
speed-up: tshark's median time divided by tlslens's (above 1 means tlslens is faster).

The jobs are the same facts on both sides:

* tlslens: ``tlslens analyze --format jsonl FILE``, the full analysis with certificates,
  one JSON line per TCP connection (output written to a file, as a user would), on every
  core as by default; ``--tools tlslens,tlslens-j1,tshark`` adds the same with ``-j 1``.
  Peak memory is that of the largest process, not the sum over the workers.
* tshark: ``tshark -r FILE -n -Y "tls.handshake or tls.alert_message" -T fields`` with
  frame number, TCP stream, handshake type, record and supported versions, cipher suites,
  SNI, the certificates and the alert description; it too follows every TCP conversation
  and reassembles the handshake messages.

ETL (Windows pktmon) captures are benchmarked with tlslens alone (tshark 4.0 cannot read
them) once ``src/tlslens/capture/etl.py`` exists; until then the run says it skipped them.
Timings depend on the machine and on what else runs: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETL_READER = ROOT / "src" / "tlslens" / "capture" / "etl.py"
DEFAULT_ETL = ROOT.parent / "shared" / "corpus" / "etl" / "demikernel_PktMon.etl"
TSHARK_FIELDS = (
    "frame.number",
    "tcp.stream",
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions_server_name",
    "tls.handshake.certificate",
    "tls.alert_message.desc",
)
TSHARK_FILTER = "tls.handshake or tls.alert_message"


@dataclass
class Result:
    capture: str
    format: str
    size_mb: float
    frames: int
    tool: str
    runs: int
    median_s: float
    median_cpu_s: float
    mb_per_s: float
    frames_per_s: float
    peak_rss_mib: float
    records: str
    speedup: float | None = None  # tshark time / tlslens time, on tlslens's row


def tlslens_command() -> str:
    beside = Path(sys.executable).with_name("tlslens")
    for candidate in (beside, ROOT / ".venv" / "bin" / "tlslens"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("tlslens")
    if not found:
        raise SystemExit("tlslens is not installed: run `pip install -e .` in a virtualenv")
    return found


def commands(capture: Path, tools: list[str]) -> dict[str, list[str]]:
    cmds = {}
    if "tlslens" in tools:
        cmds["tlslens"] = [tlslens_command(), "analyze", "--format", "jsonl", str(capture)]
    if "tlslens-j1" in tools:
        # One process: what a one-core machine gets (the default uses every core; a large
        # capture is then split by connection over them).
        cmds["tlslens-j1"] = [tlslens_command(), "analyze", "--format", "jsonl", "-j", "1",
                              str(capture)]  # fmt: skip
    if "tshark" in tools and capture.suffix != ".etl":
        tshark = shutil.which("tshark")
        if tshark:
            fields = [arg for f in TSHARK_FIELDS for arg in ("-e", f)]
            cmds["tshark"] = [tshark, "-r", str(capture), "-n", "-Y", TSHARK_FILTER]
            cmds["tshark"] += ["-T", "fields", *fields]
    return cmds


def measure(cmd: list[str], out: Path) -> tuple[float, float, int, bytes]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one run; stdout goes to `out`. The
    CPU time counts the processes the tool forked and waited for (wait4's usage does)."""
    with open(out, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        err = stderr.read()
    if proc.returncode not in (0, 1):
        tail = err.decode(errors="replace").strip()[-500:]
        raise SystemExit(f"{cmd[0]} failed (exit {proc.returncode}) on {cmd}: {tail}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, err


def count_records(tool: str, out: Path) -> str:
    """What the tool wrote: connections (tlslens) or rows and TCP streams (tshark)."""
    if tool.startswith("tlslens"):
        with open(out, "rb") as f:
            return f"{sum(1 for _ in f):,} connections"
    streams: set[bytes] = set()
    rows = 0
    with open(out, "rb") as f:
        for line in f:
            rows += 1
            streams.add(line.split(b"\t", 2)[1])
    return f"{rows:,} rows, {len(streams):,} streams"


def frame_count(path: Path) -> int:
    capinfos = shutil.which("capinfos")
    if capinfos and path.suffix != ".etl":
        res = subprocess.run([capinfos, "-M", "-c", str(path)], capture_output=True, text=True)
        m = re.search(r"Number of packets:\s*(\d+)", res.stdout)
        if m:
            return int(m.group(1))
    sys.path.insert(0, str(ROOT / "src"))
    from tlslens.capture import open_capture

    capture = open_capture(str(path))
    for _ in capture:
        pass
    return int(capture.frames_read)


COPY_SUFFIX = {"pcapng": ".pcapng", "netmon2": ".cap"}


def converted_copy(path: Path, fmt: str, workdir: Path) -> Path | None:
    """A copy of a pcap file in another format (`editcap -F FMT`), made once and reused
    while it is newer than the source; None without editcap."""
    editcap = shutil.which("editcap")
    if editcap is None:
        return None
    dst = workdir / f"{path.stem}{COPY_SUFFIX[fmt]}"
    if not dst.exists() or dst.stat().st_mtime < path.stat().st_mtime:
        print(f"converting {path} to {dst} (editcap -F {fmt})", file=sys.stderr, flush=True)
        subprocess.run([editcap, "-F", fmt, str(path), str(dst)], check=True)
    return dst


def cache_bytecode() -> None:
    """Write tlslens's bytecode caches, as its first run or a pip install does, even where
    PYTHONDONTWRITEBYTECODE is set (a developer's shell, a CI image): there every timed run
    would compile the sources again, 0.05 s of a run here."""
    import compileall

    import tlslens

    compileall.compile_dir(str(Path(tlslens.__file__).parent), quiet=1)


def bench(path: Path, fmt: str, tools: list[str], runs: int, workdir: Path) -> list[Result]:
    cmds = commands(path, tools)
    size_mb = path.stat().st_size / 1e6
    frames = frame_count(path)
    print(f"{path} ({fmt}): {size_mb:.1f} MB, {frames:,} frames", file=sys.stderr, flush=True)
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    records: dict[str, str] = {}
    for r in range(runs):
        for name, cmd in cmds.items():
            out = workdir / f".run-{os.getpid()}-{name}.out"
            try:
                wall, cpu, rss, _ = measure(cmd, out)
                if r == 0:
                    records[name] = count_records(name, out)
            finally:
                out.unlink(missing_ok=True)
            samples[name].append((wall, cpu, rss))
            print(f"  run {r + 1}/{runs} {name}: {wall:.2f} s, CPU {cpu:.2f} s, "
                  f"{rss / 1024:.0f} MiB", file=sys.stderr, flush=True)  # fmt: skip
    results = []
    for name, runs_ in samples.items():
        wall = statistics.median(w for w, _, _ in runs_)
        results.append(
            Result(
                capture=path.name,
                format=fmt,
                size_mb=round(size_mb, 1),
                frames=frames,
                tool=name,
                runs=runs,
                median_s=round(wall, 3),
                median_cpu_s=round(statistics.median(c for _, c, _ in runs_), 3),
                mb_per_s=round(size_mb / wall, 1),
                frames_per_s=round(frames / wall),
                peak_rss_mib=round(max(m for _, _, m in runs_) / 1024, 1),
                records=records.get(name, ""),
            )
        )
    times = {r.tool: r.median_s for r in results}
    for r in results:
        if r.tool.startswith("tlslens") and "tshark" in times:
            r.speedup = round(times["tshark"] / times[r.tool], 2)
    return results


def machine() -> str:
    cpu = "unknown CPU"
    cores = os.cpu_count()
    mem = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    osname = platform.platform()
    with contextlib.suppress(OSError):
        pretty = platform.freedesktop_os_release()["PRETTY_NAME"]
        osname = f"{pretty}, Linux {platform.release()}"
    tshark = "tshark not installed"
    if shutil.which("tshark"):
        res = subprocess.run(["tshark", "--version"], capture_output=True, text=True)
        tshark = res.stdout.splitlines()[0]
    # Whether tlslens runs its compiled core (tlslens.compiled) changes its times by half.
    build = subprocess.run([tlslens_command(), "--version"], capture_output=True, text=True)
    return (
        f"{cpu}, {cores} cores, {mem}; {osname}; Python {platform.python_version()}; "
        f"{build.stdout.strip()}; {tshark}"
    )


def table(results: list[Result]) -> str:
    head = (
        "| capture | format | MB | frames | tool | median s | CPU s | MB/s | frames/s "
        "| peak RSS MiB | output | tshark time / tlslens time |\n"
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|\n"
    )
    rows = []
    for r in results:
        speed = f"**{r.speedup:.2f}x**" if r.speedup is not None else ""
        rows.append(
            f"| {r.capture} | {r.format} | {r.size_mb:,.1f} | {r.frames:,} | {r.tool} "
            f"| {r.median_s:.2f} | {r.median_cpu_s:.2f} | {r.mb_per_s:,.1f} "
            f"| {r.frames_per_s:,.0f} | {r.peak_rss_mib:,.0f} | {r.records} | {speed} |"
        )
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("captures", type=Path, nargs="+")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and file (default 3)")
    parser.add_argument(
        "--tools", default="tlslens,tshark",
        help="comma-separated: tlslens, tlslens-j1 (one process), tshark",
    )  # fmt: skip
    parser.add_argument(
        "--formats",
        default="pcapng",
        help="copies to time besides each pcap, made by editcap -F: pcapng, netmon2 "
        "(comma-separated; default pcapng)",
    )
    parser.add_argument("--no-pcapng", action="store_true", help="time the pcap files only")
    parser.add_argument("--etl", type=Path, help=f"ETL capture (default {DEFAULT_ETL})")
    parser.add_argument("--workdir", type=Path, help="for pcapng copies (default: beside each)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    formats = [] if args.no_pcapng else [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(COPY_SUFFIX):
        parser.error(f"unknown --formats {', '.join(sorted(unknown))}; known: pcapng, netmon2")
    if "tshark" in tools and shutil.which("tshark") is None:
        print("tshark is not installed: timing tlslens alone", file=sys.stderr)
    results: list[Result] = []
    notes = []
    cache_bytecode()
    for capture in args.captures:
        if not capture.is_file():
            raise SystemExit(f"{capture}: no such file (make one with bench/generate.py)")
        workdir = (args.workdir or capture.resolve().parent).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        fmt = "pcapng" if capture.suffix == ".pcapng" else "pcap"
        results += bench(capture, fmt, tools, args.runs, workdir)
        for other in formats if fmt == "pcap" else []:
            copy = converted_copy(capture, other, workdir)
            if copy is None:
                notes.append(f"{other}: skipped (editcap is not installed)")
            else:
                results += bench(copy, other, tools, args.runs, workdir)
    etl = args.etl or DEFAULT_ETL
    if not ETL_READER.exists():
        notes.append(f"ETL: skipped, {ETL_READER.relative_to(ROOT)} does not exist yet")
    elif not etl.is_file():
        notes.append(f"ETL: skipped, no ETL capture at {etl} (give one with --etl)")
    else:
        workdir = (args.workdir or Path(tempfile.gettempdir())).resolve()
        results += bench(etl, "etl", ["tlslens"], args.runs, workdir)
        notes.append("ETL: tlslens only (tshark cannot read pktmon ETL files)")
    print(f"Machine: {machine()}  ")
    print(f"Runs per tool: {args.runs} (median wall time, peak RSS over the runs)\n")
    print(table(results))
    for note in notes:
        print(f"- {note}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
