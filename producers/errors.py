"""Errors of the agency SDK's sending side, named for whose fault they are.

Messages name the message type, the topic or the request id, never a number, a code or a value.
A denial by the hub is not an error: it is a `RequestDenied` value returned to the caller.
"""

from __future__ import annotations


class ProducerError(Exception):
    """Base of the errors raised by `producers`."""


class NotStarted(ProducerError):
    """The caller used a client before `start()` (or after `stop()`)."""


class WrongSender(ProducerError):
    """The caller built a message whose metadata.sender is not this agency (the hub would
    dead-letter it: a topic authenticates its writer)."""


class DeliveryFailed(ProducerError):
    """The broker did not acknowledge the record within the delivery timeout (infrastructure).

    The record may or may not have been written; see `producers.publisher` for when publishing
    the same message again is safe. The Kafka error is kept in `__cause__`.
    """


class ReplyTimeout(ProducerError):
    """No outcome arrived for a request within the caller's timeout (the hub or the network).

    Requests are idempotent by request id at the hub: sending the same request again (same
    `request_id`) gets the recorded outcome, not a second execution.
    """

    def __init__(self, message_type: str, request_id: object, timeout: float) -> None:
        self.request_id = request_id
        self.timeout = timeout
        super().__init__(f"no outcome for {message_type} {request_id} within {timeout:g} s")


class ConnectionSettingsError(ProducerError):
    """The client's Kafka settings are missing or invalid (the operator's configuration): the
    message names the RENKEI_KAFKA_* setting to set."""


class NoSealingKey(ProducerError):
    """The caller sends an individual number but configured no hub sealing key (the caller's
    fault): numbers travel only sealed to the hub's public key (`renkei keys public`)."""
