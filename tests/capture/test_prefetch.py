"""The ETL prefetch (`_prefetch.c`): it finds every event the reader reads, stops at damage
without reading past its bytes (checked under AddressSanitizer where gcc has it), the reader
asks it for every new chunk, and the output is the same without it."""

from __future__ import annotations

import ast
import os
import random
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from capture.etl_writer import EtlWriter
from conftest import CAPTURES, CORPUS, analyze_in_child, needs_corpus, needs_prefetch
from hypothesis import given, settings
from hypothesis import strategies as st

from tlslens.capture import open_capture

pytestmark = needs_prefetch

PREFETCH_SOURCE = Path(__file__).parents[2] / "src" / "tlslens" / "capture" / "_prefetch.c"
#: Buffers the prefetch walks side by side at most (MAX_CHAINS in `_prefetch.c`).
MAX_CHAINS = 64


def etl_events(data: bytes, start: int, stop: int) -> int:
    from tlslens.capture._prefetch import etl_events as prefetch

    return prefetch(data, start, stop)


def packets() -> list[tuple[int, bytes]]:
    """(time stamp ns, bytes) of every packet of basic.pcap (Ethernet, TLS 1.2 and 1.3)."""
    capture = open_capture(str(CAPTURES / "basic.pcap"))
    return [(ts, bytes(data)) for _n, ts, _lt, data, _m in capture]


def mixed_trace(*, pointer_size: int = 8, compress: bool = False, rounds: int = 1) -> bytes:
    """NDIS and pktmon packets on four processors, between process events of both kinds
    (the NT Kernel Logger's have their size at offset 4) and events of another provider."""
    writer = EtlWriter(pointer_size=pointer_size, compress=compress)
    source = packets()
    first = source[0][0]
    writer.classic_process(1234, "curl.exe", first - 5000, cpu=1)
    writer.kernel_process(2200, r"\Device\HarddiskVolume3\app\server.exe", first, cpu=2)
    for r in range(rounds):
        for k, (ts, data) in enumerate(source):
            ts += r * 10**9
            writer.ndis(data, ts, pid=1234, tid=7, send=k % 2 == 0, cpu=k % 4)
            writer.pktmon(data, ts + 1, group=r * 10_000 + k, component=3, cpu=(k + 1) % 4)
            writer.pktmon(data, ts + 2, group=r * 10_000 + k, component=4, cpu=(k + 1) % 4)
            if k % 5 == 0:
                writer.other(ts, cpu=k % 4, size=8 + k % 200)
    return writer.to_bytes()


def buffer_starts(data: bytes) -> list[int]:
    starts = []
    pos = 0
    while pos + 0x48 <= len(data):
        starts.append(pos)
        (size,) = struct.unpack_from("<I", data, pos)
        pos += size
    return starts


def events_read(path: Path) -> int:
    capture = open_capture(str(path))
    for _frame in capture:
        pass
    return int(capture.reader.events)


def events_prefetched(data: bytes) -> int:
    return etl_events(data, 0, len(data))


@pytest.mark.parametrize("pointer_size", [8, 4])
def test_it_finds_every_event_the_reader_reads(tmp_path: Path, pointer_size: int) -> None:
    data = mixed_trace(pointer_size=pointer_size, rounds=5)
    path = tmp_path / "trace.etl"
    path.write_bytes(data)
    starts = buffer_starts(data)
    assert len(starts) > 2 * MAX_CHAINS  # walked in several groups
    found = events_prefetched(data)
    assert found == events_read(path)
    assert found > 5 * 3 * len(packets())
    # Asked for from a buffer in the middle, as for a later chunk of the file.
    middle = starts[MAX_CHAINS + 5]
    assert etl_events(data, 0, middle) + etl_events(data, middle, len(data)) == found


@needs_corpus
@pytest.mark.parametrize("name", ["lxcore_kernel.etl", "AMSITrace.etl"])
def test_it_finds_every_event_of_real_traces(name: str) -> None:
    # Traces of other providers (system, compact and full headers), written by Windows.
    path = CORPUS / "etl" / "airbus-cert-etl-parser" / "tests" / "example" / name
    assert events_prefetched(path.read_bytes()) == events_read(path) > 0


