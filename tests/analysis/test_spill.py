"""Connections that wait for an earlier one wait on disk past a bound, and come back whole.

A connection open for the whole capture makes every later one wait for it (they are handed
out in id order). `Limits.max_waiting_connections` bounds how many wait in memory; the rest
are pickled to a temporary file (`analysis.spill`). What comes out must not change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures, long_lived_capture

from tlslens import Analysis
from tlslens.limits import Limits


def _records(path: Path, limits: Limits | None = None) -> list[dict[str, object]]:
    analysis = Analysis(str(path), limits)
    records = [conv.to_record() for conv in analysis.conversations()]
    return [*records, analysis.report.to_record()]


def test_connections_waiting_for_a_long_one_wait_on_disk_and_come_back_whole(
    tmp_path: Path, spilled: list[tuple[int, object]]
) -> None:
    path = long_lived_capture(tmp_path)
    in_memory = _records(path)
    assert not spilled
    on_disk = _records(path, Limits(max_waiting_connections=2))
    assert on_disk == in_memory
    connections = len(in_memory) - 1
    assert in_memory[0]["server"] == {"ip": "127.0.0.9", "port": 3389}
    # Connection 0 is open until the end; of the others, two wait in memory, the rest on disk.
    assert sorted(key for key, _ in spilled) == list(range(3, connections))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    + corpus_captures(),
    ids=lambda p: p.name,
)
def test_every_capture_gives_the_same_records_when_all_waiting_is_on_disk(path: Path) -> None:
    assert _records(path, Limits(max_waiting_connections=0)) == _records(path)


def test_prepared_connections_wait_as_what_was_made_of_them(
    tmp_path: Path, spilled: list[tuple[int, object]]
) -> None:
    path = long_lived_capture(tmp_path)
    expected = [f"{conv.id} {conv.server}" for conv in Analysis(str(path)).conversations()]
    assert not spilled
    analysis = Analysis(str(path), Limits(max_waiting_connections=2))
    made = list(analysis.prepared(lambda conv: f"{conv.id} {conv.server}"))
    assert made == expected
    # What waited on disk was the text made of each connection, not the connection.
    assert spilled and all(isinstance(item, str) for _, item in spilled)
