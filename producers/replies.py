"""Correlation of the hub's outcomes with the requests awaiting them, by request id.

The outcome of an `Enrolment` or an `AttributeRequest` arrives on `agency.<id>.in`, read by the
agency's inbox (`consumers.Inbox`), which hands every `EnrolmentConfirmed`, `AttributeResponse`,
`RequestDenied` and `ProviderTimeout` to `resolve`. A caller registers its request id *before*
publishing, so an outcome can never arrive unseen. An outcome nobody awaits (a duplicate under
at-least-once delivery, or one arriving after its caller timed out) is reported by `resolve`
returning False.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from schemas.models import AttributeResponse, EnrolmentConfirmed, ProviderTimeout, RequestDenied

Reply = EnrolmentConfirmed | AttributeResponse | RequestDenied | ProviderTimeout
REPLY_TYPES: tuple[type[Reply], ...] = (
    EnrolmentConfirmed,
    AttributeResponse,
    RequestDenied,
    ProviderTimeout,
)


class PendingReplies:
    """Futures of the requests in flight, keyed by request id."""

    def __init__(self) -> None:
        self._waiting: dict[UUID, asyncio.Future[Reply]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def expect(self, request_id: UUID) -> asyncio.Future[Reply]:
        """Register a request id; the returned future completes with its outcome."""
        if request_id in self._waiting:
            raise ValueError(f"request {request_id} is already awaited")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        return future

    def forget(self, request_id: UUID) -> None:
        """Stop awaiting a request (after its caller timed out or gave up)."""
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.cancel()

    def resolve(self, reply: Reply) -> bool:
        """Complete the future awaiting `reply.request_id`; False when nobody awaits it."""
        future = self._waiting.pop(reply.request_id, None)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True
