"""The details pane: every TLS message of a connection as a tree (message -> fields ->
extensions -> values; certificates with their fields), with frames and stream offsets, the
way Message Analyzer's and Wireshark's detail panes open a message.

Nodes are plain (label, children) pairs so any interface can draw them; `to_record` gives
nested JSON. Imports `tlslens.analysis`, `tlslens.tls` and `tlslens.certs` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlslens.analysis.conversation import Conversation
from tlslens.certs.x509 import CertSummary, summarize
from tlslens.tls import messages as m
from tlslens.tls.registry import (
    alert_level_name,
    alert_name,
    cipher_suite_name,
    extension_name,
    group_name,
    handshake_title,
    signature_scheme_name,
    version_name,
)
from tlslens.tls.session import Alert, ChangeCipherSpec, HandshakeMessage

#: Cipher suites listed one per line up to this many; a longer offer is cut with a count.
MAX_LISTED = 64


@dataclass
class Node:
    label: str
    children: list[Node] = field(default_factory=list)
    #: The frames this node came from, when it is a message.
    frames: tuple[int, ...] = ()

    def add(self, label: str, *children: Node) -> Node:
        node = Node(label, list(children))
        self.children.append(node)
        return node

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"label": self.label}
        if self.frames:
            record["frames"] = list(self.frames)
        if self.children:
            record["children"] = [c.to_record() for c in self.children]
        return record


def _hex(data: bytes, limit: int = 32) -> str:
    text = data[:limit].hex()
    return text + ("…" if len(data) > limit else "") if data else "(empty)"


def _list(node: Node, title: str, values: list[str]) -> None:
    if not values:
        return
    child = node.add(f"{title} ({len(values)})")
    for value in values[:MAX_LISTED]:
        child.add(value)
    if len(values) > MAX_LISTED:
        child.add(f"... {len(values) - MAX_LISTED} more")


def _extensions(node: Node, ext: m.Extensions) -> None:
    parent = node.add(f"Extensions ({len(ext.raw)})")
    for raw in ext.raw:
        item = parent.add(f"{extension_name(raw.type)} (type {raw.type}, {len(raw.data)} bytes)")
        t = raw.type
        if t == 0 and ext.server_name:
            item.add(f"server_name: {ext.server_name}")
        elif t == 43:
            for v in ext.supported_versions:
                item.add(f"{version_name(v)} (0x{v:04x})")
        elif t == 10:
            for g in ext.supported_groups:
                item.add(group_name(g))
        elif t in (51, 40):
            for g in ext.key_share_groups:
                item.add(f"key share: {group_name(g)}")
        elif t == 13:
            for a in ext.signature_algorithms:
                item.add(signature_scheme_name(a))
        elif t == 50:
            for a in ext.signature_algorithms_cert:
                item.add(signature_scheme_name(a))
        elif t == 16:
            for p in ext.alpn:
                item.add(p)
        elif t == 11:
            item.add(", ".join(str(f) for f in ext.ec_point_formats))
        elif t == 35 and ext.session_ticket is not None:
            item.add(f"ticket: {len(ext.session_ticket)} bytes")
        elif t == 41:
            item.add(f"identities: {ext.psk_identities}" if ext.psk_identities
                     else f"selected identity: {ext.psk_selected_identity}")  # fmt: skip
        elif t == 65281 and ext.renegotiation_info is not None:
            item.add(f"renegotiated_connection: {_hex(ext.renegotiation_info)}")
        elif t == 28 and ext.record_size_limit is not None:
            item.add(f"record_size_limit: {ext.record_size_limit}")
        elif raw.data:
            item.add(f"data: {_hex(raw.data)}")
    for problem in ext.problems:
        parent.add(f"problem: {problem}")


def _certificate(node: Node, index: int, s: CertSummary) -> None:
    item = node.add(f"[{index}] {s.subject}")
    if s.error:
        item.add(f"could not be read: {s.error}")
        return
    item.add(f"issuer: {s.issuer}")
    item.add(f"serial: {s.serial}")
    if s.not_before and s.not_after:
        item.add(f"validity: {s.not_before:%Y-%m-%d %H:%M:%S} to {s.not_after:%Y-%m-%d %H:%M:%S}"
                 " UTC")  # fmt: skip
    item.add(f"signature: {s.sig_alg}")
    if s.key:
        item.add(f"key: {s.key}")
    if s.san_dns:
        _list(item, "subjectAltName DNS", list(s.san_dns))
    if s.key_usage:
        item.add("key usage: " + ", ".join(s.key_usage))
    if s.extended_key_usage:
        item.add("extended key usage: " + ", ".join(s.extended_key_usage))
    item.add(f"CA: {'yes' if s.ca else 'no'}")
    item.add(f"SHA-256: {s.sha256}")
    item.add(f"SHA-1: {s.sha1}")


def _body(node: Node, body: m.Body | None) -> None:
    if isinstance(body, m.ClientHello):
        node.add(f"format: {'SSL 2.0' if body.format == 'sslv2' else 'TLS'}")
        node.add(f"legacy_version: {version_name(body.legacy_version)} "
                 f"(0x{body.legacy_version:04x})")  # fmt: skip
        node.add(f"random: {_hex(body.random)}")
        node.add(f"session_id: {_hex(body.session_id)}")
        _list(
            node, "cipher_suites", [f"0x{c:04x} {cipher_suite_name(c)}" for c in body.cipher_suites]
        )
        node.add("compression_methods: " + ", ".join(str(c) for c in body.compression_methods))
        _extensions(node, body.extensions)
    elif isinstance(body, m.ServerHello):
        if body.is_hello_retry_request:
            node.add("HelloRetryRequest (RFC 8446 4.1.4)")
        node.add(f"legacy_version: {version_name(body.legacy_version)} "
                 f"(0x{body.legacy_version:04x})")  # fmt: skip
        node.add(f"random: {_hex(body.random)}")
        node.add(f"session_id: {_hex(body.session_id)}")
        node.add(f"cipher_suite: 0x{body.cipher_suite:04x} {cipher_suite_name(body.cipher_suite)}")
        node.add(f"compression_method: {body.compression_method}")
        _extensions(node, body.extensions)
    elif isinstance(body, m.SSLv2ServerHello):
        node.add(f"version: {version_name(body.version)}")
        node.add(f"session_id_hit: {body.session_id_hit}")
        _list(node, "cipher_specs", [f"0x{c:06x}" for c in body.cipher_specs])
        if body.certificate:
            _certificate(node, 0, summarize(body.certificate))
    elif isinstance(body, m.Certificate):
        if body.request_context:
            node.add(f"certificate_request_context: {_hex(body.request_context)}")
        certs = node.add(f"certificates ({len(body.certificates)})")
        for index, der in enumerate(body.certificates):
            _certificate(certs, index, summarize(der))
    elif isinstance(body, m.ServerKeyExchange):
        node.add(f"kind: {body.kind}")
        if body.named_group is not None:
            node.add(f"named_group: {group_name(body.named_group)}")
        if body.dh_prime_bits is not None:
            node.add(f"DH prime: {body.dh_prime_bits} bits")
        if body.signature_scheme is not None:
            node.add(f"signature: {signature_scheme_name(body.signature_scheme)}")
    elif isinstance(body, m.CertificateRequest):
        node.add("certificate_types: " + ", ".join(str(t) for t in body.certificate_types))
        _list(
            node,
            "signature_algorithms",
            [signature_scheme_name(a) for a in body.signature_algorithms],
        )
        node.add(f"certificate_authorities: {len(body.certificate_authorities)}")
    elif isinstance(body, m.NewSessionTicket):
        node.add(f"lifetime_hint: {body.lifetime_hint} s")
        node.add(f"ticket: {body.ticket_length} bytes")
    elif isinstance(body, m.CertificateVerify) and body.signature_scheme is not None:
        node.add(f"signature: {signature_scheme_name(body.signature_scheme)}")
    elif isinstance(body, m.Opaque):
        node.add(f"body: {body.length} bytes (not decoded)")


def _frames(first: int, last: int) -> str:
    return f"frame {last}" if first == last else f"frames {first}-{last}"


def message_tree(conv: Conversation, frame: int | None = None) -> list[Node]:
    """A node per TLS message, alert and ChangeCipherSpec; with `frame`, only those that
    came (at least partly) in that frame."""
    tls = conv.tls
    if tls is None or not tls.is_tls:
        return []
    likely = {(a.role, a.frame): a.likely for a in tls.alerts}
    out = []
    for event in tls.session.events:
        if isinstance(event, HandshakeMessage):
            first, last = event.first_frame, event.last_frame
            if frame is not None and not first <= frame <= last:
                continue
            if event.msg_type is None:
                text = f"encrypted handshake record ({event.length} bytes)"
                node = Node(f"{event.role}: {text}, {_frames(first, last)}, offset "
                            f"{event.offset}", frames=(first, last))  # fmt: skip
            else:
                node = Node(f"{event.role}: {handshake_title(event.msg_type)} "
                            f"({event.length} bytes), {_frames(first, last)}, offset "
                            f"{event.offset}", frames=(first, last))  # fmt: skip
                _body(node, event.body)
        elif isinstance(event, Alert):
            if frame is not None and frame != event.frame:
                continue
            if event.description is None:
                text = f"encrypted alert ({event.record_length} bytes; likely " \
                    f"{likely.get((event.role, event.frame)) or 'unknown'})"  # fmt: skip
            else:
                level = alert_level_name(event.level) if event.level is not None else "?"
                text = f"alert: {level} {alert_name(event.description)} ({event.description})"
            node = Node(f"{event.role}: {text}, frame {event.frame}, offset {event.offset}",
                        frames=(event.frame,))  # fmt: skip
        elif isinstance(event, ChangeCipherSpec):
            if frame is not None and frame != event.frame:
                continue
            node = Node(f"{event.role}: ChangeCipherSpec, frame {event.frame}, offset "
                        f"{event.offset}", frames=(event.frame,))  # fmt: skip
        else:
            continue
        out.append(node)
    return out
