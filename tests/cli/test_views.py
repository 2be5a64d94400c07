"""The frame list, details pane and ladder, checked against tshark's reading of the same
frames: addresses and ports per frame, and the handshake messages and alerts each frame
carries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, CORPUS, needs_tshark

from tlslens.cli.main import main

TITLES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 11: "Certificate",
          12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
          15: "CertificateVerify", 16: "ClientKeyExchange"}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _tshark_frames(path: Path) -> dict[int, dict[str, str]]:
    fields = ["frame.number", "ip.src", "ipv6.src", "tcp.srcport", "tcp.flags",
              "tls.handshake.type", "tls.alert_message.desc", "tcp.stream"]  # fmt: skip
    command = ["tshark", "-r", str(path), "-n", "-d", "tcp.port==3306,tls", "-T", "fields",
               "-E", "separator=|", "-E", "occurrence=a"]  # fmt: skip
    for f in fields:
        command += ["-e", f]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {int(line.split("|")[0]): dict(zip(fields, line.split("|"), strict=True))
            for line in out.splitlines()}  # fmt: skip


ZEEK_TLS = CORPUS / "zeek/testing/btest/Traces/tls"


@needs_tshark
@pytest.mark.parametrize("path", [
    CAPTURES / "failures.pcap", CAPTURES / "basic.pcap", CAPTURES / "lossy.pcap",
    ZEEK_TLS / "tls1.2.pcap", ZEEK_TLS / "client-certificate.pcap",
], ids=lambda p: p.name)  # fmt: skip
def test_frame_list_agrees_with_tshark(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} absent")
    code, out, _ = run(capsys, "messages", str(path), "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    theirs = _tshark_frames(path)
    assert code == 0 and [r["frame"] for r in rows] == sorted(theirs)
    for row in rows:
        t = theirs[row["frame"]]
        if not t["tcp.srcport"]:
            assert row["conn"] is None
            continue
        ip = t["ip.src"] or t["ipv6.src"]
        host = f"[{ip}]" if ":" in ip else ip
        assert row["source"] == f"{host}:{t['tcp.srcport']}", row
        assert row["conn"] == int(t["tcp.stream"])
        types = [int(v) for v in t["tls.handshake.type"].split(",") if v]
        titles = [TITLES[v] for v in types if v in TITLES]
        positions = [row["summary"].find(title) for title in titles]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), (row, types)
        if t["tls.alert_message.desc"]:
            assert "Alert" in row["summary"], row
        if int(t["tcp.flags"], 16) & 0x01 and not types:
            assert "FIN" in row["summary"], row


def test_show_a_connection_and_a_frame(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CAPTURES / "failures.pcap")
    code, out, _ = run(capsys, "show", path, "--conn", "0", "--format", "json")
    record = json.loads(out)
    labels = [m["label"] for m in record["messages"]]
    assert code == 0 and labels[0].startswith("client: ClientHello")
    assert any("alert: fatal bad_certificate (42), frame 10" in label for label in labels)
    certificate = next(m for m in record["messages"] if "Certificate (" in m["label"])
    text = json.dumps(certificate)
    assert "sha1WithRSAEncryption" in text and "tlslens.test" in text
    code, out, _ = run(capsys, "show", path, "--frame", "7", "--format", "json")
    record = json.loads(out)
    assert code == 0 and record["conn"] == 0
    assert all(7 in range(m["frames"][0], m["frames"][-1] + 1) for m in record["messages"])
    assert len(record["messages"]) == 3  # Certificate (frames 6-7), SKE, ServerHelloDone
    code, out, _ = run(capsys, "show", path, "--conn", "0")
    assert code == 0 and "cipher_suites (28)" in out and "server_name: tlslens.test" in out


def test_ladder(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CAPTURES / "failures.pcap")
    code, out, _ = run(capsys, "ladder", path, "--conn", "0", "--format", "json")
    steps = json.loads(out)["steps"]
    assert code == 0 and [s["frame"] for s in steps] == sorted(s["frame"] for s in steps)
    assert (steps[0]["from"], steps[0]["label"]) == ("client", "TCP SYN")
    alert = next(s for s in steps if s["kind"] == "tls-alert")
    assert (alert["frame"], alert["from"]) == (10, "client")
    code, out, _ = run(capsys, "ladder", path, "--conn", "0")
    assert code == 0 and "▶" in out and "◀" in out and "outcome: failed" in out


@pytest.mark.parametrize(("args", "message"), [
    (("show", "--conn", "99"), "no connection 99 (the capture has 19, numbered 0 to 18)"),
    (("show", "--frame", "5000"), "frame 5000 does not exist (the capture has 227 frames)"),
    (("ladder", "--conn", "-1"), "no connection -1"),
])  # fmt: skip
def test_unknown_connection_or_frame(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                     message: str) -> None:  # fmt: skip
    code, _, err = run(capsys, args[0], str(CAPTURES / "failures.pcap"), *args[1:])
    assert code == 1 and message in err and "Traceback" not in err


def test_messages_with_a_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "messages", str(CAPTURES / "failures.pcap"), "-Y",
                       "tcp.stream == 3", "--format", "jsonl")  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows and {r["conn"] for r in rows} == {3}


#: (our filter, tshark's display filter for the same frames).
FRAME_FILTERS = [
    ("tls.handshake.type == client_hello", "tls.handshake.type == 1"),
    ("tls.handshake.type in {certificate server_key_exchange}",
     "tls.handshake.type == 11 or tls.handshake.type == 12"),
    ("tls.alert.description == bad_certificate", "tls.alert_message.desc == 42"),
    ("tls.alert.level == fatal", "tls.alert_message.level == 2"),
    ("tls.handshake.ciphersuite == 0x002f", "tls.handshake.ciphersuite == 0x002f"),
    ('tls.handshake.extensions_server_name == "tlslens.test"',
     'tls.handshake.extensions_server_name == "tlslens.test"'),
    ("tcp.srcport == 4402", "tcp.srcport == 4402"),
    ("tcp.dstport == 4402 and tls.handshake.type", "tcp.dstport == 4402 and tls.handshake"),
    ("tls.handshake.version < TLS1.2", "tls.handshake.version < 0x0303"),
]  # fmt: skip


@needs_tshark
@pytest.mark.parametrize(("ours", "theirs"), FRAME_FILTERS)
def test_messages_filter_tests_each_frame_as_tshark_does(
    capsys: pytest.CaptureFixture[str], ours: str, theirs: str
) -> None:
    path = CAPTURES / "failures.pcap"
    code, out, err = run(capsys, "messages", str(path), "-Y", ours, "--format", "jsonl")
    frames = [json.loads(line)["frame"] for line in out.splitlines()]
    command = ["tshark", "-r", str(path), "-n", "-Y", theirs, "-T", "fields", "-e", "frame.number"]
    expected = [int(n) for n in subprocess.run(command, capture_output=True, text=True,
                                               check=True).stdout.split()]  # fmt: skip
    assert code == 0 and expected, err
    assert frames == expected


def test_messages_filter_on_a_connection_field_keeps_all_its_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(CAPTURES / "failures.pcap")
    _, out, _ = run(capsys, "messages", path, "-Y", "tcp.stream == 3", "--format", "jsonl")
    whole = [json.loads(line) for line in out.splitlines()]
    _, out, _ = run(capsys, "messages", path, "-Y", "tcp.stream == 3 and tls.handshake.type",
                    "--format", "jsonl")  # fmt: skip
    handshake = [json.loads(line) for line in out.splitlines()]
    assert len(whole) > len(handshake) > 0
    assert all("TCP" in r["summary"] or r["protocol"] == "TLS" for r in whole)
    assert all(r["protocol"] == "TLS" for r in handshake)
    code, _, err = run(capsys, "messages", path, "-Y", "tls.alert.description == 0")
    assert code == 0 and "no frame matches the filter" in err
