"""Join Windows events to the connections they most likely belong to, and estimate the
offset between the log's clock and the capture's.

Schannel events name no address or port, so they are joined by what they say and when:
36887/36888 by the alert code and the time the alert crossed the wire (and TargetName against
the SNI); 36880 by version, cipher suite and SNI; the certificate verdicts (36876, 36877,
36881-36884) and 36874 (no common cipher) by a connection that failed that way. Sysmon 3 and
WFP 5156/5157 carry both ends, so they are joined by the 4-tuple, and give the connection a
process. Each event goes to at most one connection, with the reason; an event that fits none
is kept, unattached, with the reason why.

A skew is added to every event time before matching: +2.5 s means the log's clock was 2.5 s
behind the capture's. `estimate_skew` finds it from the events that fit a connection by content
alone (the 4-tuple, an alert code, version and cipher), as the offset most of them agree on.

Imports `tlslens.analysis`, `tlslens.eventlog`, `tlslens.tls` and `tlslens.explain` (names)
only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tlslens.analysis.conversation import Conversation, format_time
from tlslens.eventlog import LogEvent
from tlslens.eventlog.facts import (
    ALERT_GENERATED,
    ALERT_RECEIVED,
    CLIENT_CERT_MAPPING,
    CLIENT_CERT_VALIDATION,
    HANDSHAKE_COMPLETED,
    NO_COMMON_CIPHER,
    SERVER_CERT_EVENTS,
    NetworkFacts,
    SchannelFacts,
    facts,
)
from tlslens.explain import error_state, hresult_name, schannel_event_name
from tlslens.tls.registry import alert_name

NS = 1_000_000_000
#: How far apart (after the skew) a Schannel event and the wire fact it is about may be.
#: Schannel logs as it decides, so on one clock they are milliseconds apart.
WINDOW_NS = 2 * NS
#: A weak match (an encrypted alert whose code cannot be read) must be closer than that.
WEAK_WINDOW_NS = NS // 2
#: Offsets within this much of each other count as the same clock offset.
CLUSTER_NS = NS // 2
#: Candidate pairs considered when estimating the skew; bounds the work on huge inputs.
MAX_SKEW_PAIRS = 200_000

# Match strengths: a 4-tuple beats an exact content match, which beats a weak one.
TUPLE, EXACT, WEAK = 3, 2, 1

FrameTime = Callable[[int], int | None]


@dataclass(frozen=True, slots=True)
class Process:
    """The process that owned a connection, as an event log tells it."""

    pid: int | None
    name: str | None
    image: str | None
    #: Where it came from: "sysmon 3", "wfp 5156", ...
    source: str
    #: How sure: "exact" for a 4-tuple match.
    confidence: str

    def to_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "name": self.name, "image": self.image,
                "source": self.source, "confidence": self.confidence}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attachment:
    """One event and where it went."""

    event: LogEvent
    facts: SchannelFacts | NetworkFacts | None
    #: The event's time on the capture's clock (its own time plus the skew).
    ts_ns: int
    conn: int | None
    #: Why it was attached to `conn`, or why it was not attached.
    reason: str
    #: The frame of the wire fact it was matched with, if any.
    frame: int | None = None


@dataclass(frozen=True, slots=True)
class SkewEstimate:
    offset_ns: int | None
    #: Events that agree on the offset.
    support: int
    note: str


@dataclass
class Correlation:
    skew_ns: int
    attachments: list[Attachment]
    skew_note: str | None = None
    by_conn: dict[int, list[Attachment]] = field(default_factory=dict)
    processes: dict[int, list[Process]] = field(default_factory=dict)

    def process(self, conn: int) -> dict[str, Any] | None:
        """The connection's process as a record; other claims listed as conflicts."""
        found = self.processes.get(conn)
        if not found:
            return None
        record = found[0].to_record()
        others = [p.to_record() for p in found[1:] if p.pid != found[0].pid]
        if others:
            record["conflicts"] = others
        return record

    def annotate(self, record: dict[str, Any], conn: int) -> None:
        """Add `process` and `events` to a connection's JSON record. A process the capture
        itself recorded stays first; a log that names another pid is listed as a conflict,
        one that names the same pid fills in the name."""
        found = self.process(conn)
        if found is not None:
            mine = record.get("process")
            if mine is None:
                record["process"] = found
            elif mine["pid"] == found["pid"]:
                if mine.get("name") is None:
                    mine["name"] = mine["display"] = found["name"]
                mine["image"] = found["image"]
            else:
                mine.setdefault("conflicts", []).append(found)
        record["events"] = [event_record(a) for a in self.by_conn.get(conn, [])]


