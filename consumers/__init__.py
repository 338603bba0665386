"""The agency SDK, receiving side, and the `Agency` adapter that ties both sides together.

    from consumers import Agency, AgencyConfig

    agency = Agency(AgencyConfig("jps", Connection.from_environment()))

    @agency.query("pension_benefit_amount")
    async def pension(query: AttributeQuery) -> Values:
        return {"pension_benefit_amount": amounts.get(query.person_code)}

    @agency.on(IncomeDetermined)
    async def income_final(event: IncomeDetermined) -> None: ...

    await agency.run()

Guarantees: at-least-once toward handlers (commit after handling; see `consumers.inbox`),
read_committed, one consumer group per agency; gaps in the hub's delivery sequence are logged,
counted (`renkei_agency_sequence_gaps_total`) and passed to `on_gap` callbacks, without any
personal data. Nothing here imports the hub: the contract is `schemas`.
"""

from consumers.agency import Agency, AgencyConfig
from consumers.errors import ConsumerError, HandlerConflict, HandlerFailed, InvalidAnswer
from consumers.handlers import Handlers, QueryHandler, Values
from consumers.inbox import Inbox, default_group_id
from consumers.sequence import Gap, GapDetector, Observation

__all__ = [
    "Agency",
    "AgencyConfig",
    "ConsumerError",
    "Gap",
    "GapDetector",
    "HandlerConflict",
    "HandlerFailed",
    "Handlers",
    "Inbox",
    "InvalidAnswer",
    "Observation",
    "QueryHandler",
    "Values",
    "default_group_id",
]
