"""`tlslens audit` (the compliance view) and `analyze --columns`."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest
from conftest import CAPTURES, needs_tshark
from oracle import tshark_tls

from tlslens.cli.main import main

FAILURES = CAPTURES / "failures.pcap"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@needs_tshark
def test_audit_pairs_and_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", str(FAILURES), "--format", "json")
    pairs = json.loads(out)["audits"][0]["pairs"]
    # One pair per server port that got a ClientHello (tshark's count, independently).
    command = ["tshark", "-r", str(FAILURES), "-n", "-Y", "tls.handshake.type == 1", "-T",
               "fields", "-e", "tcp.dstport"]  # fmt: skip
    hello_ports = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    assert code == 0 and len(pairs) == len(set(hello_ports))
    by_port = {p["server"].rsplit(":", 1)[1]: p for p in pairs}
    assert by_port["4412"]["versions"] == {"TLS 1.0": 1} and by_port["4412"]["violation"]
    assert "client offers at most TLS 1.1" in by_port["4407"]["problems"]
    assert any("weak cipher" in p for p in by_port["4413"]["problems"])
    assert any("sha1WithRSAEncryption" in p for p in by_port["4401"]["problems"])
    assert by_port["4411"]["connections"] == 2 and by_port["4411"]["failed"] == 1
    assert not by_port["4402"]["violation"]
    # Worst first: every violation comes before every clean pair.
    flags = [p["violation"] for p in pairs]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 5
    code, out, _ = run(capsys, "audit", str(FAILURES), "--format", "json", "--min-version",
                       "tls1.0")  # fmt: skip
    pairs = json.loads(out)["audits"][0]["pairs"]
    assert sum(p["violation"] for p in pairs) == 3  # weak cipher and the two SHA-1 chains


def test_audit_names_processes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", str(CAPTURES / "procinfo.pcapng"), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows
    assert {"openssl", "python3"} <= {r["process"] for r in rows}
    code, out, _ = run(capsys, "audit", str(CAPTURES / "procinfo.pcapng"))
    assert code == 0 and "openssl" in out and "client/server pair" in out


def test_audit_bad_min_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", str(FAILURES), "--min-version", "TLS9"])
    assert exc.value.code == 2 and "is not a TLS version" in capsys.readouterr().err


@needs_tshark
def test_columns_agree_with_tshark(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", str(FAILURES), "--format", "csv", "--columns",
                       "tcp.stream, tls.handshake.extensions_server_name,conn.cipher")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert list(rows[0]) == ["file", "tcp.stream", "tls.handshake.extensions_server_name",
                             "conn.cipher"]  # fmt: skip
    theirs = tshark_tls(str(FAILURES))
    for row in rows:
        stream = theirs.get(int(row["tcp.stream"]))
        assert row["tls.handshake.extensions_server_name"] == ((stream.sni or "") if stream
                                                                else "")  # fmt: skip
    code, out, _ = run(capsys, "analyze", str(FAILURES), "--format", "jsonl", "--columns",
                       "conn.id,tcp.port,cert.sig_alg")  # fmt: skip
    first = json.loads(out.splitlines()[0])
    assert first["tcp.port"] == [40101, 4401] and "sha1WithRSAEncryption" in first["cert.sig_alg"]


def test_unknown_columns(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", str(FAILURES), "--columns", "conn.vers")
    assert code == 1 and out == "" and "did you mean conn.version" in err
    code, out, err = run(capsys, "messages", str(FAILURES), "--columns", "frame,colour")
    assert code == 1 and "colour is not a column of messages" in err
