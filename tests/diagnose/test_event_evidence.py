"""How joined log events change findings: evidence beside the wire facts, remedies from the
Schannel state, and a finding of their own when the wire shows no failure."""

from __future__ import annotations

import pytest
from conftest import CAPTURES

from tlslens import Analysis
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import Attachment, Correlation
from tlslens.diagnose import Context, diagnose
from tlslens.eventlog import LogEvent
from tlslens.eventlog.facts import facts

PCAP = CAPTURES / "failures.pcap"
pytestmark = pytest.mark.skipif(not PCAP.exists(), reason="failures.pcap absent")


@pytest.fixture(scope="module")
def convs() -> list[Conversation]:
    return list(Analysis(str(PCAP)).conversations())


def _joined(conv: Conversation, event_id: int, fields: dict[str, str]) -> Correlation:
    event = LogEvent(conv.start_ns, "test.xml", "Schannel", event_id, 1, "win", fields)
    attachment = Attachment(event, facts(event), conv.start_ns, conv.id, "test join")
    return Correlation(0, [attachment], by_conn={conv.id: [attachment]})


def test_schannel_failure_on_a_clean_connection(convs: list[Conversation]) -> None:
    # Connection 12 (TLS 1.0) completed on the wire; its findings are warnings only.
    conv = convs[12]
    assert conv.outcome == "established"
    plain = diagnose(conv, Context())
    assert plain and all(f.severity != "error" for f in plain)
    ctx = Context(correlation=_joined(conv, 36888, {"AlertDesc": "40", "ErrorState": "1205"}))
    findings = diagnose(conv, ctx)
    extra = [f for f in findings if f.code == "event-log-error"]
    assert len(extra) == 1 and extra[0].severity == "error"
    assert "fatal alert 40 (handshake_failure)" in extra[0].summary
    assert "SrvCliHello_MismatchAlg" in extra[0].remedy
    assert any("test join" in e.text for e in extra[0].evidence)


def test_completed_handshake_event_is_only_evidence(convs: list[Conversation]) -> None:
    conv = convs[12]
    ctx = Context(correlation=_joined(conv, 36880, {"Type": "client", "Protocol": "TLS 1.0"}))
    findings = diagnose(conv, ctx)
    assert [f.code for f in findings] == [f.code for f in diagnose(conv, Context())]
    assert any("Schannel 36880" in e.text for e in findings[0].evidence)


def test_evidence_goes_to_the_first_error(convs: list[Conversation]) -> None:
    conv = convs[0]  # the SHA-1 chain the client rejected with bad_certificate
    ctx = Context(correlation=_joined(conv, 36888, {"AlertDesc": "42", "ErrorState": "252"}))
    findings = diagnose(conv, ctx)
    first_error = next(f for f in findings if f.severity == "error")
    assert any("state 252 (RemoteCert_SigAlg)" in e.text for e in first_error.evidence)
    assert "RemoteCert_SigAlg" in first_error.remedy
    assert "event-log-error" not in [f.code for f in findings]
