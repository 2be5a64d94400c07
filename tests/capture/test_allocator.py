"""capture.allocator: glibc's thresholds set once for a large ETL trace, nothing elsewhere.

Its effect (page faults, system time) is measured in bench/ (the module's docstring), not
here."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest
from capture.etl_writer import EtlWriter
from conftest import CAPTURES, MAPPING_BUILT

from tlslens.capture import allocator, open_capture


class FakeLibc:
    """Stands for ctypes.CDLL(None): records the mallopt calls (a function, which takes
    the argtypes and restype allocator sets, as ctypes' does)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.answer = 1

        def mallopt(param: int, value: int) -> int:
            self.calls.append((param, value))
            return self.answer

        self.mallopt = mallopt


def glibc() -> bool:
    """Whether this Python runs on glibc (asked as allocator asks)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, OSError, ValueError):
        return False


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(allocator, "_done", False)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "confstr", lambda name: "glibc 2.36", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    return fake


def test_sets_both_thresholds_once(libc: FakeLibc) -> None:
    assert allocator.keep_chunk_memory()
    assert libc.calls == [(-3, 4 << 20), (-1, 64 << 20)]
    assert allocator.keep_chunk_memory()
    assert len(libc.calls) == 2  # once per process


def test_a_refusal_is_reported_and_tried_again(libc: FakeLibc) -> None:
    libc.answer = 0
    assert not allocator.keep_chunk_memory()
    libc.answer = 1
    assert allocator.keep_chunk_memory()


@pytest.mark.parametrize(
    "answer", [ValueError("unrecognized configuration name"), OSError(22, "EINVAL"), None, ""]
)
def test_nothing_is_done_without_glibc(
    libc: FakeLibc, monkeypatch: pytest.MonkeyPatch, answer: Exception | str | None
) -> None:
    def confstr(name: str) -> str | None:
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(os, "confstr", confstr)
    assert not allocator.keep_chunk_memory()
    assert libc.calls == []


def test_nothing_is_done_without_confstr(libc: FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "confstr")  # Windows
    assert not allocator.keep_chunk_memory()
    assert libc.calls == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
        ("MALLOC_TRIM_THRESHOLD_", "0"),
        ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"),
    ],
)
def test_the_users_own_settings_stand(
    libc: FakeLibc, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert not allocator.keep_chunk_memory()
    assert libc.calls == []


def test_a_tunable_of_something_else_does_not_stop_them(
    libc: FakeLibc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=512")
    assert allocator.keep_chunk_memory()
    assert len(libc.calls) == 2


def test_only_a_large_file_sets_them(
    libc: FakeLibc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"x" * 1000)
    allocator.for_file(str(small))
    allocator.for_file(str(tmp_path / "missing"))
    assert libc.calls == []
    large = tmp_path / "large"
    with large.open("wb") as file:
        file.truncate(allocator.LARGE_FILE)  # sparse: no disk written
    monkeypatch.chdir(tmp_path)
    large.rename(tmp_path / "-")
    allocator.for_file("-")  # standard input, not a file of that name
    assert libc.calls == []
    allocator.for_file(str(tmp_path / "-"))
    assert len(libc.calls) == 2


@pytest.mark.parametrize(
    ("name", "mapping", "sets"),
    [
        ("basic.pcap", "0", False),
        ("basic.etl", "0", True),
        # A mapped file's chunks are not malloc's (allocator.py).
        pytest.param("basic.etl", "1", False, marks=pytest.mark.skipif(
            not MAPPING_BUILT, reason="tlslens.capture._mapped not built")),
    ],
)  # fmt: skip
def test_opening_a_large_etl_trace_read_in_chunks_sets_them(
    libc: FakeLibc,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    mapping: str,
    sets: bool,
) -> None:
    monkeypatch.setenv("TLSLENS_MAP", mapping)
    path = tmp_path / name
    if name.endswith(".etl"):
        writer = EtlWriter()
        for _number, ts, _linktype, data, _meta in open_capture(str(CAPTURES / "basic.pcap")):
            writer.ndis(bytes(data), ts)
        path.write_bytes(writer.to_bytes())
    else:
        path.write_bytes((CAPTURES / name).read_bytes())
    list(open_capture(str(path)))
    assert libc.calls == []  # a small file
    # As large as a file must be (rather than 32 MB written here).
    monkeypatch.setattr(allocator, "LARGE_FILE", path.stat().st_size)
    list(open_capture(str(path)))
    assert len(libc.calls) == (2 if sets else 0)


@pytest.mark.skipif(not glibc(), reason="not glibc")
def test_glibc_takes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real mallopt accepts both (the test process keeps them: harmless)."""
    monkeypatch.setattr(allocator, "_done", False)
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    assert allocator.keep_chunk_memory()
