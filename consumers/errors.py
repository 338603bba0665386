"""Errors of the agency SDK's receiving side, named for whose fault they are.

Undecodable input is not an error here: the inbox logs and counts it and moves on, so one bad
record never stops an agency. Messages never contain a number, a code or a value.
"""

from __future__ import annotations


class ConsumerError(Exception):
    """Base of the errors raised by `consumers`."""


class HandlerFailed(ConsumerError):
    """The agency's own handler raised (the agency's fault); the cause is in `__cause__`.

    The inbox stops without committing the record's offset, so a restarted agency gets the
    record again (at-least-once toward the handler).
    """


class InvalidAnswer(ConsumerError):
    """A query handler returned a value that is not of the catalogue's type for its attribute
    (the agency's fault). Sending it would be an over-provision the hub records against the
    provider, so the SDK refuses before anything leaves the agency."""


class HandlerConflict(ConsumerError):
    """Two handlers were registered for the same thing (the caller's fault)."""
