"""A TLS session over one TCP connection, sans-I/O: stream bytes in, events and facts out.

The pipeline feeds each direction's reassembled bytes (`data`), the bytes the capture missed
(`gap`) and each side's end (`end`); the session never reads files, clocks or prints. It
finds where TLS starts (offset 0, or later after a STARTTLS exchange), follows records,
reassembles handshake messages across records, parses them, and keeps what a troubleshooter
asks for: what the client offered, what the server chose, certificates, alerts (plaintext,
and encrypted ones with what they most likely are), when each side started encrypting, how
much application data flowed, and a Zeek-style history.

Without keys nothing encrypted is decrypted: a direction is followed by record boundaries
only once it encrypts (after its ChangeCipherSpec, or after the ServerHello in TLS 1.3).

Parse errors become `Anomaly` events with the offset and frame; one bad message never stops
the connection, and one bad connection never stops the capture.
This module imports only `tlslens.tls` and `tlslens.limits`.
"""

from __future__ import annotations

from typing import ClassVar, Final

from tlslens.limits import Limits
from tlslens.tls import messages as m
from tlslens.tls.detect import looks_like_client_hello
from tlslens.tls.errors import DecodeError
from tlslens.tls.record import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    HEARTBEAT,
    MAX_PLAINTEXT,
    SKIP_ALL,
    SSL2_RECORD,
    RecordLayer,
    RecordSink,
    plausible_header,
)
from tlslens.tls.registry import cipher_suite_name
from tlslens.tls.value import Value

CLIENT: Final = 0
SERVER: Final = 1
ROLES: Final = ("client", "server")

TLS13: Final = 0x0304
ALERT_FATAL: Final = 2
CLOSE_NOTIFY: Final = 0

#: An encrypted record shorter than this is too short for a Finished message (at least
#: 4 + 32 bytes of plaintext plus a 16-byte AEAD tag) and about the size of an alert
#: (2 bytes, content type, tag = 19): RFC 8446 5.2 and 4.4.4.
ALERT_SIZED: Final = 32

#: Zeek's ssl_history letters (client upper case, server lower case) per handshake type.
HISTORY_LETTERS: Final = {
    m.HELLO_REQUEST: "h", m.CLIENT_HELLO: "c", m.SERVER_HELLO: "s",
    m.HELLO_VERIFY_REQUEST: "v", m.NEW_SESSION_TICKET: "t", m.END_OF_EARLY_DATA: "e",
    m.ENCRYPTED_EXTENSIONS: "o", m.CERTIFICATE: "x", m.SERVER_KEY_EXCHANGE: "k",
    m.CERTIFICATE_REQUEST: "r", m.SERVER_HELLO_DONE: "n", m.CERTIFICATE_VERIFY: "y",
    m.CLIENT_KEY_EXCHANGE: "g", m.FINISHED: "f", m.CERTIFICATE_URL: "w",
    m.CERTIFICATE_STATUS: "u", m.SUPPLEMENTAL_DATA: "a", m.KEY_UPDATE: "p",
    m.MESSAGE_HASH: "m",
}  # fmt: skip
HISTORY_HRR: Final = "j"
HISTORY_CCS: Final = "i"
HISTORY_ALERT: Final = "l"
HISTORY_HEARTBEAT: Final = "b"
HISTORY_UNKNOWN: Final = "z"
MAX_HISTORY: Final = 100
MAX_ANOMALIES: Final = 50

# Direction modes.
START: Final = 0  # nothing seen yet
TLS: Final = 1  # following TLS records
PLAIN: Final = 2  # plaintext so far (a STARTTLS protocol may switch to TLS)
OFF: Final = 3  # not TLS; no longer looked at

#: Plaintext kept per side, to show what a non-TLS answer said.
FIRST_PLAIN_BYTES: Final = 64

#: Bytes needed to recognise the start of TLS: a record header and a handshake type.
DETECT_BYTES: Final = 6


def is_tls13(version: int | None) -> bool:
    """TLS 1.3 or one of its drafts (0x7fXX, RFC 8446 development versions)."""
    return version is not None and (version == TLS13 or version >> 8 == 0x7F)


# The events are `Value`s, not dataclasses: a connection makes a dozen of them, and a
# compiled dataclass is slow to make (`tlslens.tls.value`).


