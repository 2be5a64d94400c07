"""Address aliases: both file formats, the most specific match, bad files, and every view."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import CAPTURES

from tlslens.analysis.aliases import AliasError, load_aliases
from tlslens.cli.main import main

BASIC = CAPTURES / "basic.pcap"


def _write(tmp_path: Path, text: str, name: str = "aliases") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_hosts_format(tmp_path: Path) -> None:
    aliases = load_aliases(_write(tmp_path, "# lab\n10.0.0.5  web01 web01.corp  # main\n"
                                  "\n2001:db8::0:1 v6host\n10.1.0.0/16 branch\n"))  # fmt: skip
    assert aliases.lookup("10.0.0.5") == "web01"
    assert aliases.lookup("2001:db8::1") == "v6host"  # written uncompressed, looked up compressed
    assert aliases.lookup("10.1.200.3") == "branch"
    assert aliases.lookup("10.2.0.1") is None and aliases.lookup("not-an-ip") is None


def test_toml_format_and_most_specific_match(tmp_path: Path) -> None:
    path = _write(tmp_path, '[aliases]\n"10.0.0.0/8" = "corp"\n"10.1.0.0/16" = "branch"\n'
                  '"10.1.2.3" = "printer"\n"10.1.2.4/32" = "scanner"\n')  # fmt: skip
    aliases = load_aliases(path)
    assert [aliases.lookup(ip) for ip in ("10.1.2.3", "10.1.2.4", "10.1.9.9", "10.9.9.9")] == [
        "printer", "scanner", "branch", "corp"]  # fmt: skip
    top_level = load_aliases(_write(tmp_path, '"127.0.0.1" = "me"\n', "top.toml"))
    assert top_level.lookup("127.0.0.1") == "me"


@pytest.mark.parametrize(("text", "message"), [
    ("10.0.0.5\n", "line 1: expected an address and a name"),
    ("# nothing\n\n", "no aliases found"),
    ("web01 10.0.0.5\n", "line 1: 'web01' is not an IP address"),
    ('"10.0.0.5" = 5\n', "must be a string"),
    ('"web" = "x"\n', "'web' is not an IP address or network"),
])  # fmt: skip
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(AliasError, match=message) as exc:
        load_aliases(path)
    assert str(exc.value).startswith(path)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(AliasError, match="not a text file"):
        load_aliases(str(BASIC))
    with pytest.raises(AliasError, match="cannot read"):
        load_aliases(str(tmp_path / "missing"))


def test_aliases_in_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "127.0.0.0/8 loop\n::1 loop6\n")
    assert main(["analyze", "--aliases", path, "--format", "jsonl", str(BASIC)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and all(r["client"]["alias"] in ("loop", "loop6") for r in records)
    assert all(r["client"]["ip"] in ("127.0.0.1", "::1") for r in records)
    assert main(["analyze", "--aliases", path, "--format", "csv", str(BASIC)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["server_alias"] for r in rows} == {"loop", "loop6"}
    assert main(["analyze", "--aliases", path, str(BASIC)]) == 0
    assert "loop:40001" in capsys.readouterr().out
    assert main(["diagnose", "--all", "--aliases", path, str(BASIC)]) == 0
    assert "loop:40001 → loop:4433" in capsys.readouterr().out
    assert main(["timeline", "--aliases", path, str(BASIC)]) == 0
    assert "TCP SYN loop:40001 → loop:4433" in capsys.readouterr().out
    assert main(["certs", "--aliases", path, "--format", "jsonl", str(BASIC)]) == 0
    assert '"alias":"loop"' in capsys.readouterr().out


def test_bad_aliases_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "garbage\n")
    assert main(["analyze", "--aliases", path, str(BASIC)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and path in err
