"""--filter on every command that lists connections, and `tlslens fields`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CAPTURES

from tlslens.cli.main import main
from tlslens.query import FIELDS

FAILURES = str(CAPTURES / "failures.pcap")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _ids(out: str) -> list[int]:
    return [json.loads(line)["id"] for line in out.splitlines()]


def test_filter_on_analyze_diagnose_certs_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    text = "conn.version < TLS1.2 or tls.alert.description == bad_certificate"
    code, out, _ = run(capsys, "analyze", "-Y", text, "--format", "jsonl", FAILURES)
    assert code == 0 and _ids(out) == [0, 5, 12]
    code, out, _ = run(capsys, "diagnose", "--filter", text, "--format", "jsonl", FAILURES)
    assert code == 0 and _ids(out) == [0, 5, 12]
    code, out, _ = run(capsys, "certs", "--filter", text, "--format", "jsonl", FAILURES)
    assert code == 0 and _ids(out) == [0, 5, 12]
    code, out, _ = run(capsys, "timeline", "--filter", text, "--format", "jsonl", FAILURES)
    assert code == 0 and {json.loads(line)["conn"] for line in out.splitlines()} == {0, 5, 12}


def test_filter_on_findings(capsys: pytest.CaptureFixture[str]) -> None:
    text = 'finding.code == "no-common-version" or finding.code == "connection-refused"'
    code, out, _ = run(capsys, "analyze", "-Y", text, "--format", "jsonl", FAILURES)
    assert code == 0 and _ids(out) == [6, 10, 16]
    code, out, _ = run(capsys, "diagnose", "-Y", text, "--format", "jsonl", FAILURES)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [6, 10, 16]
    assert all(r["findings"] for r in records)


def test_bad_filter_and_empty_result(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", "-Y", "conn.versoin < TLS1.2", FAILURES)
    assert code == 1 and out == ""
    assert "did you mean conn.version" in err and err.rstrip().endswith("^")
    code, out, err = run(capsys, "analyze", "-Y", "conn.version == SSL2.0", "--format", "jsonl",
                         FAILURES)  # fmt: skip
    assert code == 0 and out == "" and "no connection matches the filter" in err


def test_fields_lists_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fields", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == [f.name for f in FIELDS]
    assert all(r["kind"] and r["meaning"] and r["example"] for r in rows)
    code, out, _ = run(capsys, "fields")
    assert code == 0 and "tls.handshake.ciphersuite" in out and "matches" in out


def test_readme_documents_every_field() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for field in FIELDS:
        assert f"`{field.name}`" in readme, field.name