class HandshakeMessage(Value):
    """One handshake message, whole, or an encrypted handshake record we cannot read."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "role", "msg_type", "length", "offset", "first_frame", "last_frame", "body"
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, role: str, msg_type: int | None, length: int, offset: int,
                 first_frame: int, last_frame: int, body: m.Body | None) -> None:  # fmt: skip
        self.role: Final = role
        #: Handshake type, or None for an encrypted handshake record we cannot read.
        self.msg_type: Final = msg_type
        self.length: Final = length
        #: Stream offset of the message's first byte (its handshake header).
        self.offset: Final = offset
        self.first_frame: Final = first_frame
        self.last_frame: Final = last_frame
        self.body: Final = body


class Alert(Value):
    """An alert record (RFC 8446 6, RFC 5246 7.2), or one that is most likely an alert."""

    __match_args__: ClassVar[tuple[str, ...]] = (
        "role", "frame", "offset", "encrypted", "level", "description", "record_length",
        "likely",
    )  # fmt: skip
    __slots__ = __match_args__

    def __init__(self, role: str, frame: int, offset: int, encrypted: bool, level: int | None,
                 description: int | None, record_length: int, likely: str | None = None
                 ) -> None:  # fmt: skip
        self.role: Final = role
        self.frame: Final = frame
        self.offset: Final = offset
        self.encrypted: Final = encrypted
        self.level: Final = level
        self.description: Final = description
        self.record_length: Final = record_length
        #: For an encrypted alert, what it most likely is: "close_notify" or "fatal".
        self.likely: Final = likely

    def most_likely(self, likely: str | None) -> Alert:
        """This alert, saying what it most likely is."""
        return Alert(self.role, self.frame, self.offset, self.encrypted, self.level,
                     self.description, self.record_length, likely)  # fmt: skip


class ChangeCipherSpec(Value):
    """A ChangeCipherSpec record (RFC 5246 7.1; in TLS 1.3, middlebox compatibility: RFC 8446
    D.4)."""

    __match_args__: ClassVar[tuple[str, ...]] = ("role", "frame", "offset")
    __slots__ = __match_args__

    def __init__(self, role: str, frame: int, offset: int) -> None:
        self.role: Final = role
        self.frame: Final = frame
        self.offset: Final = offset


class Anomaly(Value):
    __match_args__: ClassVar[tuple[str, ...]] = ("role", "frame", "offset", "message")
    __slots__ = __match_args__

    def __init__(self, role: str, frame: int, offset: int, message: str) -> None:
        self.role: Final = role
        self.frame: Final = frame
        self.offset: Final = offset
        self.message: Final = message


Event = HandshakeMessage | Alert | ChangeCipherSpec | Anomaly


class _Direction:
    """What one side sent."""

    __slots__ = (
        "app_bytes",
        "app_records",
        "ccs_frame",
        "enc_records",
        "encrypted",
        "end_frame",
        "end_how",
        "finished",
        "first_enc",
        "first_plain",
        "held",
        "held_offset",
        "hs_buf",
        "hs_first_frame",
        "hs_offset",
        "last_frame",
        "last_length",
        "last_offset",
        "last_type",
        "last_version",
        "mode",
        "plain_bytes",
        "record_versions",
        "records",
        "role",
        "tls_start",
    )

    # `role` has a default only so that the compiled class (`tlslens.compiled`) can be made
    # empty and filled by pickle.
    def __init__(self, role: int = CLIENT) -> None:
        self.role = role
        self.mode = START
        #: The first plaintext bytes this side sent (what a non-TLS answer said).
        self.first_plain = b""
        #: Bytes held (from `held_offset`) until there are enough to recognise TLS.
        self.held = b""
        self.held_offset = 0
        self.records: RecordLayer | None = None
        #: The record-layer versions this side used (legacy_record_version, RFC 8446 5.1).
        self.record_versions: set[int] = set()
        self.last_version = -1
        self.plain_bytes = 0
        #: Stream offset where TLS started in this direction (0 unless STARTTLS).
        self.tls_start: int | None = None
        self.encrypted = False
        self.ccs_frame: int | None = None
        #: An encrypted handshake record (Finished) followed this side's CCS (TLS <= 1.2).
        self.finished = False
        self.hs_buf = bytearray()
        self.hs_offset = 0
        self.hs_first_frame = 0
        #: Encrypted records (TLS 1.3 after the ServerHello) and the first one's
        #: (length, frame).
        self.enc_records = 0
        self.first_enc: tuple[int, int] | None = None
        self.app_records = 0
        self.app_bytes = 0
        #: The last record seen: its content type (-1 before any), length, frame and
        #: offset, as numbers of their own (`last_record` makes the tuple): compiled, they
        #: stay machine integers, where a tuple per record boxed four.
        self.last_type = -1
        self.last_length = 0
        self.last_frame = 0
        self.last_offset = 0
        self.end_how: str | None = None
        self.end_frame: int | None = None

    @property
    def last_record(self) -> tuple[int, int, int, int] | None:
        """(content type, length, frame, offset) of the last record seen, if any."""
        if self.last_type < 0:
            return None
        return (self.last_type, self.last_length, self.last_frame, self.last_offset)


class _RecordsOf(RecordSink):
    """Where one direction's record layer sends its records: that direction of a session.
    The record layer holds it, and so the session; `TLSSession.close` drops the record
    layers, which ends that cycle."""

    def __init__(self, session: TLSSession, direction: _Direction) -> None:
        self.session = session
        self.direction = direction

    def record(self, content_type: int, version: int, length: int, fragment: bytes | None,
               offset: int, first_frame: int, last_frame: int) -> None:  # fmt: skip
        self.session._record(self.direction, content_type, version, length, fragment, offset,
                             first_frame, last_frame)  # fmt: skip

    def anomaly(self, offset: int, frame: int, message: str) -> None:
        self.session._anomaly(self.direction.role, frame, offset, message)


def _alert_frame(alert: Alert) -> int:
    """An alert's frame, to sort by (a function, not a lambda that each call would make)."""
    return alert.frame


