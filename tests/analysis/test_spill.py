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
from tlslens.analysis.spill import SpillFile
from tlslens.limits import Limits


def _records(path: Path, limits: Limits | None = None) -> list[dict[str, object]]:
    analysis = Analysis(str(path), limits)
    records = [conv.to_record() for conv in analysis.conversations()]
    return [*records, analysis.report.to_record()]


def test_connections_waiting_for_a_long_one_wait_on_disk_and_come_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = long_lived_capture(tmp_path)
    in_memory = _records(path)
    spilled: list[int] = []
    put = SpillFile.put

    def counting_put(self: SpillFile, key: int, obj: object) -> None:
        spilled.append(key)
        put(self, key, obj)

    monkeypatch.setattr(SpillFile, "put", counting_put)
    on_disk = _records(path, Limits(max_waiting_connections=2))
    assert on_disk == in_memory
    connections = len(in_memory) - 1
    assert in_memory[0]["server"] == {"ip": "127.0.0.9", "port": 3389}
    # Connection 0 is open until the end; of the others, two wait in memory, the rest on disk.
    assert sorted(spilled) == list(range(3, connections))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    + corpus_captures(),
    ids=lambda p: p.name,
)
def test_every_capture_gives_the_same_records_when_all_waiting_is_on_disk(path: Path) -> None:
    assert _records(path, Limits(max_waiting_connections=0)) == _records(path)


def test_prepared_connections_wait_as_what_was_made_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = long_lived_capture(tmp_path)
    expected = [f"{conv.id} {conv.server}" for conv in Analysis(str(path)).conversations()]
    waiting: list[object] = []
    put = SpillFile.put

    def recording_put(self: SpillFile, key: int, obj: object) -> None:
        waiting.append(obj)
        put(self, key, obj)

    monkeypatch.setattr(SpillFile, "put", recording_put)
    analysis = Analysis(str(path), Limits(max_waiting_connections=2))
    made = list(analysis.prepared(lambda conv: f"{conv.id} {conv.server}"))
    assert made == expected
    # What waited on disk was the text made of each connection, not the connection.
    assert waiting and all(isinstance(item, str) for item in waiting)