def test_compressed_buffers_are_left_to_the_reader() -> None:
    # Their events are not in the file as they are: only the (plain) header buffer's one.
    assert etl_events(mixed_trace(compress=True), 0, 1 << 30) == 1


def test_a_window_that_ends_inside_a_buffer_finds_its_complete_events() -> None:
    data = mixed_trace()
    second, third = buffer_starts(data)[1:3]
    whole = etl_events(data, second, third)
    assert whole > 2
    (used,) = struct.unpack_from("<I", data, second + 0x30)  # the end of its last event
    assert etl_events(data, second, second + used) == whole
    assert etl_events(data, second, second + used - 8) == whole - 1  # (events are padded to 8)
    assert etl_events(data, second, second + 0x48) == 0
    assert etl_events(data, 0, -5) == etl_events(data, -5, 0) == 0
    assert etl_events(data, -100, len(data) + 10**9) == etl_events(data, 0, len(data))
    # The ends of what a Py_ssize_t holds: clipped, with no arithmetic past them.
    most = sys.maxsize
    assert etl_events(data, 0, -most - 1) == etl_events(data, most, most) == 0
    assert etl_events(data, -most - 1, most) == etl_events(data, 0, len(data))
    huge = struct.pack("<I", 32 << 20) + bytes(0x44)  # a buffer claiming 32 MiB, alone
    assert etl_events(huge, 0, -most - 1) == etl_events(huge, 0, most) == 0


def test_anything_but_bytes_is_refused() -> None:
    from tlslens.capture._prefetch import etl_events as prefetch

    with pytest.raises(TypeError):
        prefetch(bytearray(mixed_trace()), 0, 100)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        prefetch(b"", 0)  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        prefetch(b"", 2**70, 0)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 255)), max_size=40),
    start=st.integers(-10, 40_000),
    stop=st.integers(-10, 60_000),
    cut=st.integers(0, 40_000),
)
def test_damage_anywhere_only_stops_it(
    changes: list[tuple[int, int]], start: int, stop: int, cut: int
) -> None:
    data = bytearray(_SMALL_TRACE)
    for at, value in changes:
        data[at % len(data)] = value
    found = etl_events(bytes(data[: max(cut, 8)]), start, stop)
    assert 0 <= found <= max(0, stop - start) // 8


_SMALL_TRACE = mixed_trace()


# -- memory safety, under AddressSanitizer -----------------------------------------------------

_ASAN_FUZZ = """
import random, struct, sys, importlib.util
spec = importlib.util.spec_from_file_location("tlslens.capture._prefetch", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
trace = open(sys.argv[2], "rb").read()
rng = random.Random(int(sys.argv[3]))
buffers = [int(n) for n in sys.argv[5].split(",")]
edges = [int(n) for n in sys.argv[6].split(",")]  # where events start and end
sizes = [0, 1, 7, 8, 0x47, 0x48, 0x50, 0x4000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]
extremes = [-sys.maxsize - 1, -1, 0, sys.maxsize]

def near():
    return max(8, rng.choice(edges) + rng.randrange(-9, 10))

total = 0
# Every cut near every edge of the first buffers, the walk from their start.
for edge in edges:
    if edge < buffers[min(8, len(buffers) - 1)]:
        first = max(b for b in buffers if b <= edge)
        for cut in range(max(8, edge - 9), edge + 10):
            total += module.etl_events(bytes(trace[:cut]), first, cut + rng.randrange(64))
# Then damage and cuts at random.
for round in range(int(sys.argv[4])):
    # Cut near where an event starts or ends, mostly; damaged in a few places.
    data = bytearray(trace[: near() if rng.random() < 0.7 else rng.randrange(8, len(trace))])
    for _ in range(rng.choice([0, 0, 1, 2, 8])):
        at = rng.randrange(len(data))
        if rng.random() < 0.5 and at + 4 <= len(data):  # a size, offset or event word
            struct.pack_into("<I", data, at, rng.choice(sizes))
        else:
            data[at] = rng.randrange(256)
    start = rng.choice(buffers) if rng.random() < 0.8 else rng.randrange(-8, len(data))
    stop = len(data) + rng.randrange(64) if rng.random() < 0.5 else near()
    if rng.random() < 0.02:
        start, stop = rng.choice(extremes), rng.choice(extremes)
    # Each a bytes object of its own (PYTHONMALLOC=malloc), so a read past its end is seen.
    total += module.etl_events(bytes(data), start, stop)
print("events", total)
"""


