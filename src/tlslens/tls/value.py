"""`Value`: the base of the immutable records of the compiled core (`tlslens.compiled`): the
ones the TLS parsers make by the hundred thousand (one per extension, handshake message,
alert, ChangeCipherSpec), the connection record and its parts.

They were frozen dataclasses. Compiled, a dataclass still runs the `__init__` that the
dataclasses module generates as interpreted code, and a frozen one sets each field through
`object.__setattr__`: 0.41 µs to make a two-field record, against 0.04 µs for a class that
writes its own `__init__`, which mypyc compiles. At about thirty such records per
connection, that was a tenth of a handshake-heavy run. And every dataclass writes and
compiles its methods from source when its module is imported, about half a millisecond of
every run each; so the few immutable records outside the core are NamedTuples.

A `Value` subclass lists its fields once, in `__init__`'s order, in `__match_args__` (the
names positional pattern matching uses, as for a dataclass), keeps them in `__slots__`,
and assigns each in `__init__` as `Final`: mypy refuses any later assignment, and compiled,
the attribute is read-only. Equality, hashing, `repr` and pickling come from the fields,
as a frozen dataclass's do.

This module imports nothing from tlslens.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Value:
    """An immutable record whose fields are `__match_args__` (see the module docstring)."""

    __slots__ = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def fields(self) -> tuple[Any, ...]:
        """The field values, in `__init__`'s order."""
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        inner = ", ".join([f"{name}={getattr(self, name)!r}" for name in self.__match_args__])
        return f"{self.__class__.__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Made again by calling the class with the fields (compiled, there is no other way
        # in: the attributes are read-only).
        return (self.__class__, self.fields())
