"""A signed control command is applied once: a copy published again is refused.

A signature proves who made a command, not that it is new: whoever can append to the control
topic (a leaked operator credential, an administrator's slip) could publish a genuine signed
"advance the rollout" or "lift the suspension of X" a second time and every replica would apply
it again. The signed bytes of every command carry a unique message id and the time it was
signed (its metadata), so a replica applies a command only if

- no signed command with the same message id came before it on the control topic (the topic is
  kept forever and every replica reads it from its beginning, so every replica knows every id
  and refuses the same copies: `REPLAYED`), and
- it reached the topic within `FRESHNESS` after it was signed and not more than `CLOCK_SKEW`
  before (the record's timestamp, which the control topic sets on append: LogAppendTime), so a
  command signed long ago is refused even where the topic's early history is gone: `STALE`.

Pure: the caller passes the record's time; no clock here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

FRESHNESS = timedelta(minutes=10)  # signed, then published: a command-line's retries fit well
CLOCK_SKEW = timedelta(minutes=5)  # an operator's clock ahead of the broker's (DOMAIN.md §14)


class ReplayRefusal(StrEnum):
    REPLAYED = "replayed"
    STALE = "stale"


@dataclass
class ControlHistory:
    """The message ids of the signed commands seen so far on the control topic."""

    seen: set[UUID] = field(default_factory=set)

    def admit(self, message_id: UUID, signed_at: datetime, appended_at: datetime) -> (
        ReplayRefusal | None
    ):  # fmt: skip
        """None if the command is new and fresh (and remember its id); else why not."""
        if message_id in self.seen:
            return ReplayRefusal.REPLAYED
        self.seen.add(message_id)
        if appended_at - signed_at > FRESHNESS or signed_at - appended_at > CLOCK_SKEW:
            return ReplayRefusal.STALE
        return None
