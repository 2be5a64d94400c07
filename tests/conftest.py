"""Shared test fixtures: where the committed captures and the third-party corpus live."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "fixtures" / "captures"
MANIFEST = ROOT / "tests" / "fixtures" / "manifest.json"
CORPUS = ROOT.parent / "shared" / "corpus"

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop before testing a compiled module (tlslens.compiled) that is older than its
    source, or no longer in the core, or a C module older than its source: the tests would
    run old code. (With TLSLENS_PURE=1 the core's source runs anyway, but a module outside
    the core, and a C module, would still load.)"""
    from tlslens.compiled import CORE, runs_from_source

    pure = runs_from_source()
    core = {ROOT / "src" / Path(*name.split(".")) for name in CORE}
    extensions = [
        *(ROOT / "src" / "tlslens").rglob("*.so"),
        *(ROOT / "src" / "tlslens").rglob("*.pyd"),
    ]
    for built in extensions:
        source = (built.parent / built.name.split(".")[0]).with_suffix(".py")
        hand_written = source.with_suffix(".c")  # a C module (capture/_mapped.c)
        if hand_written.exists():
            if built.stat().st_mtime >= hand_written.stat().st_mtime:
                continue
            problem = "is older than its source"
        elif source.with_suffix("") not in core:
            problem = "is not in the core any more"
        elif not pure and built.stat().st_mtime < source.stat().st_mtime:
            problem = "is older than its source"
        else:
            continue
        pytest.exit(
            f"{built.relative_to(ROOT)} {problem}: run scripts/test (or pip install -e .) to "
            "compile the core again, or delete it to test pure Python",
            returncode=4,
        )


def corpus_captures() -> list[Path]:
    """Every pcap/pcapng file (plain or gzip) in ../shared/corpus."""
    if not CORPUS.is_dir():
        return []
    names = ("*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz")
    return sorted({p for pattern in names for p in CORPUS.rglob(pattern)})


def load_manifest() -> dict:
    return json.loads(MANIFEST.read_text())["captures"] if MANIFEST.exists() else {}


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
#: Whether the C module that maps capture files (tlslens.capture._mapped) is built.
MAPPING_BUILT = importlib.util.find_spec("tlslens.capture._mapped") is not None
needs_mapping = pytest.mark.skipif(not MAPPING_BUILT, reason="tlslens.capture._mapped not built")
#: Whether the C module that prefetches ETL events (tlslens.capture._prefetch) is built.
PREFETCH_BUILT = importlib.util.find_spec("tlslens.capture._prefetch") is not None
needs_prefetch = pytest.mark.skipif(
    not PREFETCH_BUILT, reason="tlslens.capture._prefetch not built"
)
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")


def analyze_in_child(files: list[str], jobs: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`tlslens analyze --format jsonl -j JOBS FILES` in a process of its own, with `env`
    added to its environment: for the switches the capture modules read once, when they are
    imported (TLSLENS_MAP, TLSLENS_PREFETCH)."""
    return subprocess.run(
        [sys.executable, "-m", "tlslens.cli.main", "analyze", "--format", "jsonl", "-j", jobs,
         *files],
        env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def long_lived_capture(tmp_path: Path) -> Path:
    """failures.pcap with one more connection (mid-stream, so no handshake is needed) that
    sends a packet before the first frame and one after the last: it is connection 0 and
    every other connection finishes while it is open."""
    data = (CAPTURES / "failures.pcap").read_bytes()
    magic, linktype = struct.unpack_from("<I", data)[0], struct.unpack_from("<I", data, 20)[0]
    assert (magic, linktype) == (0xA1B2C3D4, 1)  # little-endian microsecond pcap, Ethernet
    stamps = []
    pos = 24
    while pos < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        stamps.append(sec * 1_000_000 + usec)
        pos += 16 + incl

    def record(stamp: int, seq: int) -> bytes:
        tcp = struct.pack("!HHIIBBHHH", 3389, 50000, seq, 1, 5 << 4, 0x18, 512, 0, 0) + b"x" * 10
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                         bytes([127, 0, 0, 9]), bytes([127, 0, 0, 10])) + tcp  # fmt: skip
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip
        sec, usec = divmod(stamp, 1_000_000)
        return struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame

    path = tmp_path / "long-lived.pcap"
    path.write_bytes(data[:24] + record(min(stamps) - 1, 1000) + data[24:]
                     + record(max(stamps) + 1, 1010))  # fmt: skip
    return path


@pytest.fixture
def spilled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, object]]:
    """(key, object) of everything put in a spill file (analysis.spill) during the test, in
    this process."""
    from tlslens.analysis.spill import SpillFile

    put = SpillFile.put
    recorded: list[tuple[int, object]] = []

    def recording_put(self: SpillFile, key: int, obj: object) -> None:
        recorded.append((key, obj))
        put(self, key, obj)

    monkeypatch.setattr(SpillFile, "put", recording_put)
    return recorded
