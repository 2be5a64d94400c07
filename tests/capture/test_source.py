"""The chunked input under the readers: each chunk is the file's bytes at its offset, across
refills that keep the end of a chunk, for plain and gzip files alike, and for a pipe that
cannot seek back over the bytes read to tell gzip; and a file that shrinks between two
refills loses nothing already read."""

from __future__ import annotations

import gzip
import os
import random
import threading
from pathlib import Path

import pytest

from tlslens.capture.source import CHUNK_BYTES, open_input


def content(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_every_refill_holds_the_file_at_its_offset(tmp_path: Path, compressed: bool) -> None:
    raw = content(3 * CHUNK_BYTES + 12345)
    path = tmp_path / "input.bin"
    path.write_bytes(gzip.compress(raw, compresslevel=1) if compressed else raw)
    source, was_gzip = open_input(str(path))
    assert was_gzip == compressed
    # Keep a varying tail each time (as a record cut by the chunk's end), and sometimes ask
    # for more than a chunk (a large block).
    for step, keep in enumerate([1, 5000, 0, 70000, 3, 2 * CHUNK_BYTES]):
        need = max(keep + 1, 2 * CHUNK_BYTES if step == 4 else 16)
        pos = max(len(source.data) - keep, 0)
        assert source.refill(pos, need) == 0
        base = source.base
        assert source.data == raw[base : base + len(source.data)]
        assert bytes(source.buf) == source.data
        assert len(source.data) >= min(need, len(raw) - base)
        if base + len(source.data) == len(raw):
            break
    source.refill(len(source.data), 16)
    assert source.base + len(source.data) == len(raw)
    assert source.error is None
    source.close()


def test_a_file_that_shrinks_keeps_the_bytes_already_read(tmp_path: Path) -> None:
    raw = content(2 * CHUNK_BYTES)
    path = tmp_path / "ring.bin"
    path.write_bytes(raw)
    source, _ = open_input(str(path))
    source.refill(len(source.data), CHUNK_BYTES)
    kept_from = len(source.data) - 100
    old_base = source.base
    # A capture ring (tcpdump -W) cuts the file under the reader.
    with path.open("r+b") as handle:
        handle.truncate(old_base + kept_from + 10)
    source.refill(kept_from, 200)
    assert source.base == old_base + kept_from
    assert source.data == raw[source.base : source.base + 100]
    source.close()


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
