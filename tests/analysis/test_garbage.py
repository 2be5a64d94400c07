"""Analysing a capture leaves no reference cycles behind.

Every finished connection must be freed by reference counting the moment its record is
written: memory then follows the connections open at once, and the command line can let the
cyclic garbage collector run rarely (`cli/main.py`), which saves about a tenth of the run on
a busy capture. A cycle (a callback that refers back to its owner, a kept exception with its
traceback) would make both claims false, so each real capture here is checked.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CAPTURES, corpus_captures

from tlslens import Analysis


def _captures() -> list[Path]:
    ours = sorted(p for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng", ".gz"))
    return ours + corpus_captures()


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """Make the collector keep what it finds unreachable, instead of freeing it."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _ours(obj: object) -> bool:
    """An object made by tlslens code (pytest's own reports may be collected meanwhile)."""
    module = getattr(obj, "__module__", None) if callable(obj) else type(obj).__module__
    return isinstance(module, str) and module.startswith("tlslens")


def _analyse(path: Path) -> int:
    count = 0
    for conv in Analysis(str(path)).conversations():
        conv.to_record()
        count += 1
    return count


@pytest.mark.parametrize("path", _captures(), ids=lambda p: p.name)
def test_analysis_leaves_no_cycles(path: Path, saved_garbage: list[object]) -> None:
    _analyse(path)
    gc.collect()
    kinds = Counter(type(o).__qualname__ for o in saved_garbage if _ours(o))
    assert not kinds, f"reference cycles left by {path.name}: {kinds.most_common(8)}"
