"""The filter language: text -> syntax tree, with errors that point at a column.

    expr       := term (("or" | "||") term)*
    term       := factor (("and" | "&&") factor)*
    factor     := ("not" | "!") factor | "(" expr ")" | comparison
    comparison := FIELD [ OP value | "in" "{" value ([","] value)* "}"
                        | "contains" value | "matches" STRING ]
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">=" | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
    value      := STRING | WORD

A WORD is a run of letters, digits and `_ . : / - +` (fields, numbers, 0x0303, TLS1.2,
10.0.0.0/8, ::1, names such as bad_certificate). A STRING is in double quotes with backslash
escapes. A field alone tests that the connection has a (true) value for it, as in Wireshark.
Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
        "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}  # fmt: skip
_WORD = re.compile(r"[A-Za-z0-9_.:/+*-]+")
_SYMBOL = re.compile(r"==|!=|<=|>=|&&|\|\||[<>(){},!]")


class FilterError(Exception):
    """A filter that cannot be used: the message, and the column (0-based) it is about."""

    def __init__(self, message: str, column: int, text: str) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.text = text

    def render(self) -> str:
        """The message, the filter, and a caret under the column."""
        return f"{self.message}\n  {self.text}\n  {' ' * self.column}^"


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, symbol, end
    text: str
    column: int


@dataclass(frozen=True)
class Literal:
    text: str
    column: int
    quoted: bool


@dataclass(frozen=True)
class Comparison:
    field: str
    column: int
    #: None (a field alone), an operator, "in", "contains" or "matches".
    op: str | None = None
    values: tuple[Literal, ...] = ()


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


Node = Comparison | Not | And | Or


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == '"':
            j, chars = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= len(text):
                raise FilterError("this string has no closing quote", i, text)
            out.append(Token("string", "".join(chars), i))
            i = j + 1
            continue
        symbol = _SYMBOL.match(text, i)
        if symbol:
            out.append(Token("symbol", symbol.group(), i))
            i = symbol.end()
            continue
        word = _WORD.match(text, i)
        if word:
            out.append(Token("word", word.group(), i))
            i = word.end()
            continue
        raise FilterError(f"unexpected character {c!r}", i, text)
    out.append(Token("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def error(self, message: str, token: Token | None = None) -> FilterError:
        token = token or self.peek()
        return FilterError(message, token.column, self.text)

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def is_symbol(self, *symbols: str) -> bool:
        token = self.peek()
        return token.kind == "symbol" and token.text in symbols

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("the filter is empty; expected a field such as conn.version")
        node = self.expr()
        if self.peek().kind != "end":
            raise self.error(f"expected `and`, `or` or the end of the filter, not "
                             f"{self.peek().text!r}")  # fmt: skip
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.is_word("or") or self.is_symbol("||"):
            self.take()
            node = Or(node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.is_word("and") or self.is_symbol("&&"):
            self.take()
            node = And(node, self.factor())
        return node

    def factor(self) -> Node:
        if self.is_word("not") or self.is_symbol("!"):
            self.take()
            return Not(self.factor())
        if self.is_symbol("("):
            opening = self.take()
            node = self.expr()
            if not self.is_symbol(")"):
                raise self.error(f"expected `)` to close the `(` at column {opening.column + 1}")
            self.take()
            return node
        return self.comparison()

    def value(self, after: str) -> Literal:
        token = self.peek()
        if token.kind not in ("word", "string"):
            raise self.error(f"expected a value after `{after}`")
        self.take()
        return Literal(token.text, token.column, token.kind == "string")

    def comparison(self) -> Comparison:
        token = self.peek()
        if token.kind != "word" or token.text.lower() in ("and", "or", "not", "in", "contains",
                                                          "matches"):  # fmt: skip
            raise self.error("expected a field such as conn.version or tls.handshake.type")
        self.take()
        name, column = token.text, token.column
        if self.is_symbol(*[o for o in _OPS if not o.isalpha()]) or self.is_word(
                *[o for o in _OPS if o.isalpha()]):  # fmt: skip
            op = _OPS[self.take().text.lower()]
            return Comparison(name, column, op, (self.value(op),))
        if self.is_word("contains"):
            self.take()
            return Comparison(name, column, "contains", (self.value("contains"),))
        if self.is_word("matches"):
            self.take()
            return Comparison(name, column, "matches", (self.value("matches"),))
        if self.is_word("in"):
            self.take()
            if not self.is_symbol("{"):
                raise self.error("expected `{` to start the set after `in`")
            self.take()
            values = []
            while not self.is_symbol("}"):
                if self.peek().kind == "end":
                    raise self.error("expected `}` to close the set")
                values.append(self.value("{"))
                if self.is_symbol(","):
                    self.take()
            if not values:
                raise self.error("the set is empty")
            self.take()
            return Comparison(name, column, "in", tuple(values))
        return Comparison(name, column)


def parse(text: str) -> Node:
    """The syntax tree of a filter; raises FilterError pointing at the problem."""
    return _Parser(text).parse()