class TLSSession:
    """Feed it one connection's streams; read its facts at any time."""

    def __init__(self, limits: Limits | None = None, midstream: bool = False) -> None:
        self.limits = limits or Limits()
        #: The capture missed the TCP handshake: TLS may start with any record.
        self.midstream = midstream
        # Of any length to the type checker: compiled, a pair would be kept as two fields,
        # and `dirs[role]` would make a tuple of them each time (as `tcp.Connection.halves`).
        self.dirs: tuple[_Direction, ...] = (_Direction(CLIENT), _Direction(SERVER))
        #: `close` was called: no more input, and the record layers are gone.
        self.closed = False
        self._records_say_tls = False
        self.events: list[Event] = []
        self.anomalies: list[Anomaly] = []
        self.history: list[str] = []
        self.client_hello: m.ClientHello | None = None
        self.client_hello_frame: int | None = None
        self.client_hellos = 0
        self.hello_retry_request: m.ServerHello | None = None
        self.server_hello: m.ServerHello | None = None
        self.server_hello_frame: int | None = None
        #: `is_tls13(self.version)`, kept with the ServerHello: it is asked for every
        #: application data record, and `version` makes a new int object each time.
        self.tls13 = False
        self.sslv2_server_hello: m.SSLv2ServerHello | None = None
        #: The cipher kind an SSL 2.0 client picked in its CLIENT-MASTER-KEY.
        self.sslv2_cipher: int | None = None
        self.certificates: list[tuple[bytes, int]] = []
        self.client_certificates: list[tuple[bytes, int]] = []
        #: A Certificate message came from the client (it may be empty: no certificate).
        self.client_certificate_frame: int | None = None
        self.certificate_request: m.CertificateRequest | None = None
        self.certificate_request_frame: int | None = None
        self.server_key_exchange: m.ServerKeyExchange | None = None
        self.alerts: list[Alert] = []
        self.starttls = False
        #: Encrypted handshake records after both Finished messages (TLS <= 1.2):
        #: renegotiation, or a HelloRequest asking for one.
        self.renegotiation_records = 0
        self.renegotiation_frame: int | None = None
        #: Client application data sent before the ServerHello (TLS 1.3 0-RTT).
        self.early_data_records = 0
        #: Server encrypted records after the client's first encrypted record (TLS 1.3).
        self.server_records_after_client_finished = 0

    # -- input -------------------------------------------------------------------------

    def data(self, role: int, offset: int, data: memoryview | bytes, frame: int) -> int:
        """Take `role`'s stream bytes at `offset`. Returns how many bytes after them the
        session only skips (see `RecordLayer.feed`): a caller may leave those out."""
        d = self.dirs[role]
        if d.mode == TLS:
            assert d.records is not None
            return d.records.feed(offset, data, frame)
        if d.mode == OFF:
            return SKIP_ALL
        # Not TLS yet: find where it starts (offset 0, or after a STARTTLS exchange). Bytes
        # that may begin a record are held until there are enough to tell, so that however
        # the stream is split the same start is found.
        base = d.held_offset if d.held else offset
        if not isinstance(data, bytes):
            data = bytes(data)
        window = d.held + data if d.held else data
        start, hold_from = self._find_tls_start(role, d, window, base)
        if start is None:
            d.held = window[hold_from:] if hold_from is not None else b""
            d.held_offset = base + (hold_from or 0)
            released = len(window) - len(d.held)
            if len(d.first_plain) < FIRST_PLAIN_BYTES:
                d.first_plain += window[: FIRST_PLAIN_BYTES - len(d.first_plain)]
            if released:
                d.mode = PLAIN
            d.plain_bytes += released
            if d.plain_bytes > self.limits.max_plaintext_before_tls:
                d.mode = OFF
                d.held = b""
                return SKIP_ALL
            return 0
        d.held = b""
        d.mode = TLS
        d.tls_start = base + start
        if d.tls_start > 0 and role == CLIENT:
            self.starttls = True
        d.records = RecordLayer(_RecordsOf(self, d), d.tls_start)
        return d.records.feed(d.tls_start, window[start:], frame)

    def _find_tls_start(self, role: int, d: _Direction, window: bytes, base: int
                        ) -> tuple[int | None, int | None]:  # fmt: skip
        """Where TLS starts in `window` (stream offset `base`): (position, None), or
        (None, position to hold from) when more bytes are needed, or (None, None)."""
        at_stream_start = d.mode == START
        if at_stream_start and self.midstream:
            # The capture missed the handshake: any record may come first.
            if len(window) < DETECT_BYTES:
                return None, 0
            if plausible_header(window) or (role == CLIENT and looks_like_client_hello(window)):
                return 0, None
        markers = (b"\x16\x03",) if role == CLIENT else (b"\x16\x03", b"\x15\x03")
        if role == SERVER and self.dirs[CLIENT].mode != TLS and not self._sslv2_client():
            return None, None
        if role == SERVER and self._sslv2_client() and window[:1] and window[0] & 0x80:
            # An SSL 2.0 SERVER-HELLO answering an SSL 2.0-format client hello.
            if len(window) < 3:
                return None, 0
            if window[2] == 4:
                return 0, None
        if role == CLIENT and window[:1] and window[0] & 0x80 and at_stream_start:
            # An SSL 2.0-format client hello opens the stream.
            if len(window) < DETECT_BYTES:
                return None, 0
            if looks_like_client_hello(window):
                return 0, None
        best: int | None = None
        for marker in markers:
            # Most streams begin with their first record: no search for it (compiled, a
            # search is a generic method call).
            pos = 0 if window[:2] == marker else window.find(marker)
            while pos != -1:
                if len(window) - pos < DETECT_BYTES:
                    best = pos if best is None else min(best, pos)
                    break
                if (looks_like_client_hello(window[pos:]) if role == CLIENT
                        else plausible_header(window, pos)):  # fmt: skip
                    return pos, None
                pos = window.find(marker, pos + 1)
        if best is not None:
            return None, best
        # A record header may begin with the last byte of this chunk.
        if window[-1:] in (b"\x16", b"\x15"):
            return None, len(window) - 1
        return None, None

    def _sslv2_client(self) -> bool:
        hello = self.client_hello
        return hello is not None and hello.format == "sslv2"

    def gap(self, role: int, offset: int, size: int, frame: int) -> None:
        d = self.dirs[role]
        if d.mode != TLS or d.records is None:
            return
        if not d.records.gap(offset, size, frame):
            d.hs_buf.clear()
            self._anomaly(
                role, frame, offset,
                f"{size} bytes missing from the capture at offset {offset}; TLS records are "
                "followed again from the next one that starts a segment",
            )  # fmt: skip

    def close(self) -> None:
        """No more input will come. Keeps what `is_tls` needs of the record layers and drops
        them. They call back into this session: that cycle would keep every finished session,
        with all its messages, alive until the garbage collector's next full pass (on a busy
        capture that is most of the memory, and the collector's passes cost about a tenth of
        the run). A finished session must also pickle (`analysis.spill`), and its parsing
        state need not."""
        self._records_say_tls = self._records_look_like_tls()
        for d in self.dirs:
            d.records = None
        self.closed = True

    def end(self, role: int, how: str, frame: int) -> None:
        """This side closed (FIN) or reset (RST) the connection at `frame`."""
        d = self.dirs[role]
        if d.end_how is None:
            d.end_how, d.end_frame = how, frame

    # -- records -------------------------------------------------------------------------

    def _record(self, d: _Direction, content_type: int, version: int, length: int,
                fragment: bytes | None, offset: int, first_frame: int, last_frame: int
                ) -> None:  # fmt: skip
        role = d.role
        if version != d.last_version:  # a set's add per record, only on a change
            d.record_versions.add(version)
            d.last_version = version
        if length > MAX_PLAINTEXT and not d.encrypted and content_type != APPLICATION_DATA:
            self._anomaly(
                role, last_frame, offset,
                f"plaintext record of {length} bytes exceeds {MAX_PLAINTEXT} (RFC 8446 5.1)",
            )  # fmt: skip
        if content_type == APPLICATION_DATA:
            self._application_data(d, length, last_frame)
        elif fragment is None:
            return
        elif content_type == HANDSHAKE:
            if d.encrypted:
                self._encrypted_handshake(d, length, offset, first_frame, last_frame)
            else:
                self._handshake_fragment(d, fragment, offset + 5, first_frame, last_frame)
        elif content_type == CHANGE_CIPHER_SPEC:
            self._letter(role, HISTORY_CCS)
            self._event(ChangeCipherSpec(ROLES[role], last_frame, offset))
            if self.server_hello is not None and not self.tls13 and not d.encrypted:
                # From the next record on, this side encrypts (RFC 5246 7.1). In TLS 1.3
                # (and after a HelloRetryRequest) the CCS is only a middlebox-compatibility
                # dummy (RFC 8446 D.4) and changes nothing.
                d.encrypted = True
                d.ccs_frame = last_frame
        elif content_type == ALERT:
            self._alert(d, fragment, length, offset, last_frame)
        elif content_type == SSL2_RECORD:
            self._sslv2(d, fragment, offset, first_frame, last_frame)
        elif content_type == HEARTBEAT:
            self._letter(role, HISTORY_HEARTBEAT)
            self._anomaly(role, last_frame, offset,
                          f"heartbeat record ({length} bytes, RFC 6520)")  # fmt: skip
        d.last_type = content_type
        d.last_length = length
        d.last_frame = last_frame
        d.last_offset = offset

    def _application_data(self, d: _Direction, length: int, frame: int) -> None:
        if self.tls13:
            d.enc_records += 1
            if d.first_enc is None:
                d.first_enc = (length, frame)
            if d.role == SERVER and self.dirs[CLIENT].first_enc is not None:
                self.server_records_after_client_finished += 1
            # Without keys, TLS 1.3's encrypted handshake and its data look alike: count both.
            d.app_records += 1
            d.app_bytes += length
            return
        if d.role == CLIENT and self.server_hello is None and self.client_hello is not None:
            # Encrypted data before any ServerHello: TLS 1.3 early data (RFC 8446 4.2.10).
            self.early_data_records += 1
            return
        d.app_records += 1
        d.app_bytes += length

    def _encrypted_handshake(self, d: _Direction, length: int, offset: int, first_frame: int,
                             last_frame: int) -> None:  # fmt: skip
        # After a ChangeCipherSpec: the Finished message, or later a renegotiation.
        if d.finished and self.dirs[d.role ^ 1].finished:
            self.renegotiation_records += 1
            if self.renegotiation_frame is None:
                self.renegotiation_frame = last_frame
        d.finished = True
        self._event(HandshakeMessage(ROLES[d.role], None, length, offset, first_frame,
                                     last_frame, None))  # fmt: skip

    def _handshake_fragment(self, d: _Direction, fragment: bytes, offset: int, first_frame: int,
                            last_frame: int) -> None:  # fmt: skip
        """Reassemble handshake messages that span records, or share one (RFC 8446 5.1).
        The messages are read out of the record's own bytes when no earlier record left a
        part of one (the common case: no copy into the buffer and out again), and whatever
        is left over waits in `hs_buf` until the records that complete it have come."""
        buf = d.hs_buf
        if buf:
            buf += fragment
            if len(buf) >= 4:
                length = buf[1] << 16 | buf[2] << 8 | buf[3]
                if len(buf) < 4 + length <= 4 + self.limits.max_handshake_message_bytes:
                    # The message goes on in later records: wait for them without copying
                    # what is held (a large one in many records would be copied each time).
                    return
            data = bytes(buf)
            buf.clear()
        else:
            data = fragment
            d.hs_offset = offset
            d.hs_first_frame = first_frame
        n = len(data)
        pos = 0
        while n - pos >= 4:
            msg_type = data[pos]
            length = data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]
            if length > self.limits.max_handshake_message_bytes:
                self._anomaly(
                    d.role, last_frame, d.hs_offset,
                    f"handshake message of type {msg_type} claims {length} bytes, more than "
                    f"the {self.limits.max_handshake_message_bytes}-byte limit; dropped",
                )  # fmt: skip
                return
            if n - pos < 4 + length:
                break
            body = data[pos + 4 : pos + 4 + length]
            pos += 4 + length
            self._message(d, msg_type, body, d.hs_offset, d.hs_first_frame, last_frame)
            d.hs_offset += 4 + length
            d.hs_first_frame = first_frame if pos < n else 0
        if pos < n:
            buf += data[pos:]

    def _message(self, d: _Direction, msg_type: int, body: bytes, offset: int,
                 first_frame: int, last_frame: int) -> None:  # fmt: skip
        role = d.role
        base = offset + 4
        parsed: m.Body | None = None
        letter = HISTORY_LETTERS.get(msg_type, HISTORY_UNKNOWN)
        try:
            if msg_type == m.CLIENT_HELLO:
                hello = m.parse_client_hello(body, base)
                self._client_hello(hello, last_frame)
                parsed = hello
            elif msg_type == m.SERVER_HELLO:
                server_hello = m.parse_server_hello(body, base)
                parsed = server_hello
                if server_hello.is_hello_retry_request:
                    letter = HISTORY_HRR
                    self.hello_retry_request = server_hello
                else:
                    self._server_hello(server_hello, last_frame)
            elif msg_type == m.CERTIFICATE:
                cert = m.parse_certificate(body, base, tls13=self.tls13)
                parsed = cert
                chain = [(der, last_frame) for der in cert.certificates]
                if role == SERVER:
                    self.certificates = chain
                else:
                    self.client_certificates = chain
                    self.client_certificate_frame = last_frame
            elif msg_type == m.SERVER_KEY_EXCHANGE:
                suite = cipher_suite_name(self.cipher) if self.cipher is not None else ""
                ske = m.parse_server_key_exchange(body, base, suite, self.version or 0)
                self.server_key_exchange = parsed = ske
            elif msg_type == m.CERTIFICATE_REQUEST:
                request = m.parse_certificate_request(body, base, self.version or 0)
                self.certificate_request = parsed = request
                self.certificate_request_frame = last_frame
            elif msg_type == m.NEW_SESSION_TICKET:
                parsed = m.parse_new_session_ticket(body, base)
            elif msg_type == m.CERTIFICATE_VERIFY:
                parsed = m.parse_certificate_verify(body, base, self.version or 0)
            else:
                parsed = m.Opaque(len(body))
        except DecodeError as exc:
            self._anomaly(
                role,
                last_frame,
                exc.offset,
                f"malformed {exc.layer} message (type {msg_type}): {exc.reason}",
            )
        if isinstance(parsed, (m.ClientHello, m.ServerHello)) and parsed.extensions.problems:
            for problem in parsed.extensions.problems:
                self._anomaly(role, last_frame, offset, problem)
        self._letter(role, letter)
        self._event(HandshakeMessage(ROLES[role], msg_type, len(body), offset, first_frame,
                                     last_frame, parsed))  # fmt: skip

    def _client_hello(self, hello: m.ClientHello, frame: int) -> None:
        self.client_hellos += 1
        if self.client_hello is None:
            self.client_hello = hello
            self.client_hello_frame = frame

    def _server_hello(self, hello: m.ServerHello, frame: int) -> None:
        tls13 = is_tls13(hello.version)
        if self.server_hello is None:
            self.server_hello = hello
            self.server_hello_frame = frame
            self.tls13 = tls13
        if tls13:
            # Everything after the ServerHello is encrypted in TLS 1.3 (RFC 8446 2).
            self.dirs[SERVER].encrypted = True

    def _alert(self, d: _Direction, fragment: bytes, length: int, offset: int, frame: int
               ) -> None:  # fmt: skip
        role = d.role
        # A 2-byte alert record is plaintext even after ChangeCipherSpec: any protection
        # (MAC, IV, AEAD tag) makes the record longer.
        if d.encrypted and length != 2:
            self._event(self._add_alert(Alert(ROLES[role], frame, offset, True, None, None,
                                              length)))  # fmt: skip
            return
        if length % 2:
            self._anomaly(role, frame, offset, f"alert record of odd length {length}")
        for i in range(0, length - 1, 2):
            alert = Alert(ROLES[role], frame, offset, False, fragment[i], fragment[i + 1], length)
            self._letter(role, HISTORY_ALERT)
            self._event(self._add_alert(alert))

    def _add_alert(self, alert: Alert) -> Alert:
        if len(self.alerts) < MAX_ANOMALIES:
            self.alerts.append(alert)
        return alert

    def _sslv2(self, d: _Direction, body: bytes, offset: int, first_frame: int, last_frame: int
               ) -> None:  # fmt: skip
        """SSL 2.0 records: the hellos, the CLIENT-MASTER-KEY that picks the cipher, then
        encrypted records (SSL 2.0 draft, sections 2.5 and 2.6)."""
        if d.encrypted:
            d.app_records += 1
            d.app_bytes += len(body)
            return
        parsed: m.Body | None = None
        msg_type = body[0] if body else -1
        try:
            if d.role == CLIENT and msg_type == 1 and self.client_hello is None:
                hello = m.parse_sslv2_client_hello(body, offset + 2)
                self._client_hello(hello, last_frame)
                parsed = hello
                self._letter(CLIENT, HISTORY_LETTERS[m.CLIENT_HELLO])
            elif d.role == SERVER and msg_type == 4:
                self.sslv2_server_hello = parsed = m.parse_sslv2_server_hello(body, offset + 2)
                self.server_hello_frame = last_frame
                self._letter(SERVER, HISTORY_LETTERS[m.SERVER_HELLO])
                # The server speaks SSL 2.0: both directions keep SSL 2.0 framing.
                for side in self.dirs:
                    if side.records is not None:
                        side.records.sslv2_mode = True
            elif d.role == CLIENT and msg_type == 2 and self.sslv2_server_hello is not None:
                # CLIENT-MASTER-KEY: the cipher kind the client picked; encrypted after it.
                if len(body) >= 4:
                    self.sslv2_cipher = body[1] << 16 | body[2] << 8 | body[3]
                parsed = m.Opaque(len(body))
                self._letter(CLIENT, HISTORY_LETTERS[m.CLIENT_KEY_EXCHANGE])
                for side in self.dirs:
                    side.encrypted = True
            else:
                self._anomaly(d.role, last_frame, offset,
                              f"SSL 2.0 record with message type {msg_type}")  # fmt: skip
        except DecodeError as exc:
            self._anomaly(d.role, last_frame, exc.offset,
                          f"malformed SSL 2.0 message: {exc.reason}")  # fmt: skip
        self._event(HandshakeMessage(ROLES[d.role], msg_type, len(body), offset, first_frame,
                                     last_frame, parsed))  # fmt: skip

    # -- bookkeeping -------------------------------------------------------------------

    def _letter(self, role: int, letter: str) -> None:
        if len(self.history) < MAX_HISTORY:
            self.history.append(letter.upper() if role == CLIENT else letter)

    def _event(self, event: Event) -> Event:
        if len(self.events) < self.limits.max_events_per_connection:
            self.events.append(event)
        return event

    def _anomaly(self, role: int, frame: int, offset: int, message: str) -> None:
        if len(self.anomalies) < MAX_ANOMALIES:
            anomaly = Anomaly(ROLES[role], frame, offset, message)
            self.anomalies.append(anomaly)
            self._event(anomaly)

    # -- facts ---------------------------------------------------------------------------

    @property
    def is_tls(self) -> bool:
        if self.client_hello or self.server_hello or self.sslv2_server_hello:
            return True
        if not self.midstream:
            return False
        if self.closed:
            return self._records_say_tls
        return self._records_look_like_tls()

    def _records_look_like_tls(self) -> bool:
        """Mid-stream (the capture missed the handshake): whole records that parse as TLS,
        and nothing that does not."""
        layers = [d.records for d in self.dirs if d.records is not None]
        return bool(layers) and any(r.records for r in layers) and not any(r.dead for r in layers)

    @property
    def version(self) -> int | None:
        if self.server_hello is not None:
            return self.server_hello.version
        if self.sslv2_server_hello is not None:
            return 0x0002
        return None

    @property
    def cipher(self) -> int | None:
        if self.server_hello is not None:
            return self.server_hello.cipher_suite
        if self.sslv2_cipher is not None:
            return self.sslv2_cipher
        return None

    @property
    def resumed(self) -> bool:
        sh, ch = self.server_hello, self.client_hello
        if sh is None or ch is None:
            return False
        if is_tls13(sh.version):
            return sh.extensions.psk_selected_identity is not None
        if sh.session_id and sh.session_id == ch.session_id:
            return True
        # A ticket resumption may not echo the session id: the server goes straight to its
        # ChangeCipherSpec without a Certificate (RFC 5077 3.1, abbreviated handshake).
        return (
            self.dirs[SERVER].ccs_frame is not None
            and not self.certificates
            and (self.server_key_exchange is None)
        )

    @property
    def established(self) -> bool:
        if (self.server_hello is None and self.sslv2_server_hello is None) or (
            self._fatal_plaintext_alert()
        ):
            return False
        client, server = self.dirs
        version = self.version
        if version is not None and version == 0x0002:  # (narrowed: a native comparison)
            # SSL 2.0: both sides sent encrypted records after the CLIENT-MASTER-KEY.
            return client.app_records > 0 and server.app_records > 0
        if self.tls13:
            first = client.first_enc
            if first is None:
                return False
            after = self.server_records_after_client_finished
            # The server's last record, read from its fields (`last_record` makes a tuple).
            if (
                after == 1 and server.last_type == APPLICATION_DATA
                and server.last_length < ALERT_SIZED and server.end_how is not None
            ):  # fmt: skip
                # The server's only answer to the client's Finished was an alert-sized
                # record, then it closed: it rejected the client's flight.
                return False
            return first[0] >= ALERT_SIZED or after > 0
        return client.finished and server.finished

    def _fatal_plaintext_alert(self) -> bool:
        return any(not a.encrypted and a.level == ALERT_FATAL for a in self.alerts)

    def final_alerts(self) -> list[Alert]:
        """The alerts, with what each encrypted one most likely is, plus TLS 1.3 records that
        by their size and place are most likely encrypted alerts."""
        established = self.established
        out: list[Alert] = []
        for alert in self.alerts:
            if alert.encrypted:
                alert = alert.most_likely(self._likely(alert, established))
            out.append(alert)
        if self.tls13:
            for d in self.dirs:
                record = d.last_record
                if record is None or d.end_how is None:
                    continue
                content_type, length, frame, offset = record
                if content_type != APPLICATION_DATA or length >= ALERT_SIZED:
                    continue
                # TLS 1.3 hides alerts in application-data records. A side whose last
                # record is alert-sized and which then closed most likely sent
                # close_notify, or, before the handshake completed, a fatal alert.
                likely = "close_notify" if established else "fatal"
                out.append(Alert(ROLES[d.role], frame, offset, True, None, None, length, likely))
        if len(out) > 1:
            out.sort(key=_alert_frame)
        return out

    def _likely(self, alert: Alert, established: bool) -> str | None:
        """What a TLS <= 1.2 encrypted alert most likely is, from where it sits."""
        if not established:
            return "fatal"
        last = self.dirs[ROLES.index(alert.role)].last_record
        if last is not None and last[0] == ALERT and last[2] == alert.frame:
            return "close_notify"
        return None

    def outcome(self) -> str:
        """established | failed | aborted | incomplete | not-tls."""
        if not self.is_tls:
            return "not-tls"
        if self.established:
            return "established"
        alerts = self.final_alerts()
        if any(a.level == ALERT_FATAL or a.likely == "fatal" for a in alerts):
            return "failed"
        if any(d.end_how is not None for d in self.dirs):
            return "aborted"
        return "incomplete"

    def encrypted_from(self, role: int) -> int | None:
        """Frame from which this side's records are encrypted, if seen."""
        d = self.dirs[role]
        if d.ccs_frame is not None:
            return d.ccs_frame
        if self.tls13:
            return (
                self.server_hello_frame
                if role == SERVER
                else (d.first_enc[1] if d.first_enc else None)
            )
        return None
