"""Filters over connections: `compile_filter(text)` gives a predicate on `Row`s.

The language is close to Wireshark's display filters (see `parser.py`), over tlslens's own
field namespace (`fields.py`), with value kinds that read TLS versions, cipher suites, alert
and handshake names, addresses and networks, and times (`kinds.py`). A field holds a list of
values per connection; a comparison is true when any value satisfies it, `!=` is the negation
of `==` (no value equals), and `not` negates a whole comparison.

Imports `tlslens.analysis` and `tlslens.tls` only.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from tlslens.query.fields import BY_NAME, FIELDS, Field, Row
from tlslens.query.kinds import KINDS, Kind
from tlslens.query.parser import And, Comparison, FilterError, Literal, Node, Not, Or, parse

__all__ = ["FIELDS", "FilterError", "Predicate", "Row", "compile_filter", "suggest_fields"]

Predicate = Callable[[Row], bool]

_ORDERED = {"<", "<=", ">", ">="}


def suggest_fields(name: str, limit: int = 3) -> list[str]:
    """Field names close to `name`, for "did you mean" messages."""
    names = [f.name for f in FIELDS]
    close = difflib.get_close_matches(name, names, n=limit, cutoff=0.5)
    tail = name.rsplit(".", 1)[-1]
    close += [n for n in names if n.endswith("." + tail) and n not in close]
    return close[:limit]


def _field(node: Comparison, text: str) -> Field:
    field = BY_NAME.get(node.field) or BY_NAME.get(node.field.lower())
    if field is None:
        close = suggest_fields(node.field)
        hint = f"; did you mean {', '.join(close)}?" if close else \
            "; `tlslens fields` lists them all"  # fmt: skip
        raise FilterError(f"unknown field {node.field!r}{hint}", node.column, text)
    return field


def _read(kind: Kind, literal: Literal, text: str) -> Any:
    try:
        return kind.read(literal.text)
    except ValueError as exc:
        raise FilterError(str(exc), literal.column, text) from None


def _compare(op: str, kind: Kind, wanted: Any) -> Callable[[Any], bool]:
    if kind.name == "ip":
        return lambda v: v in wanted
    if op in _ORDERED:
        assert kind.order is not None
        key, target = kind.order, kind.order(wanted)
        return {
            "<": lambda v: key(v) < target, "<=": lambda v: key(v) <= target,
            ">": lambda v: key(v) > target, ">=": lambda v: key(v) >= target,
        }[op]  # fmt: skip
    if kind.name == "version" and wanted == 0x0304:
        # TLS 1.3 drafts (0x7fXX) are TLS 1.3 for a filter.
        return lambda v: v == wanted or v >> 8 == 0x7F
    return lambda v: v == wanted


def _comparison(node: Comparison, text: str) -> Predicate:
    field = _field(node, text)
    kind = KINDS[field.kind]
    get = field.get
    op = node.op
    if op is None:
        return lambda row: any(bool(v) for v in get(row))
    if op == "contains":
        needle = node.values[0].text
        return lambda row: any(needle in kind.text(v) for v in get(row))
    if op == "matches":
        try:
            pattern = re.compile(node.values[0].text, re.IGNORECASE)
        except re.error as exc:
            raise FilterError(f"not a regular expression: {exc}", node.values[0].column,
                              text) from None  # fmt: skip
        return lambda row: any(pattern.search(kind.text(v)) for v in get(row))
    if op in _ORDERED and kind.order is None:
        raise FilterError(f"{field.name} is of kind {kind.name}, which has no order; use == "
                          "or in", node.column, text)  # fmt: skip
    if op == "in":
        tests = [_compare("==", kind, _read(kind, lit, text)) for lit in node.values]
        return lambda row: any(t(v) for v in get(row) for t in tests)
    test = _compare("==" if op == "!=" else op, kind, _read(kind, node.values[0], text))
    if op == "!=":
        return lambda row: not any(test(v) for v in get(row))
    return lambda row: any(test(v) for v in get(row))


def _compile(node: Node, text: str) -> Predicate:
    if isinstance(node, Comparison):
        return _comparison(node, text)
    if isinstance(node, Not):
        inner = _compile(node.operand, text)
        return lambda row: not inner(row)
    left, right = _compile(node.left, text), _compile(node.right, text)
    if isinstance(node, And):
        return lambda row: left(row) and right(row)
    assert isinstance(node, Or)
    return lambda row: left(row) or right(row)


def compile_filter(text: str) -> Predicate:
    """A predicate for `text`; raises FilterError (with a column) when it cannot be used."""
    return _compile(parse(text), text)


def uses_field(text: str, name: str) -> bool:
    """Whether the filter mentions field `name` (e.g. to compute findings only when needed)."""

    def walk(node: Node) -> bool:
        if isinstance(node, Comparison):
            return node.field == name
        if isinstance(node, Not):
            return walk(node.operand)
        return walk(node.left) or walk(node.right)

    return walk(parse(text))
