"""The chunked input under the readers: each chunk is the file's bytes at its offset, across
refills that keep the end of a chunk, for plain files read or mapped (`_mapped.c`) and gzip
files alike, and for a pipe that cannot seek back over the bytes read to tell gzip; a file
that shrinks between two refills loses nothing already read (when read) or says it shrank
(when mapped), and a mapped file cut short under the reader reads as zeros, not SIGBUS."""

from __future__ import annotations

import ctypes
import gzip
import os
import random
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS, analyze_in_child, needs_mapping

from tlslens.capture.source import CHUNK_BYTES, open_input


def content(size: int) -> bytes:
    return random.Random(size).randbytes(size)


try:
    from tlslens.capture import _mapped
except ImportError:  # not built (not POSIX, or installed as pure Python)
    _mapped = None  # type: ignore[assignment]

#: How a file is taken in: a plain file read in chunks or mapped, and a gzip file.
MODES = [
    pytest.param("read", id="plain-read"),
    pytest.param("mapped", id="plain-mapped", marks=needs_mapping),
    pytest.param("gzip", id="gzip"),
]


@pytest.fixture
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TLSLENS_MAP", "1" if request.param == "mapped" else "0")
    return str(request.param)


def _is_mapped(data: bytes) -> bool:
    return _mapped is not None and isinstance(data, _mapped.FileWindow)


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_every_refill_holds_the_file_at_its_offset(tmp_path: Path, mode: str) -> None:
    raw = content(3 * CHUNK_BYTES + 12345)
    path = tmp_path / "input.bin"
    path.write_bytes(gzip.compress(raw, compresslevel=1) if mode == "gzip" else raw)
    source, was_gzip = open_input(str(path))
    assert was_gzip == (mode == "gzip")
    # Keep a varying tail each time (as a record cut by the chunk's end), and sometimes ask
    # for more than a chunk (a large block).
    for step, keep in enumerate([1, 5000, 0, 70000, 3, 2 * CHUNK_BYTES]):
        need = max(keep + 1, 2 * CHUNK_BYTES if step == 4 else 16)
        pos = max(len(source.data) - keep, 0)
        wanted = source.base + pos
        at = source.refill(pos, need)
        assert _is_mapped(source.data) == (mode == "mapped")
        base = source.base
        assert base + at == wanted  # where the bytes asked for are now
        if mode == "mapped":
            assert base % _mapped.PAGE_SIZE == 0 and 0 <= at < _mapped.PAGE_SIZE
        else:
            assert at == 0
        assert source.data == raw[base : base + len(source.data)]
        assert bytes(source.buf) == source.data
        assert len(source.data) - at >= min(need, len(raw) - wanted)
        if base + len(source.data) == len(raw):
            break
    source.refill(len(source.data), 16)
    assert source.base + len(source.data) == len(raw)
    assert source.error is None
    source.close()


@pytest.mark.parametrize("mode", MODES[:2], indirect=True)
def test_a_file_that_shrinks_keeps_the_bytes_already_read(tmp_path: Path, mode: str) -> None:
    raw = content(2 * CHUNK_BYTES)
    path = tmp_path / "ring.bin"
    path.write_bytes(raw)
    source, _ = open_input(str(path))
    source.refill(len(source.data), CHUNK_BYTES)
    kept_from = len(source.data) - 100
    old_base = source.base
    # A capture ring (tcpdump -W) cuts the file under the reader.
    cut = old_base + kept_from + 10
    with path.open("r+b") as handle:
        handle.truncate(cut)
    source.refill(kept_from, 200)
    assert source.base == old_base + kept_from
    if mode == "read":  # copied before the cut
        assert source.data == raw[source.base : source.base + 100]
        assert source.error is None
    else:  # the pages past the new end are gone: zeros, and said so
        assert source.data == raw[source.base : cut] + bytes(100 - 10)
        assert source.error is not None and "shrank while it was read" in source.error
    source.close()