#: Given a connection id, the process an event log names for it.
LogProcess = Callable[[int], dict[str, Any] | None]


def process_record(conv: Conversation, log: LogProcess | None = None) -> dict[str, Any] | None:
    """The connection's process: the one the capture recorded, else the one a log names."""
    if conv.processes:
        return conv.processes[0].to_record()
    return log(conv.id) if log is not None else None


def event_record(a: Attachment) -> dict[str, Any]:
    e = a.event
    return {
        "ts": format_time(a.ts_ns),
        "logged": format_time(e.ts_ns),
        "provider": e.provider,
        "event_id": e.event_id,
        "record_id": e.record_id,
        "computer": e.computer,
        "summary": describe(a),
        "conn": a.conn,
        "reason": a.reason,
        "frame": a.frame,
        "fields": e.fields,
    }


def describe(a: Attachment) -> str:
    """One line saying what the event says, in our words."""
    e, f = a.event, a.facts
    if isinstance(f, SchannelFacts):
        head = f"Schannel {e.event_id}"
        if f.event_id in (ALERT_GENERATED, ALERT_RECEIVED) and f.alert is not None:
            verb = "generated (sent)" if f.event_id == ALERT_GENERATED else "received"
            text = f"{head}: fatal alert {f.alert} ({alert_name(f.alert)}) {verb}"
        else:
            text = f"{head} {schannel_event_name(e.event_id) or ''}".rstrip()
            if f.protocol:
                text += f" {f.protocol}"
            if f.cipher is not None:
                text += f" cipher 0x{f.cipher:04X}"
        if f.state is not None:
            text += f", state {f.state}" + _state_name(f.state)
        if f.error_code is not None:
            text += f", 0x{f.error_code & 0xFFFFFFFF:08X}"
            name = hresult_name(f.error_code)
            text += f" {name}" if name else ""
        if f.role:
            text += f", local side {f.role}"
        if f.target:
            text += f", target {f.target}"
        return text
    if isinstance(f, NetworkFacts):
        what = {
            "sysmon": "Sysmon 3 network connection",
            "wfp": f"WFP {e.event_id} connection {'permitted' if f.allowed else 'BLOCKED'}",
        }
        arrow = "→" if f.outbound else "←" if f.outbound is False else "↔"
        return (f"{what[f.origin]}: {f.process_name or '?'} (pid {f.pid}) {f.protocol} "
                f"{_ep(f.ip_a, f.port_a)} {arrow} {_ep(f.ip_b, f.port_b)}")  # fmt: skip
    return generic_summary(e)


def _state_name(state: int) -> str:
    """' (RemoteCert_SigAlg)', with a caveat when the community name is not corroborated."""
    found = error_state(state)
    if found is None:
        return ""
    name, confidence = found
    if confidence.startswith("high"):
        return f" ({name})"
    if confidence.startswith("medium"):
        return f" ({name}, name likely)"
    return f" ({name}, name unconfirmed)"


def _apart(delta_ns: int) -> str:
    if delta_ns < NS // 10:
        return f"{delta_ns / 1e6:.1f} ms apart"
    return f"{delta_ns / NS:.3f} s apart"


def generic_summary(event: LogEvent) -> str:
    """Provider, id and the first line of the rendered message, when the log has one."""
    message = event.fields.get("Message", "").strip().splitlines()
    return f"{event.provider} {event.event_id}" + (f": {message[0][:120]}" if message else "")


def _ep(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _norm_ip(text: str) -> str:
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower()


def _key(ip1: str, port1: int, ip2: str, port2: int) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(((_norm_ip(ip1), port1), (_norm_ip(ip2), port2))))


@dataclass(frozen=True, slots=True)
class _Fact:
    """A wire fact an event may be about: when, which frame, and a label for the reason."""

    ts_ns: int
    frame: int | None
    label: str
    strength: int
    #: Identifies the fact so that two events of one kind do not both claim it.
    ident: tuple[Any, ...]
    #: What else agreed, e.g. " (TargetName x equals the SNI)".
    note: str = ""


class _Conn:
    """What matching needs to know about one conversation."""

    def __init__(self, conv: Conversation, frame_time: FrameTime) -> None:
        self.conv = conv
        self.key = _key(conv.client.ip, conv.client.port, conv.server.ip, conv.server.port)
        self.client_ip = _norm_ip(conv.client.ip)
        self.server_ip = _norm_ip(conv.server.ip)

        def at(frame: int | None, default: int) -> int:
            t = frame_time(frame) if frame is not None else None
            return t if t is not None else default

        self.at = at
        tls = conv.tls
        self.sni = (tls.sni or "").lower() if tls is not None else ""
        self.is_tls = tls is not None and tls.is_tls

    def sender_ip(self, role: str) -> str:
        return self.client_ip if role == "client" else self.server_ip


