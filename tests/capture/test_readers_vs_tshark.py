"""Every frame we read matches tshark's: count, time stamp, captured length, bytes."""

from __future__ import annotations

import hashlib
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures, needs_tshark

from tlslens.capture import open_capture

FILES = corpus_captures() + sorted(
    p for p in CAPTURES.glob("*") if p.name.endswith((".pcap", ".pcapng", ".gz"))
)


def tshark_frames(path: Path) -> list[tuple[int, int, str]]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "separator=|",
         "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.md5_hash",
         "-o", "frame.generate_md5_hash:TRUE"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    frames = []
    for line in out.splitlines():
        epoch, caplen, md5 = line.split("|")
        frames.append((int(Decimal(epoch) * 1_000_000_000), int(caplen), md5))
    return frames


@needs_tshark
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_frames_match_tshark(path: Path) -> None:
    theirs = tshark_frames(path)
    capture = open_capture(str(path))
    ours = [(ts, len(data), hashlib.md5(data).hexdigest()) for _n, ts, _lt, data, _m in capture]
    assert len(ours) == len(theirs)
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True), start=1):
        assert o[1:] == t[1:], f"frame {i}"
        # tshark prints epoch time with nanosecond digits; SPB packets carry no time.
        assert o[0] == t[0] or o[0] == 0, f"frame {i}"
