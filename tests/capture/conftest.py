"""The capture tests' fixtures: each file taken in both ways a plain file can be (ChunkedInput:
mapped by `_mapped.c`, or read in chunks), for the tests that mark themselves so."""

from __future__ import annotations

import pytest
from conftest import MAPPING_BUILT


@pytest.fixture(params=["mapped", "read"])
def each_input_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with plain files mapped and once read (TLSLENS_MAP, which child
    processes inherit too)."""
    if request.param == "mapped" and not MAPPING_BUILT:
        pytest.skip("tlslens.capture._mapped is not built")
    monkeypatch.setenv("TLSLENS_MAP", "1" if request.param == "mapped" else "0")
    return str(request.param)