def _target_fits(target: str | None, conn: _Conn) -> tuple[bool, str]:
    if not target or not conn.sni:
        return True, ""
    if target.lower().rstrip(".") == conn.sni.rstrip("."):
        return True, f" (TargetName {target} equals the SNI)"
    return False, ""


def _role_fits(role: str | None, conn: _Conn, local: set[str]) -> bool:
    """Whether the event's local role agrees with which end of the connection is local."""
    if role is None or not local:
        return True
    mine = conn.client_ip if role == "client" else conn.server_ip
    theirs = conn.server_ip if role == "client" else conn.client_ip
    if mine in local or theirs not in local:
        return True
    return mine == theirs


def _schannel_facts(f: SchannelFacts, conn: _Conn, local: set[str]) -> list[_Fact]:
    """The wire facts of `conn` that Schannel event `f` may be about."""
    conv, tls = conn.conv, conn.conv.tls
    if tls is None or not conn.is_tls:
        return []
    fits, target_note = _target_fits(f.target, conn)
    if not fits or not _role_fits(f.role, conn, local):
        return []
    s = tls.session
    out: list[_Fact] = []
    eid = f.event_id
    if eid in (ALERT_GENERATED, ALERT_RECEIVED) and f.alert is not None:
        for alert in tls.alerts:
            sender = conn.sender_ip(alert.role)
            receiver = conn.sender_ip("server" if alert.role == "client" else "client")
            if local and sender != receiver:
                # The event's side must be the alert's sender (36888) or receiver (36887).
                side = sender if eid == ALERT_GENERATED else receiver
                other = receiver if eid == ALERT_GENERATED else sender
                if side not in local and other in local:
                    continue
            if alert.description == f.alert:
                strength, label = EXACT, f"alert {f.alert} from the {alert.role}"
            elif alert.description is None and alert.likely != "close_notify":
                strength, label = WEAK, f"an encrypted alert from the {alert.role}"
            else:
                continue
            out.append(_Fact(conn.at(alert.frame, conv.end_ns), alert.frame, label, strength,
                             (conv.id, "alert", alert.frame, eid), target_note))  # fmt: skip
    elif eid == HANDSHAKE_COMPLETED:
        if not tls.session.established:
            return []
        same_version = (f.protocol or "").replace("TLSv", "TLS ") == (tls.version or "")
        same_cipher = f.cipher is not None and f.cipher == s.cipher
        if (f.protocol and not same_version) or (f.cipher is not None and not same_cipher):
            return []
        frame = s.server_hello_frame
        out.append(_Fact(conn.at(frame, conv.start_ns), frame,
                         f"a completed {tls.version} handshake with {tls.cipher}",
                         EXACT if same_version and same_cipher else WEAK,
                         (conv.id, "handshake", eid), target_note))  # fmt: skip
    elif eid == NO_COMMON_CIPHER:
        if s.server_hello is not None or conv.outcome not in ("failed", "aborted"):
            return []
        server_alert = next((a for a in tls.alerts if a.role == "server"), None)
        frame = server_alert.frame if server_alert else s.client_hello_frame
        exact = server_alert is not None and server_alert.description in (40, 71)
        out.append(_Fact(conn.at(frame, conv.start_ns), frame,
                         "a ClientHello the server refused", EXACT if exact else WEAK,
                         (conv.id, "refused", eid)))  # fmt: skip
    elif eid in SERVER_CERT_EVENTS:
        if not tls.certificates or conv.outcome not in ("failed", "aborted"):
            return []
        client_alert = next((a for a in tls.alerts if a.role == "client"), None)
        frame = client_alert.frame if client_alert else conv.end_frame
        label = "the client gave up after the server's certificates"
        strength = EXACT if client_alert else WEAK
        out.append(_Fact(conn.at(frame, conv.end_ns), frame, label, strength,
                         (conv.id, "server-cert", eid), target_note))  # fmt: skip
    elif eid == CLIENT_CERT_VALIDATION or eid in CLIENT_CERT_MAPPING:
        if s.client_certificate_frame is None:
            return []
        frame = s.client_certificate_frame
        out.append(_Fact(conn.at(frame, conv.start_ns), frame, "the client's certificate",
                         EXACT if tls.client_certificates else WEAK,
                         (conv.id, "client-cert", eid)))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class _Candidate:
    strength: int
    delta: int
    event: int
    conn: int
    fact: _Fact | None
    reason: str