def event_edges(data: bytes) -> list[int]:
    """Where each event of a plain trace starts and ends (unpadded), where each buffer's
    events end, and where the fields of each buffer header are."""
    edges = []
    for start in buffer_starts(data):
        (used,) = struct.unpack_from("<I", data, start + 0x30)
        edges += [start + used, start + 4, start + 0x34, start + 0x36, start + 0x48]
        p = start + 0x48
        while p + 8 <= start + used:
            size, htype = struct.unpack_from("<HB", data, p)
            if htype in (1, 2, 3, 4, 0x10, 0x11):
                (size,) = struct.unpack_from("<H", data, p + 4)
            edges += [p, p + size]
            p += (size + 7) & ~7
    return edges


def _asan_library() -> str | None:
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    found = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True, text=True,
                           check=False).stdout.strip()  # fmt: skip
    return found if os.path.isabs(found) and os.path.exists(found) else None


@pytest.mark.skipif(_asan_library() is None, reason="gcc with AddressSanitizer not installed")
def test_damaged_traces_are_read_within_their_bytes_under_asan(tmp_path: Path) -> None:
    library = _asan_library()
    assert library is not None
    built = tmp_path / "_prefetch_asan.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer",
         "-I", sysconfig.get_paths()["include"], str(PREFETCH_SOURCE), "-o", str(built)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    trace = tmp_path / "trace.etl"
    trace.write_bytes(_SMALL_TRACE)
    buffers = ",".join(map(str, buffer_starts(_SMALL_TRACE)))
    edges = ",".join(map(str, event_edges(_SMALL_TRACE)))
    env = {**os.environ, "LD_PRELOAD": library, "PYTHONMALLOC": "malloc",
           "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", _ASAN_FUZZ, str(built), str(trace), str(random.randrange(10**6)),
         "4000", buffers, edges],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "AddressSanitizer" not in run.stderr
    assert int(run.stdout.split()[-1]) > 0


# -- the reader -------------------------------------------------------------------------------

_COUNTING = """
import sys, types
calls = []
from tlslens.capture import _prefetch
shim = types.ModuleType("tlslens.capture._prefetch")
def etl_events(data, start, stop):
    size = int.from_bytes(data[start : start + 4], "little")  # a buffer's BufferSize
    calls.append((len(data), size, stop, _prefetch.etl_events(data, start, stop)))
    return calls[-1][-1]
shim.etl_events = etl_events
sys.modules["tlslens.capture._prefetch"] = shim
from tlslens.capture import open_capture
capture = open_capture(sys.argv[1])
frames = sum(1 for _ in capture)
print(frames, repr(calls))
"""


@pytest.mark.usefixtures("each_input_mode")
def test_the_reader_asks_for_every_new_chunk(tmp_path: Path) -> None:
    data = mixed_trace(rounds=60)
    path = tmp_path / "trace.etl"
    path.write_bytes(data)
    assert len(data) > 4 * 2**20
    run = subprocess.run([sys.executable, "-c", _COUNTING, str(path)], capture_output=True,
                         text=True, check=False, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    frames, calls = run.stdout.split(" ", 1)
    asked = ast.literal_eval(calls)
    assert int(frames) > 0
    # A call for each chunk (about a MiB), each from a buffer's start to the chunk's end,
    # and together they found every event the reader read.
    assert len(asked) >= len(data) // 2**20
    assert all(stop == length and size == 0x4000 for length, size, stop, _n in asked)
    assert sum(n for *_rest, n in asked) >= events_read(path)


@pytest.mark.usefixtures("each_input_mode")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_output_is_the_same_without_it(tmp_path: Path, jobs: str) -> None:
    path = tmp_path / "trace.etl"
    path.write_bytes(mixed_trace(rounds=20))
    files = [str(path)]
    if CORPUS.is_dir():
        files += [str(p) for p in sorted((CORPUS / "etl").rglob("*.etl"))]
    on = analyze_in_child(files, jobs, TLSLENS_PREFETCH="1")
    off = analyze_in_child(files, jobs, TLSLENS_PREFETCH="0")
    assert on.stdout.count("\n") > 20, on.stderr
    assert (on.stdout, on.stderr, on.returncode) == (off.stdout, off.stderr, off.returncode)
