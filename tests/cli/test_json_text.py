"""The JSON writer: compact UTF-8 lines that read back as the value, whatever orjson refuses."""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import sys
from pathlib import Path

import pytest

from tlslens.cli.json_text import byte_writer, json_bytes, to_json
from tlslens.cli.main import _stdout_for_machines


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


def test_bytes_are_the_text_encoded() -> None:
    value = {"sni": "bücher.example", "serial": 1 << 70}
    assert json_bytes(value) == to_json(value).encode()
    assert json_bytes(value, line=True) == to_json(value).encode() + b"\n"
    assert json_bytes({"n": 1}, line=True) == b'{"n":1}\n'


def test_a_lone_surrogate_is_written_escaped() -> None:
    # orjson refuses it; the line stays valid UTF-8 and reads back as the same string.
    line = json_bytes({"name": "a\udcffb"}, line=True)
    assert line.endswith(b"\n")
    assert json.loads(line.decode("utf-8")) == {"name": "a\udcffb"}


def test_byte_writer_keeps_the_order_of_text_written_before() -> None:
    binary = io.BytesIO()
    stream = io.TextIOWrapper(binary, encoding="utf-8")
    stream.write("head,")
    write = byte_writer(stream)
    write("bücher\n".encode())
    stream.flush()
    assert binary.getvalue() == "head,bücher\n".encode()


@pytest.mark.parametrize(
    "stream", [io.StringIO(), io.TextIOWrapper(io.BytesIO(), encoding="cp1252")]
)
def test_byte_writer_decodes_for_other_streams(stream: io.TextIOBase) -> None:
    byte_writer(stream)("bücher".encode())  # type: ignore[arg-type]
    stream.seek(0)
    assert stream.read() == "bücher"


@pytest.mark.parametrize(("fmt", "encoding"), [("jsonl", "utf-8"), ("json", "utf-8"),
                                               ("csv", "utf-8"), ("text", "cp1252")])  # fmt: skip
def test_machine_formats_write_utf8(monkeypatch: pytest.MonkeyPatch, fmt: str,
                                    encoding: str) -> None:  # fmt: skip
    stream = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", stream)
    _stdout_for_machines(argparse.Namespace(format=fmt))
    assert sys.stdout is stream and stream.encoding == encoding


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_machine_formats_are_buffered_under_pythonunbuffered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str
) -> None:
    # What Python gives as stdout with PYTHONUNBUFFERED=1: a raw file under a text layer
    # that writes through, so that every write is a write(2) call.
    raw = open(tmp_path / "out", "wb", buffering=0)  # noqa: SIM115 (closed below)
    stream = io.TextIOWrapper(raw, encoding="cp1252", write_through=True)
    stream.write("before ")
    monkeypatch.setattr(sys, "stdout", stream)
    _stdout_for_machines(argparse.Namespace(format=fmt))
    out = sys.stdout
    out.write("bücher\n")
    if fmt == "text":
        # Tables are for people watching: left as Python was told.
        assert out is stream
        assert (tmp_path / "out").read_bytes() == "before bücher\n".encode("cp1252")
    else:
        assert out is not stream and not out.write_through and out.encoding == "utf-8"
        assert (tmp_path / "out").read_bytes() == b"before "  # held in the buffer
        out.flush()
        assert (tmp_path / "out").read_text("utf-8") == "before bücher\n"
        del out, sys.stdout
        gc.collect()
        os.fstat(raw.fileno())  # the new stream, gone, did not close the descriptor it shared
    raw.close()