class _Matcher:
    def __init__(self, conversations: Sequence[Conversation], events: Sequence[LogEvent],
                 frame_time: FrameTime) -> None:  # fmt: skip
        self.conns = [_Conn(c, frame_time) for c in conversations]
        self.by_key: dict[tuple[tuple[str, int], ...], list[_Conn]] = {}
        for conn in self.conns:
            self.by_key.setdefault(conn.key, []).append(conn)
        self.events = list(events)
        self.facts = [facts(e) for e in self.events]
        # Addresses known to be this machine's, from events that say which end is local.
        self.local: set[str] = set()
        for f in self.facts:
            if isinstance(f, NetworkFacts) and f.local is not None:
                self.local.add(_norm_ip(f.ip_a if f.local == "a" else f.ip_b))

    def pairs(self, index: int, skew: int | None) -> tuple[list[_Candidate], str]:
        """Candidate connections for event `index`; with skew None, ignore time (for the
        skew estimate). The string says why there is none."""
        event, f = self.events[index], self.facts[index]
        out: list[_Candidate] = []
        if isinstance(f, NetworkFacts):
            if f.protocol not in ("tcp", "6"):
                return [], f"{f.protocol or 'this protocol'}: tlslens follows TCP connections only"
            conns = self.by_key.get(_key(f.ip_a, f.port_a, f.ip_b, f.port_b), [])
            for conn in conns:
                delta = conn.conv.start_ns - (f.when_ns + (skew or 0))
                where = (f"{abs(delta) / NS:.3f} s {'after' if delta < 0 else 'before'} the "
                         "connection's first packet") if skew is not None else ""  # fmt: skip
                out.append(_Candidate(TUPLE, abs(delta), index, conn.conv.id, None,
                                      f"same addresses and ports as connection "
                                      f"{conn.conv.id}, {where}".rstrip(", ")))  # fmt: skip
            return out, "no connection in the capture has these addresses and ports"
        if isinstance(f, SchannelFacts):
            if not f.tied_to_connection:
                return [], ("a credential event: it happens before a handshake and names no "
                            "peer")  # fmt: skip
            when = event.ts_ns + (skew or 0)
            for conn in self.conns:
                for fact in _schannel_facts(f, conn, self.local):
                    delta = abs(fact.ts_ns - when)
                    window = WINDOW_NS if fact.strength > WEAK else WEAK_WINDOW_NS
                    if skew is not None and delta > window:
                        continue
                    out.append(_Candidate(fact.strength, delta, index, conn.conv.id, fact,
                                          f"{fact.label} in connection {conn.conv.id}"
                                          f"{fact.note}, {_apart(delta)}"))  # fmt: skip
            if skew is not None and not out:
                return [], (f"no connection shows a matching fact within {WINDOW_NS // NS} s "
                            "(if the clocks differ, try --skew auto)")  # fmt: skip
            return out, ""
        return [], "not about one connection"


def correlate(conversations: Sequence[Conversation], events: Iterable[LogEvent],
              frame_time: FrameTime, skew_ns: int | None = 0) -> Correlation:  # fmt: skip
    """Attach each event to the connection it most likely belongs to. With `skew_ns` None,
    the clock offset is estimated first (see `estimate_skew`) and its note kept."""
    matcher = _Matcher(conversations, list(events), frame_time)
    if skew_ns is not None:
        return _join(matcher, skew_ns)
    estimate = _estimate(matcher)
    result = _join(matcher, estimate.offset_ns or 0)
    result.skew_note = estimate.note
    return result


