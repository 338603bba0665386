"""The agency SDK, sending side: what an agency writes to `agency.<id>.out`.

    from producers import AgencyProducer, Connection

    hub_key = HubSealingKey.parse(os.environ["RENKEI_HUB_SEALING_KEY"])  # renkei keys public
    async with AgencyProducer("mun-13101", Connection.from_environment(), hub_key=hub_key) as out:
        moved = Relocation(metadata=out.metadata(), person_code=code, ...)
        await out.publish_event(moved)
        outcome = await out.request_attributes(
            person_code=code, provider="mun-27100", purpose="national_health_insurance_premium",
            legal_basis_row="hi-01", attributes=["taxable_income"],
            trigger_event_id=moved.metadata.message_id,
        )

Outcomes of requests arrive on `agency.<id>.in`; run the producer inside `consumers.Agency`
(or feed `producer.replies` from your own consumer) so they are correlated. Delivery guarantee:
see `producers.publisher`. Nothing here imports the hub: the contract is `schemas`.
"""

from producers.client import (
    DEFAULT_TIMEOUT,
    EVENT_TYPES,
    HUB_SEALING_KEY_ENV,
    AgencyProducer,
    Event,
)
from producers.connection import Connection
from producers.errors import (
    DeliveryFailed,
    NoSealingKey,
    NotStarted,
    ProducerError,
    ReplyTimeout,
    WrongSender,
)
from producers.publisher import Delivery, Publisher, new_metadata
from producers.replies import REPLY_TYPES, PendingReplies, Reply

__all__ = [
    "DEFAULT_TIMEOUT",
    "EVENT_TYPES",
    "HUB_SEALING_KEY_ENV",
    "REPLY_TYPES",
    "AgencyProducer",
    "Connection",
    "Delivery",
    "DeliveryFailed",
    "Event",
    "NoSealingKey",
    "NotStarted",
    "PendingReplies",
    "ProducerError",
    "Publisher",
    "Reply",
    "ReplyTimeout",
    "WrongSender",
    "new_metadata",
]
