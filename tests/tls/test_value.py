"""`Value` records behave as the frozen dataclasses they replace: equality, hashing, repr,
pickling, pattern matching, and (compiled) attributes that cannot be set."""

from __future__ import annotations

import pickle

import pytest

from tlslens.compiled import is_compiled
from tlslens.tls.messages import Extension
from tlslens.tls.session import Alert, ChangeCipherSpec, HandshakeMessage


def _alert(likely: str | None = None) -> Alert:
    return Alert("client", 7, 300, True, None, None, 26, likely)


def test_equal_by_fields_and_class() -> None:
    assert _alert() == _alert() and hash(_alert()) == hash(_alert())
    assert _alert() != _alert("fatal")
    assert _alert().most_likely("fatal") == _alert("fatal")
    # Same fields, another class: not equal.
    assert ChangeCipherSpec("client", 7, 300) != HandshakeMessage("client", 7, 300, 0, 0, 0, None)
    assert Extension(0, b"") != (0, b"")


def test_repr_names_the_fields() -> None:
    assert repr(Extension(43, b"\x03\x04")) == "Extension(type=43, data=b'\\x03\\x04')"


def test_pickles_and_matches() -> None:
    message = HandshakeMessage("server", 2, 90, 5, 3, 4, None)
    assert pickle.loads(pickle.dumps(message)) == message
    match message:
        case HandshakeMessage(role, msg_type):
            assert (role, msg_type) == ("server", 2)
        case _:
            pytest.fail("positional pattern did not match")


@pytest.mark.skipif(not is_compiled("tlslens.tls.value"), reason="pure Python: mypy's Final")
def test_compiled_fields_cannot_be_set() -> None:
    with pytest.raises(AttributeError):
        _alert().frame = 8  # type: ignore[misc]