def _join(matcher: _Matcher, skew_ns: int) -> Correlation:
    candidates: list[_Candidate] = []
    why_not: dict[int, str] = {}
    for index in range(len(matcher.events)):
        found, reason = matcher.pairs(index, skew_ns)
        candidates.extend(found)
        if not found:
            why_not[index] = reason
    # Strongest and closest first; each event goes once, and each wire fact to one event of
    # each kind (two 36888s for alert 48 need two alerts 48 on the wire).
    candidates.sort(key=lambda c: (-c.strength, c.delta, c.event))
    chosen: dict[int, _Candidate] = {}
    used: set[tuple[Any, ...]] = set()
    for cand in candidates:
        if cand.event in chosen or (cand.fact is not None and cand.fact.ident in used):
            continue
        chosen[cand.event] = cand
        if cand.fact is not None:
            used.add(cand.fact.ident)
    result = Correlation(skew_ns=skew_ns, attachments=[])
    for index, event in enumerate(matcher.events):
        f = matcher.facts[index]
        pick = chosen.get(index)
        ts = event.ts_ns + skew_ns
        if pick is None:
            reason = why_not.get(index, "another event already matched the same wire facts")
            result.attachments.append(Attachment(event, f, ts, None, reason))
            continue
        frame = pick.fact.frame if pick.fact is not None else None
        attachment = Attachment(event, f, ts, pick.conn, pick.reason, frame)
        result.attachments.append(attachment)
        result.by_conn.setdefault(pick.conn, []).append(attachment)
        if isinstance(f, NetworkFacts) and (f.pid is not None or f.image):
            source = f"sysmon {event.event_id}" if f.origin == "sysmon" else \
                f"wfp {event.event_id}"  # fmt: skip
            result.processes.setdefault(pick.conn, []).append(
                Process(f.pid, f.process_name, f.image, source, "exact (4-tuple)")
            )
    for attached in result.by_conn.values():
        attached.sort(key=lambda a: a.ts_ns)
    return result


def estimate_skew(conversations: Sequence[Conversation], events: Iterable[LogEvent],
                  frame_time: FrameTime) -> SkewEstimate:  # fmt: skip
    """The offset to add to the log's times to reach the capture's clock: the one that most
    events matched by content alone (4-tuple, alert code, version and cipher) agree on."""
    return _estimate(_Matcher(conversations, list(events), frame_time))


def _estimate(matcher: _Matcher) -> SkewEstimate:
    starts = {c.conv.id: c.conv.start_ns for c in matcher.conns}
    pairs: list[tuple[int, int]] = []  # (offset, event index)
    for index, event in enumerate(matcher.events):
        found, _ = matcher.pairs(index, None)
        f = matcher.facts[index]
        for cand in found:
            if cand.strength < EXACT:
                continue
            if cand.fact is not None:
                pairs.append((cand.fact.ts_ns - event.ts_ns, index))
            elif isinstance(f, NetworkFacts):
                pairs.append((starts[cand.conn] - f.when_ns, index))
        if len(pairs) > MAX_SKEW_PAIRS:
            break
    if not pairs:
        return SkewEstimate(None, 0, "no event matches a connection by content; the clock "
                            "offset cannot be estimated (0 used)")  # fmt: skip
    pairs.sort()
    support, offset = _densest(pairs)
    events_total = len({i for _, i in pairs})
    # A second cluster, clear of the first, with as much support makes the answer ambiguous.
    rival, _ = _densest([p for p in pairs if abs(p[0] - offset) > 2 * CLUSTER_NS])
    if (support < 2 and events_total > 1) or rival >= support > 1:
        return SkewEstimate(None, support, "the events that match connections agree on no "
                            "single clock offset; pass --skew explicitly (0 used)")  # fmt: skip
    if support < 2:
        return SkewEstimate(offset, support, f"clock offset {offset / NS:+.3f} s estimated "
                            "from a single event; check it")  # fmt: skip
    return SkewEstimate(offset, support, f"clock offset {offset / NS:+.3f} s, agreed by "
                        f"{support} of {events_total} matching events")  # fmt: skip


def _densest(pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """(distinct events, median offset) of the CLUSTER_NS-wide window of sorted (offset,
    event) pairs that holds the most distinct events."""
    best = (0, 0, -1)  # (distinct events, first, last)
    counts: dict[int, int] = {}
    start = 0
    for end, (offset, index) in enumerate(pairs):
        counts[index] = counts.get(index, 0) + 1
        while offset - pairs[start][0] > CLUSTER_NS:
            gone = pairs[start][1]
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
            start += 1
        if len(counts) > best[0]:
            best = (len(counts), start, end)
    support, lo, hi = best
    if support == 0:
        return 0, 0
    window = [o for o, _ in pairs[lo : hi + 1]]
    return support, window[len(window) // 2]


def parse_skew(text: str) -> int | None:
    """'+2.5s', '-300ms', '1h', '0' -> nanoseconds; 'auto' -> None. Raises ValueError."""
    t = text.strip().lower()
    if t == "auto":
        return None
    units = {"ms": 1_000_000, "us": 1_000, "ns": 1, "s": NS, "m": 60 * NS, "h": 3600 * NS}
    number, scale = t, NS
    # Longest suffix first, so that "ms" is not read as "s".
    for suffix in sorted(units, key=len, reverse=True):
        if t.endswith(suffix):
            number, scale = t[: -len(suffix)], units[suffix]
            break
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a time offset (e.g. +2.5s, -300ms, 1h, auto)") \
            from None  # fmt: skip
    return round(value * scale)
