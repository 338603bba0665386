"""Provider timeouts (DOMAIN.md §12): every request ends in exactly one outcome.

A routed request waits for its provider's answer until its reply token expires: the decision
time plus `Keyring.token_ttl_seconds`, which is the hub's provider timeout (one deadline, so an
answer the token still admits is never late, and a late one is refused by its token too). Past
the deadline the request times out: the requester receives `ProviderTimeout`, a provision
record says so, and an answer that comes after that is late (`check_answer` refuses it).

The clock is the time the shell passes in: stream time while records flow (so it is
deterministic under test and replay), wall time when the stream is idle.
"""

from __future__ import annotations

import heapq

from hub.core.state import HubState
from hub.core.tokens import ReplyTicket


def index_waiting(state: HubState) -> None:
    """Rebuild the index of waiting requests from `processed` (after a restore)."""
    state.waiting = [
        (decided.at, request_id, requester)
        for (requester, request_id), decided in state.processed.items()
        if decided.ticket is not None and decided.reply is None
    ]
    heapq.heapify(state.waiting)


def timed_out(state: HubState, now: int, timeout_seconds: int) -> list[ReplyTicket]:
    """The requests whose provider did not answer by their deadline, now past, oldest first.
    They leave the index; the shell gives each its outcome (`record_reply`) in the same step,
    so none is returned twice. A request answered (or timed out) meanwhile is skipped."""
    waiting, processed = state.waiting, state.processed
    expired: list[ReplyTicket] = []
    while waiting and now > waiting[0][0] + timeout_seconds:
        at, request_id, requester = heapq.heappop(waiting)
        decided = processed.get((requester, request_id))
        if decided is None or decided.reply is not None or decided.ticket is None:
            continue
        if decided.at == at:
            expired.append(decided.ticket)
    return expired
