"""The line-by-line table writer (`tlslens.cli.table`): nothing is lost when cells fold,
lines fit the console when the foldable columns allow it, names stay whole when they can,
and colour goes only to a console that has it."""

from __future__ import annotations

import io
import re

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from tlslens.cli.table import MIN_FOLDED, Column, Table, _fold

words = st.text(alphabet="abcdefghij_.:0123456789", min_size=1, max_size=30)
cells = st.lists(words, min_size=0, max_size=6).map(" ".join)


def printed(table: Table, width: int, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=color, color_system="standard"
                      if color else None)  # fmt: skip
    table.print(console)
    return out.getvalue()


@given(cells, st.integers(min_value=1, max_value=40))
def test_folding_keeps_every_character(text: str, width: int) -> None:
    lines = _fold(text, width)
    assert all(len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


@given(st.lists(st.tuples(words, cells, cells), min_size=1, max_size=20),
       st.integers(min_value=30, max_value=120))  # fmt: skip
def test_lines_fit_when_folding_allows(rows: list[tuple[str, str, str]], width: int) -> None:
    table = Table([Column("id", "right", fold=False), Column("a"), Column("b")])
    for row in rows:
        table.add_row(row)
    widths = table.widths(width)
    fixed = max(len(r[0]) for r in [*rows, ("id", "", "")])
    if fixed + 2 * MIN_FOLDED + 4 <= width:
        assert sum(widths) + 4 <= width
    text = printed(table, width)
    # Nothing lost, nothing added: the same characters as the header and the cells.
    given_chars = sorted("idab" + "".join("".join(row) for row in rows).replace(" ", ""))
    assert sorted(text.replace(" ", "").replace("\n", "")) == given_chars


def test_names_stay_whole_when_they_can() -> None:
    table = Table([Column("server", fold=False), Column("ciphers"), Column("verdict")])
    ciphers = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_RC4_128_SHA"
    table.add_row(("127.0.0.1:443", ciphers, "negotiated TLS 1.0; weak cipher "
                   "TLS_RSA_WITH_RC4_128_SHA; " * 3))  # fmt: skip
    text = printed(table, 100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384," in text
    assert text.count("TLS_RSA_WITH_RC4_128_SHA") == 4


def test_right_justified_and_header() -> None:
    table = Table([Column("id", "right"), Column("name")])
    table.add_row(("7", "x"))
    table.add_row(("123", "y"))
    assert printed(table, 80).splitlines() == [" id  name", "  7  x", "123  y"]


def test_colour_only_on_a_colour_console() -> None:
    table = Table([Column("outcome")])
    table.add_row((("failed", "bold red"),))
    plain = printed(table, 80)
    assert "\x1b[" not in plain and "failed" in plain
    coloured = printed(table, 80, color=True)
    assert re.search(r"\x1b\[[0-9;]*31[0-9;]*mfailed\x1b\[0m", coloured)


def test_control_characters_are_shown_not_sent() -> None:
    table = Table([Column("SNI"), Column("x")])
    table.add_row(("evil\x1b]0;title\x07\nname", "1"))
    text = printed(table, 80)
    assert "\x1b" not in text and "\x07" not in text
    assert text.count("\n") == 2  # the header and one row: the newline did not split it
    assert "evil\\x1b]0;title\\x07\\x0aname" in text


def test_wide_characters_keep_columns_aligned() -> None:
    table = Table([Column("name"), Column("end")])
    table.add_row(("例え", "x"))
    table.add_row(("ab", "y"))
    lines = printed(table, 80).splitlines()
    # "例え" takes four terminal cells: the second column starts at the same cell.
    assert lines[1].index("x") + 2 == lines[2].index("y")
