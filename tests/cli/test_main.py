"""The command line: output shapes, messages for bad files, exit codes, no tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, needs_corpus

from tlslens.cli.main import main

TLS12 = CORPUS / "zeek/testing/btest/Traces/tls/tls1.2.pcap"
REUSE = CORPUS / "wireshark/test/captures/tls12-chacha20poly1305.pcap"

REQUIRED = {
    "id",
    "client",
    "server",
    "first_frame",
    "last_frame",
    "start",
    "packets",
    "bytes",
    "end",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@needs_corpus
def test_jsonl_has_one_object_per_connection(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "analyze", "--format", "jsonl", str(REUSE))
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == list(range(7))
    for r in records:
        assert set(r) >= REQUIRED
        assert set(r["client"]) == {"ip", "port"} and set(r["server"]) == {"ip", "port"}
        assert r["start"].endswith("Z") and "T" in r["start"]
        assert r["end"]["first"] in ("client", "server", None)
        assert r["end"]["how"] in ("fin", "rst", "none")
        assert r["server"]["port"] == 443 and r["client"]["ip"] == "10.42.0.1"


@needs_corpus
def test_json_is_one_document_with_a_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", "--format", "json", str(TLS12), str(REUSE))
    doc = json.loads(out)
    assert code == 0
    assert [len(c["connections"]) for c in doc["captures"]] == [1, 7]
    report = doc["captures"][0]["report"]
    assert report["frames"] == 22 and report["format"] == "pcap"


@needs_corpus
def test_text_names_every_connection(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", str(TLS12))
    assert code == 0
    assert "10.0.0.80:56637" in out and "68.233.76.12:443" in out
    assert "22 frames, 1 TCP connection" in out
    assert "server FIN @18" in out


def test_unreadable_file_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture at all")
    code, out, err = run(capsys, "analyze", "--format", "jsonl", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"tlslens: error: {bad}: ")


@needs_corpus
def test_damaged_file_keeps_packets_before_the_damage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(TLS12.read_bytes()[:5000])
    code, out, err = run(capsys, "analyze", "--format", "jsonl", str(cut))
    assert code == 0
    record = json.loads(out)
    assert record["packets"] < 22 and record["first_frame"] == 1
    assert "byte offset" in err and "file ends inside packet" in err


@needs_corpus
def test_one_bad_file_does_not_stop_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1")
    code, out, err = run(capsys, "analyze", "--format", "jsonl", str(bad), str(TLS12))
    assert code == 1
    assert len(out.splitlines()) == 1 and "tlslens: error:" in err


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    for name, data in {"zero.pcap": b"", "junk.pcapng": b"\n\r\r\n" + b"\xff" * 40}.items():
        path = tmp_path / name
        path.write_bytes(data)
        proc = subprocess.run(
            [sys.executable, "-m", "tlslens", "analyze", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "Traceback" not in proc.stderr
        assert proc.returncode == 1 and str(path) in proc.stderr


@needs_corpus
@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_is_read_like_the_file(name: str) -> None:
    # `tcpdump -w - | tlslens analyze -`: a pipe, which cannot seek back over the bytes that
    # tell the format. The records are the file's, but for the name they carry.
    def analyze(path: str, stdin: bytes | None = None) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "tlslens", "analyze", "--format", "jsonl", "-j", "1", path],
            input=stdin, capture_output=True, check=True,
        )  # fmt: skip
        assert b"Traceback" not in proc.stderr
        return proc.stdout.decode().replace(json.dumps(path), '"?"')

    expected = analyze(str(TLS12))
    assert expected.count("\n") >= 1
    assert analyze(name, TLS12.read_bytes()) == expected


@needs_corpus
def test_csv_has_a_header_and_a_row_per_connection(capsys: pytest.CaptureFixture[str]) -> None:
    import csv
    import io

    code, out, _ = run(capsys, "analyze", "--format", "csv", str(REUSE))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 7
    assert rows[0]["version"] == "TLS 1.2" and rows[0]["outcome"] == "established"
    assert rows[0]["sni"] == "10.42.0.243" and rows[0]["cipher"].startswith("TLS_ECDHE")


@needs_corpus
def test_jsonl_carries_the_tls_facts(capsys: pytest.CaptureFixture[str]) -> None:
    failed = CORPUS / "zeek/testing/btest/Traces/tls/certificate-request-failed.pcap"
    code, out, _ = run(capsys, "analyze", "--format", "jsonl", str(failed))
    r = json.loads(out)
    assert code == 0
    assert r["tls"] is True and r["outcome"] == "failed" and r["established"] is False
    assert r["version"] == "TLS 1.2" and r["cipher_id"] == 0xC030
    assert r["certificate_request"] is True and r["history"] == "CsxkrnXGIl"
    assert r["alerts"] == [{"from": "server", "frame": 9, "encrypted": False,
                            "level": "fatal", "code": 40, "description": "handshake_failure",
                            "likely": None}]  # fmt: skip
    assert r["client_hello"]["format"] == "tls" and "x25519" in r["client_hello"]["groups"]
    assert [c["sig_alg"] for c in r["certificates"]] == ["sha256WithRSAEncryption"] * 2


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    from tlslens.cli.analyze_cmd import _progress_bar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert _progress_bar(io.StringIO()) is None
    assert _progress_bar(Tty()) is not None
