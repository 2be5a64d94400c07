"""Plain files are mapped into memory and read through a moving window (capture.source):
every reader must see the same frames and problems as when the file is read into chunks."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS

from tlslens.capture import CaptureError, open_capture, source


def _plain_captures() -> list[Path]:
    ours = [p for p in sorted(CAPTURES.iterdir()) if p.suffix in (".pcap", ".pcapng")]
    theirs = sorted(
        p
        for pattern in ("*.pcap", "*.pcapng", "*.cap", "*.etl")
        for p in CORPUS.rglob(pattern)
        if p.stat().st_size < 4 << 20
    )
    return ours + theirs[:40]


def _read(path: Path) -> tuple[list[tuple[int, int, int, bytes]], list[str], int]:
    try:
        capture = open_capture(str(path))
    except CaptureError as exc:
        return [], [str(exc)], 0
    frames = [(n, ts, lt, bytes(data)) for n, ts, lt, data, _meta in capture]
    released = capture.reader.source._released
    return frames, [str(p) for p in capture.problems], released


def _unmappable(*_args: object, **_kwargs: object) -> mmap.mmap:
    raise OSError("not here")


@pytest.mark.parametrize("path", _plain_captures(), ids=lambda p: p.name)
def test_a_small_moving_window_reads_what_chunks_read(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mmap, "mmap", _unmappable)
    chunked, chunked_problems, _ = _read(path)
    monkeypatch.undo()
    # An odd window size, so that headers and frames straddle its edges.
    monkeypatch.setattr(source, "WINDOW_BYTES", 1499)
    mapped, mapped_problems, released = _read(path)
    assert mapped == chunked
    assert mapped_problems == chunked_problems
    if path.stat().st_size > 3 * 4096 and chunked:
        assert released > 0  # the window moved, and the pages behind it were let go
