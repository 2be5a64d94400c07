"""Tables of many rows for the terminal and for files, written line by line.

rich's own Table measures and lays out every cell through its renderable protocol, about
100 µs a cell: 7 s for the 8,000-row connection table of a busy capture, more than
analysing the capture took, and every row must stay in memory as rich objects until it is
drawn. This writer keeps each row as plain strings, sizes the columns from their lengths,
folds the columns that may fold at spaces (a word longer than its column is cut into
pieces, so nothing is lost), and writes each line once. Styles are turned into the
terminal's escape codes by rich (`Style.render`) and only when the console has colour, so a
file or a pipe gets plain text.

The layout follows rich's `Table(box=None, pad_edge=False)`, which the commands used before:
two spaces between columns, a bold header, columns as wide as their widest cell; when the
line would be wider than the console, the foldable columns give up width, widest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import overload

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

#: A cell: its text, or (text, rich style) to colour it.
Cell = str | tuple[str, str]

#: Spaces between two columns.
GAP = 2
#: A foldable column is not made narrower than this (or its natural width, if smaller).
MIN_FOLDED = 8

_COLOR_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
    "windows": ColorSystem.WINDOWS,
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    #: "left" or "right".
    justify: str = "left"
    #: May wrap onto more lines when the table is wider than the console.
    fold: bool = True


class Table:
    """Add rows, then `print` once. Rows are kept as strings until then."""

    def __init__(self, columns: Sequence[Column], header_style: str = "bold") -> None:
        self.columns = list(columns)
        self.header_style = header_style
        self.rows: list[tuple[Cell, ...]] = []

    def add_row(self, cells: Iterable[Cell]) -> None:
        row = tuple(_printable(cell) for cell in cells)
        assert len(row) == len(self.columns), "one cell per column"
        self.rows.append(row)

    def widths(self, available: int) -> list[int]:
        """Each column's width: its widest cell, narrowed where the line would be wider
        than `available` and the column may fold: first no narrower than its longest word
        (names stay whole), then, if the line still does not fit, down to MIN_FOLDED."""
        natural = [len(c.name) for c in self.columns]
        longest_word = [max(map(len, c.name.split(" "))) for c in self.columns]
        fold = [c.fold for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                text = cell if isinstance(cell, str) else cell[0]
                size = cell_len(text)
                if size > natural[i]:
                    natural[i] = size
                if fold[i] and len(text) > longest_word[i]:
                    word = max(map(len, text.split(" ")))
                    if word > longest_word[i]:
                        longest_word[i] = word
        widths = list(natural)
        excess = sum(widths) + GAP * (len(widths) - 1) - available
        for floors in (longest_word, [min(MIN_FOLDED, n) for n in natural]):
            excess = _narrow(widths, fold, floors, excess)
        return widths

    def print(self, console: Console) -> None:
        """Write the table to the console's file."""
        widths = self.widths(console.width)
        color = _color_of(console)
        write = console.file.write
        header = tuple((c.name, self.header_style) for c in self.columns)
        for row in (header, *self.rows):
            for line in self._lines(row, widths, color):
                write(line + "\n")
        console.file.flush()

    def _lines(self, row: tuple[Cell, ...], widths: list[int], color: ColorSystem | None
               ) -> list[str]:  # fmt: skip
        pieces: list[list[str]] = []
        styles: list[str] = []
        for cell, width in zip(row, widths, strict=True):
            text, style = (cell, "") if isinstance(cell, str) else cell
            pieces.append(_fold(text, width) if cell_len(text) > width else [text])
            styles.append(style)
        height = max(len(p) for p in pieces)
        lines = []
        last = len(self.columns) - 1
        for n in range(height):
            parts = []
            for i, column in enumerate(self.columns):
                text = pieces[i][n] if n < len(pieces[i]) else ""
                pad = widths[i] - cell_len(text)
                if column.justify == "right":
                    text = " " * pad + _styled(text, styles[i], color)
                elif i < last:
                    text = _styled(text, styles[i], color) + " " * pad
                else:
                    text = _styled(text, styles[i], color)
                parts.append(text)
            lines.append((" " * GAP).join(parts).rstrip())
        return lines


class Lines:
    """Writes lines of (text, style) parts to a console's file, as fast as `Table` writes
    rows: for long reports of one line per fact (`tlslens diagnose`). A line is never
    wrapped here; a terminal wraps what is wider than it."""

    def __init__(self, console: Console) -> None:
        self.file = console.file
        self.color = _color_of(console)

    def line(self, *parts: Cell) -> None:
        color = self.color
        self.file.write("".join(_printable(part) if isinstance(part, str)
                                else _styled(*_printable(part), color)
                                for part in parts) + "\n")  # fmt: skip


#: Control characters (C0 and DEL): from a capture (an SNI, an ALPN name) they could break a
#: row or send the terminal an escape sequence, so they are shown as \xNN instead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@overload
def _printable(cell: str) -> str: ...
@overload
def _printable(cell: tuple[str, str]) -> tuple[str, str]: ...
def _printable(cell: Cell) -> Cell:
    text = cell if isinstance(cell, str) else cell[0]
    if not _CONTROL.search(text):
        return cell
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if isinstance(cell, str) else (text, cell[1])


def _color_of(console: Console) -> ColorSystem | None:
    """The console's colours, or None for plain text (a file, a pipe, NO_COLOR)."""
    return None if console.no_color else _COLOR_SYSTEMS.get(console.color_system or "")


def _narrow(widths: list[int], fold: list[bool], floors: list[int], excess: int) -> int:
    """Take `excess` columns of width from the foldable columns, never below their floor,
    from the widest down (each down to the next one's width, so wide columns share the
    loss); returns what could not be taken."""
    while excess > 0:
        foldable = [i for i, f in enumerate(fold) if f and widths[i] > floors[i]]
        if not foldable:
            break
        widest = max(foldable, key=lambda i: widths[i])
        others = [widths[i] for i in foldable if widths[i] < widths[widest]]
        floor = max(max(others, default=0), floors[widest])
        step = min(excess, widths[widest] - floor)
        widths[widest] -= step
        excess -= step
    return excess


def _styled(text: str, style: str, color: ColorSystem | None) -> str:
    if not style or color is None or not text:
        return text
    return _style(style).render(text, color_system=color)


_styles: dict[str, Style] = {}


def _style(name: str) -> Style:
    style = _styles.get(name)
    if style is None:
        style = _styles[name] = Style.parse(name)
    return style


def _fold(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width`, broken after spaces where it can be."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        line = word
    if line or not lines:
        lines.append(line)
    return lines
