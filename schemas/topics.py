"""Topic names and delivery headers: part of the contract every agency codes against.

The topic authenticates the sender (DOMAIN.md §4): only agency X may write `agency.X.out`, and
only the hub writes `agency.X.in`, which only X may read.
"""

from __future__ import annotations

PROVISION_RECORDS = "renkei.provision-records"  # 情報提供等記録: read by the portal and ppc
DEAD_LETTERS = "renkei.dead-letters"  # bad input with its original bytes, for operators
CONTROL = "renkei.control"  # legal-basis table, rollout, suspensions, registrations
CONTROL_ACKS = "renkei.control.acks"  # each hub replica: applied or refused, per control record
OVERSIGHT_SIGNALS = "renkei.oversight.signals"  # anomaly signals, written by the oversight body

# Every message the hub delivers on agency.<id>.in carries this header: "<stream>:<n>", where
# n counts 1, 2, 3 … per stream without gaps. A stream is one hub partition; an agency that
# sees n jump within a stream has missed a message.
SEQUENCE_HEADER = "renkei-seq"
# metadata.sender of what the hub itself says on `agency.<id>.in` (outcomes, queries); events
# it fans out keep their publisher's metadata. That only the hub writes an inbox is the
# broker's ACL; the SDK refuses, besides, what no honest hub would send.
HUB_SENDER = "hub"


def outbound(agency: str) -> str:
    """The topic agency `agency` writes to (and only it)."""
    return f"agency.{agency}.out"


def inbound(agency: str) -> str:
    """The topic only the hub writes to and only `agency` reads."""
    return f"agency.{agency}.in"


def parse_sequence(header: bytes) -> tuple[int, int]:
    """(stream, n) from a SEQUENCE_HEADER value; ValueError if it is not of that form."""
    stream, _, n = header.decode("ascii").partition(":")
    return int(stream), int(n)