@needs_mapping
def test_a_mapped_file_cut_under_the_reader_reads_zeros_and_says_so(tmp_path: Path) -> None:
    # Without the SIGBUS handler of _mapped.c the child dies reading the cut pages; run in a
    # process of its own so that such a death fails this test, not the test run.
    raw = content(3 * CHUNK_BYTES)
    path = tmp_path / "cut.bin"
    path.write_bytes(raw)
    script = f"""
import os, sys
os.environ["TLSLENS_MAP"] = "1"
from tlslens.capture import _mapped
from tlslens.capture.source import CHUNK_BYTES, open_input
path = {str(path)!r}
source, _ = open_input(path)
source.refill(0, CHUNK_BYTES)
window = source.data
assert isinstance(window, _mapped.FileWindow), type(window)
before = _mapped.shrink_faults()
os.truncate(path, 8192)
assert window[:8192] == open(path, "rb").read()
assert window[8192:] == bytes(len(window) - 8192)  # every cut page reads as zeros
assert _mapped.shrink_faults() > before
source.refill(len(window), 16)  # what comes next: the end of the file
assert len(source.data) == 0 and source.eof
print(source.error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the file shrank while it was read (to 8192 bytes)" in done.stdout


@needs_mapping
def test_a_window_is_unmapped_once_nothing_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content(CHUNK_BYTES + 5000))
    fd = os.open(path, os.O_RDONLY)
    try:
        alive = _mapped.live_windows()
        maps = Path("/proc/self/maps").read_text().count(str(path))
        window = _mapped.window(fd, _mapped.PAGE_SIZE, CHUNK_BYTES)
        assert window is not None and len(window) == CHUNK_BYTES
        view = memoryview(window)[10:20]  # a view keeps its window
        del window
        assert _mapped.live_windows() == alive + 1
        assert Path("/proc/self/maps").read_text().count(str(path)) == maps + 1
        assert bytes(view) == path.read_bytes()[_mapped.PAGE_SIZE + 10 : _mapped.PAGE_SIZE + 20]
        del view
        assert _mapped.live_windows() == alive
        assert Path("/proc/self/maps").read_text().count(str(path)) == maps
    finally:
        os.close(fd)


@needs_mapping
@pytest.mark.parametrize("length", [1, 4095, 4096, 4097, 3 * 4096 + 7])
def test_a_window_is_bytes_that_end_in_a_zero(tmp_path: Path, length: int) -> None:
    raw = content(64 * 1024)
    path = tmp_path / "input.bin"
    path.write_bytes(raw)
    fd = os.open(path, os.O_RDONLY)
    try:
        window = _mapped.window(fd, 0, length)
        assert isinstance(window, bytes) and window == raw[:length]
        assert hash(window) == hash(raw[:length])
        # The byte after the contents, as CPython keeps after every bytes object.
        assert ctypes.string_at(id(window) + sys.getsizeof(b"") - 1 + length, 1) == b"\0"
        # Past the end of the file the window is shorter; from the end, nothing.
        tail = _mapped.window(fd, 60 * 1024, 8 * 1024)
        assert tail == raw[60 * 1024 :]
        assert _mapped.window(fd, 64 * 1024, 4096) == b""
        with pytest.raises(ValueError):
            _mapped.window(fd, 100, 4096)  # not at a page
        with pytest.raises(TypeError):
            _mapped.FileWindow(b"made on the heap")  # type: ignore[call-arg]
    finally:
        os.close(fd)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_pipe_is_read_whole(tmp_path: Path, compressed: bool) -> None:
    # `tcpdump -w - | tlslens analyze /dev/stdin`, a FIFO, `<(zcat trace.pcap.gz)`.
    raw = content(CHUNK_BYTES + 4321)
    written = gzip.compress(raw, compresslevel=1) if compressed else raw
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer() -> None:
        with fifo.open("wb") as out:
            out.write(written[:1])  # the format is told from bytes that come one by one
            out.flush()
            out.write(written[1:])

    thread = threading.Thread(target=writer)
    thread.start()
    source, was_gzip = open_input(str(fifo))
    assert was_gzip == compressed
    got = source.data
    while not source.eof:
        source.refill(len(source.data), 16)
        got += source.data
    thread.join()
    assert got == raw
    assert source.error is None
    source.close()


def _every_capture() -> list[Path]:
    """The captures of tests/fixtures and of the corpus, in every format tlslens reads."""
    endings = (".pcap", ".pcapng", ".gz", ".etl", ".cap")
    ours = sorted(p for p in CAPTURES.iterdir() if p.name.endswith(endings))
    if not CORPUS.is_dir():
        return ours
    return ours + sorted(p for p in CORPUS.rglob("*") if p.name.endswith(endings))


@needs_mapping
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_mapped_and_read_files_give_the_same_output(jobs: str) -> None:
    files = [str(p) for p in _every_capture()]
    assert any(f.endswith(".etl") for f in files) or not CORPUS.is_dir()
    mapped = analyze_in_child(files, jobs, TLSLENS_MAP="1")
    read = analyze_in_child(files, jobs, TLSLENS_MAP="0")
    assert mapped.stdout.count("\n") > len(files), mapped.stderr
    assert mapped.stdout == read.stdout
    assert mapped.stderr == read.stderr
    assert mapped.returncode == read.returncode


def _child(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` in a Python process of its own: a test of SIGBUS must not risk this one."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


@needs_mapping
def test_a_sigbus_sent_by_another_process_still_ends_it(tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content(2 * CHUNK_BYTES))
    done = _child(f"""
