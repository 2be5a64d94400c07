"""The JSON writer: compact UTF-8 lines that read back as the value, whatever orjson refuses."""

from __future__ import annotations

import argparse
import io
import json
import sys

import pytest

from tlslens.cli.json_text import to_json
from tlslens.cli.main import _utf8_for_machines


def test_compact_line_that_reads_back() -> None:
    value = {"id": 3, "sni": "bücher.example", "ok": True, "none": None, "ratio": 0.011368,
             "list": (1, 2), "nested": {"a": []}}  # fmt: skip
    text = to_json(value)
    assert "\n" not in text and ", " not in text and ": " not in text
    assert "bücher" in text  # not \u-escaped
    assert json.loads(text) == {**value, "list": [1, 2]}


def test_what_orjson_refuses_is_still_written() -> None:
    # orjson stops at 64-bit integers and string keys; the standard library takes over.
    value = {"serial": 1 << 70, "by_port": {443: "https"}, "name": "é"}
    assert json.loads(to_json(value)) == {"serial": 1 << 70, "by_port": {"443": "https"},
                                          "name": "é"}  # fmt: skip
    assert ", " not in to_json(value)


@pytest.mark.parametrize(("fmt", "encoding"), [("jsonl", "utf-8"), ("json", "utf-8"),
                                               ("csv", "utf-8"), ("text", "cp1252")])  # fmt: skip
def test_machine_formats_write_utf8(monkeypatch: pytest.MonkeyPatch, fmt: str,
                                    encoding: str) -> None:  # fmt: skip
    stream = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", stream)
    _utf8_for_machines(argparse.Namespace(format=fmt))
    assert stream.encoding == encoding