import os, signal, time
from tlslens.capture import _mapped
fd = os.open({str(path)!r}, os.O_RDONLY)
window = _mapped.window(fd, 0, 4096)
os.kill(os.getpid(), signal.SIGBUS)  # not a fault in a window: the default, as before
time.sleep(5)
print("survived")
""")
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stdout, done.stderr)
    assert "survived" not in done.stdout


@needs_mapping
@pytest.mark.parametrize(
    ("before", "after"),
    [("", "faulthandler.enable()"), ("faulthandler.enable()", "faulthandler.disable()")],
    ids=["enabled-after", "disabled-after"],
)
def test_windows_made_after_faulthandler_changes_sigbus_are_still_safe(
    tmp_path: Path, before: str, after: str
) -> None:
    # faulthandler.enable() takes SIGBUS over; disable() puts back what it found when it was
    # enabled (here the default). The next window must make a cut page read as zeros again.
    path = tmp_path / "cut.bin"
    path.write_bytes(content(3 * CHUNK_BYTES))
    done = _child(f"""
import faulthandler, os
from tlslens.capture import _mapped
path = {str(path)!r}
fd = os.open(path, os.O_RDONLY)
{before}
first = _mapped.window(fd, 0, 4096)
{after}
window = _mapped.window(fd, 4096, 2 * {CHUNK_BYTES})
os.truncate(path, 8192)
assert window[4096:] == bytes(len(window) - 4096)
print("zeros", _mapped.shrink_faults())
""")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("zeros ")


@needs_mapping
def test_a_pcap_cut_under_the_reader_gives_only_its_real_frames(tmp_path: Path) -> None:
    # Records of 16 + 200 bytes, 3 MB of them; the file is cut to 200,000 bytes after 100
    # frames: the frames after the cut, in zeroed pages, must not come out as empty frames.
    record = struct.pack("<IIII", 1_700_000_000, 0, 200, 200) + bytes(range(200))
    count = 3 * CHUNK_BYTES // len(record)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    path = tmp_path / "cut.pcap"
    path.write_bytes(header + record * count)
    done = _child(f"""
import os
os.environ["TLSLENS_MAP"] = "1"
from tlslens.capture import open_capture
path = {str(path)!r}
capture = open_capture(path)
times = []
for number, ts, _lt, data, _meta in capture:
    times.append((ts, len(data)))
    if number == 100:
        os.truncate(path, 200_000)
print(len(times), sum(1 for ts, n in times if n != 200))
print([p.message for p in capture.problems])
""")
    assert done.returncode == 0, done.stderr
    frames, odd = (int(n) for n in done.stdout.splitlines()[0].split())
    assert odd == 0
    assert frames <= (200_000 - 24) // len(record) + 1
    assert "the file shrank while it was read (to 200000 bytes)" in done.stdout


@needs_mapping
def test_reading_takes_over_where_a_window_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # window() gives None once too many windows are alive (or raises OSError where a file
    # system cannot map): the rest of the file is read, from where the windows stopped.
    raw = content(4 * CHUNK_BYTES + 777)
    path = tmp_path / "input.bin"
    path.write_bytes(raw)
    made = []
    real = _mapped.window

    def window(fd: int, offset: int, length: int) -> bytes | None:
        made.append(offset)
        return real(fd, offset, length) if len(made) < 3 else None

    monkeypatch.setenv("TLSLENS_MAP", "1")
    monkeypatch.setattr(_mapped, "window", window)  # looked up on the module at each call
    source, _ = open_input(str(path))
    got = b""
    pos = 0
    while True:
        at = source.refill(pos, 5000)
        if len(source.data) <= at:
            break
        assert source.data == raw[source.base : source.base + len(source.data)]
        got += source.data[at:]
        pos = len(source.data)
    assert got == raw[: len(got)] and len(got) == len(raw)
    assert len(made) == 3 and not source.mapped and source.error is None
    source.close()
