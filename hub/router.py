"""Router: applies the decision core to the hub-internal topic, one partition at a time.

Each input partition owns the state of the persons (and blind-index entries) keyed to it. The
router decides, produces queries, responses, denials, event deliveries, provision records and
its own state changes (to the compacted changelog, same partition number) — all in the
transaction that commits the input offsets (hub.stage). A newly assigned partition is rebuilt
from the changelog before its first record is processed, so no local file is ever the only copy.

Everything about what is allowed lives in `hub.core`; this module only turns decisions into
records and keeps per-partition state where Kafka can rebuild it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from hub import metrics
from hub.audit import UNKNOWN_SUBJECT, ChainHead, seal
from hub.changelog import DECIDED, KEY_HEAD, key_decided, pack_decided, restore, value_of
from hub.changelog import key_number as k_number
from hub.changelog import key_person as k_person
from hub.changelog import key_revoked as k_revoked
from hub.changelog import key_sequence as k_sequence
from hub.changelog import key_token as k_token
from hub.control import ControlState
from hub.core import (
    Deny,
    Enrolled,
    HubState,
    Keyring,
    Route,
    TokenRefused,
    apply,
    check_answer,
    decide,
    decide_indexed_enrolment,
    plan_event,
    prune,
    record_answer,
    record_decision,
)
from hub.core.decision import kind_of
from hub.core.events import number_claim_refusal
from hub.core.state import AddHolder, Change, ChangeNumber
from hub.deadletters import DeadLetterReason, dead_letter, parse_source
from hub.envelope import Envelope, Kind
from hub.stage import Output
from hub.topics import PERSONS, PROVISION_RECORDS, STATE
from producers.connection import kafka_options
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode, encode
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    EnrolmentConfirmed,
    Message,
    Metadata,
    Notice,
    NoticeAcknowledged,
    Outcome,
    ProvisionRecord,
    RequestDenied,
)
from schemas.topics import SEQUENCE_HEADER, inbound
from schemas.vocabulary import DenialReason, Sector

log = get_logger("hub.router")
HUB = "hub"
PORTAL = "portal"
PRUNE_EVERY_S = 3_600  # forget what can no longer matter, at most hourly (message time)
KEEP_REQUEST_IDS_S = 8 * 86_400  # idempotency horizon: longer than a reply token lives


@dataclass
class PartitionState:
    """One router partition's state: its persons, its chain head, its delivery counters."""

    partition: int
    hub: HubState
    head: ChainHead = field(default_factory=ChainHead)
    sequences: dict[str, int] = field(default_factory=dict)
    dirty: set[bytes] = field(default_factory=set)  # changelog keys changed in this batch
    decided: list[tuple[str, int]] = field(default_factory=list)  # request ids, this batch
    decided_batches: dict[bytes, int] = field(default_factory=dict)  # changelog key -> time
    pruned_at: float = 0.0


def _meta(now: datetime, correlation: uuid.UUID | None) -> Metadata:
    return Metadata(
        message_id=uuid.uuid4(), correlation_id=correlation, occurred_at=now, sender=HUB
    )


class Router:
    """The router stage's processor."""

    def __init__(
        self,
        bootstrap: str,
        keys: Keyring,
        control: ControlState,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.bootstrap = bootstrap
        self.keys = keys
        self.control = control
        self.random_bytes = random_bytes
        self.partitions: dict[TopicPartition, PartitionState] = {}

    # --- state lifecycle -----------------------------------------------------------------

    def _new_state(self, partition: int) -> PartitionState:
        c = self.control
        # Global parts are shared by reference: a control message updates every partition.
        hub = HubState(agencies=c.agencies, suspended=c.suspended, rate_policy=c.rate_policy)
        return PartitionState(partition, hub)

    async def prepare(self, partition: TopicPartition) -> None:
        """Rebuild the partition's state from its changelog (committed records, to the end)."""
        ps = self._new_state(partition.partition)
        tp = TopicPartition(STATE, partition.partition)
        consumer = AIOKafkaConsumer(
            **kafka_options(self.bootstrap),
            enable_auto_commit=False,
            isolation_level="read_committed",
            group_id=None,
        )
        await consumer.start()
        restored = 0
        try:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=10_000)
                for record in batch.get(tp, []):
                    if record.key is not None:
                        restore(ps, record.key, record.value)
                        restored += 1
        finally:
            await consumer.stop()
        self.partitions[partition] = ps
        log.info(
            "partition state restored",
            partition=partition.partition,
            changelog_records=restored,
            persons=len(ps.hub.persons),
        )

    def drop(self, partition: TopicPartition) -> None:
        self.partitions.pop(partition, None)

    def _maybe_prune(self, ps: PartitionState, now: datetime) -> None:
        """Drop expired events, consents, proxies, request ids and used tokens, and write
        tombstones for them, so state and changelog do not grow without bound."""
        if now.timestamp() - ps.pruned_at < PRUNE_EVERY_S:
            return
        ps.pruned_at = now.timestamp()
        state = ps.hub
        tokens, persons = (
            set(state.used_tokens),
            dict(state.persons),
        )
        prune(state, now, self.control.table.max_window_seconds, KEEP_REQUEST_IDS_S)
        horizon = now.timestamp() - KEEP_REQUEST_IDS_S
        for key, at in list(ps.decided_batches.items()):
            if at < horizon:  # every request id in it is older still: all were pruned
                del ps.decided_batches[key]
                ps.dirty.add(key)
        for token in tokens - state.used_tokens.keys():
            ps.dirty.add(k_token(token))
        for person_id, record in persons.items():
            if state.persons.get(person_id) is not record:
                ps.dirty.add(k_person(person_id))

    # --- processing ----------------------------------------------------------------------

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        ps = self.partitions[partition]
        outputs: list[Output] = []
        for record in records:
            outputs.extend(self._one(ps, record))
        now = datetime.fromtimestamp(records[-1].timestamp / 1000, UTC)
        if ps.decided:
            key, at = key_decided(records[0].offset), int(now.timestamp())
            outputs.append(
                Output(STATE, pack_decided(at, ps.decided), key=key, partition=ps.partition)
            )
            ps.decided_batches[key] = at
            ps.decided.clear()
        self._maybe_prune(ps, now)
        for key in ps.dirty:
            outputs.append(Output(STATE, value_of(ps, key), key=key, partition=ps.partition))
        ps.dirty.clear()
        return outputs

    def _one(self, ps: PartitionState, record: ConsumerRecord[bytes, bytes]) -> Iterator[Output]:
        try:
            env = Envelope.from_bytes(record.value or b"")
        except ValueError:  # only the hub writes this topic: a bug, but never a stuck hub
            yield dead_letter(
                record.value,
                reason=DeadLetterReason.UNDECODABLE,
                detail="not a hub envelope",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                now=datetime.now(UTC),
            )
            return
        now = datetime.fromtimestamp(env.received_at_us / 1_000_000, UTC)
        match env.kind:
            case Kind.ENROL:
                yield from self._enrol(ps, env, now)
            case Kind.HOLDER:
                self._holder(ps, env)
            case Kind.CLAIM_INDEX:
                yield from self._claim_index(ps, env, now)
            case Kind.REVOKE_INDEX:
                assert env.number_index is not None
                ps.hub.revoked_numbers.add(env.number_index)
                ps.hub.numbers.pop(env.number_index, None)
                ps.dirty.update({k_revoked(env.number_index), k_number(env.number_index)})
            case Kind.MESSAGE:
                try:
                    message = decode(env.payload)
                except DecodeError as exc:  # ingress checked it; a schema rolled back?
                    yield self._dead(env, now, DeadLetterReason.UNDECODABLE, exc.reason.value)
                    return
                yield from self._message(ps, env, message, now)

    def _message(
        self, ps: PartitionState, env: Envelope, message: Message, now: datetime
    ) -> Iterator[Output]:
        match message:
            case AttributeRequest():
                yield from self._request(ps, message, now)
            case AttributeAnswer():
                yield from self._answer(ps, env, message, now)
            case Notice():
                yield from self._notice(ps, env, message, now)
            case NoticeAcknowledged():
                sender = getattr(message, "notice_sender", None)
                if sender is None or sender not in self.control.agencies:
                    yield self._dead(
                        env, now, DeadLetterReason.INVALID, "acknowledgement names no sender"
                    )
                else:
                    yield self._deliver(ps, sender, message)
            case _:
                yield from self._event(ps, env, message, now)

    # --- requests and answers ------------------------------------------------------------

    def _request(
        self, ps: PartitionState, request: AttributeRequest, now: datetime
    ) -> Iterator[Output]:
        state = ps.hub
        requester = request.metadata.sender
        if (requester, request.request_id.int) in state.processed:
            metrics.DUPLICATES.inc()  # one outcome and one record per request id, not two
            return
        decision = decide(request, state, self.control.table, self.control.rollout, self.keys, now)
        record_decision(state, requester, request.request_id, decision, now)
        ps.decided.append((requester, request.request_id.int))
        correlation = request.metadata.message_id
        if isinstance(decision, Route):
            metrics.OUTCOMES.labels("routed", "").inc()
            yield self._deliver(
                ps,
                decision.provider,
                AttributeQuery(
                    metadata=_meta(now, correlation),
                    person_code=decision.provider_code,
                    purpose=decision.purpose,
                    legal_basis_row=decision.row,
                    attributes=list(decision.attributes),
                    reply_token=decision.reply_token,
                ),
            )
            return
        metrics.OUTCOMES.labels("denied", decision.reason.value).inc()
        yield self._deliver(
            ps,
            requester,
            RequestDenied(
                metadata=_meta(now, correlation),
                request_id=request.request_id,
                reason=decision.reason,
                message=decision.message,
            ),
        )
        yield self._record(
            ps,
            now,
            request_id=request.request_id,
            requester=requester,
            provider=request.provider,
            purpose=request.purpose if decision.row is not None else None,
            sector=decision.sector,
            row=decision.row,
            table_version=decision.table_version,
            attributes=list(dict.fromkeys(request.attributes)),
            trigger=request.trigger_event_id,
            person_id=decision.person_id,
            proxy_id=decision.proxy_person_id,
            reason=decision.reason,
        )

    def _answer(
        self, ps: PartitionState, env: Envelope, answer: AttributeAnswer, now: datetime
    ) -> Iterator[Output]:
        checked = check_answer(answer, ps.hub, self.keys, now)
        if isinstance(checked, TokenRefused):
            # Undeliverable, and attribute values must not rest in a topic operators read:
            # the dead letter keeps the answer without its values (names stay, as not_held).
            stripped = answer.model_copy(
                update={
                    "values": [],
                    "not_held": [*answer.not_held, *(v.name for v in answer.values)],
                }
            )
            yield self._dead(
                replace(env, payload=encode(stripped)),
                now,
                DeadLetterReason.INVALID,
                f"reply token refused: {checked.why}; attribute values removed",
            )
            return
        record_answer(ps.hub, checked, self.keys)
        ticket = checked.ticket
        ps.dirty.add(k_token(ticket.request_id))
        metrics.OUTCOMES.labels("provided", "").inc()
        yield self._deliver(
            ps,
            ticket.requester,
            AttributeResponse(
                metadata=_meta(now, answer.metadata.message_id),
                request_id=ticket.request_id,
                person_code=self.keys.codes.encode(ticket.requester, ticket.person_id),
                provider=ticket.provider,
                values=list(checked.values),
                not_held=[*checked.not_held],
            ),
        )
        yield self._record(
            ps,
            now,
            request_id=ticket.request_id,
            requester=ticket.requester,
            provider=ticket.provider,
            purpose=ticket.purpose,
            sector=ticket.sector,
            row=ticket.row,
            table_version=ticket.table_version,
            attributes=[v.name for v in checked.values],
            trigger=ticket.trigger_event_id,
            person_id=ticket.person_id,
            proxy_id=ticket.proxy_person_id,
            reason=None,
            over_provided=[*checked.over_provided, *checked.ill_typed],
        )

    # --- enrolment and the blind index ---------------------------------------------------

    def _enrol(self, ps: PartitionState, env: Envelope, now: datetime) -> Iterator[Output]:
        assert env.request_id is not None
        request_id = uuid.UUID(env.request_id)
        result = decide_indexed_enrolment(
            request_id, env.sender, env.number_index, ps.hub, self.keys, self.random_bytes(16)
        )
        correlation = None if env.message_id is None else uuid.UUID(env.message_id)
        seen = (env.sender, request_id.int)
        if seen in ps.hub.processed:
            # A retried enrolment: answer a confirmation again (the code is the same), but
            # neither a second denial nor a second provision record.
            metrics.DUPLICATES.inc()
            if isinstance(result, Enrolled):
                yield self._deliver(
                    ps,
                    env.sender,
                    EnrolmentConfirmed(
                        metadata=_meta(now, correlation), request_id=request_id,
                        person_code=result.code,
                    ),
                )  # fmt: skip
            return
        ps.hub.processed[seen] = (int(now.timestamp()), DECIDED)
        ps.decided.append(seen)
        if isinstance(result, Enrolled):
            # The index lives here; the person may live in another partition: tell it there.
            ps.hub.numbers.setdefault(result.number_index, result.person_id)
            ps.dirty.add(k_number(result.number_index))
            yield self._deliver(
                ps,
                env.sender,
                EnrolmentConfirmed(
                    metadata=_meta(now, correlation), request_id=request_id, person_code=result.code
                ),
            )
            holder = Envelope(
                Kind.HOLDER,
                sender=env.sender,
                received_at_us=env.received_at_us,
                source=env.source,
                person_id=result.person_id,
                number_index=result.number_index,
            )
            yield Output(PERSONS, holder.to_bytes(), key=result.person_id)
            return
        metrics.OUTCOMES.labels("denied", result.reason.value).inc()
        yield self._deliver(
            ps,
            env.sender,
            RequestDenied(
                metadata=_meta(now, correlation),
                request_id=request_id,
                reason=result.reason,
                message=result.message,
            ),
        )
        yield self._record(
            ps, now, request_id=request_id, requester=env.sender, provider=None, purpose=None,
            sector=None, row=None, table_version=None, attributes=[], trigger=None,
            person_id=None, proxy_id=None, reason=result.reason,
        )  # fmt: skip

    def _holder(self, ps: PartitionState, env: Envelope) -> None:
        assert env.person_id is not None
        apply(ps.hub, AddHolder(env.person_id, env.sender))
        record = ps.hub.persons[env.person_id]
        if record.number_index is None and env.number_index is not None:
            ps.hub.persons[env.person_id] = replace(record, number_index=env.number_index)
        ps.dirty.add(k_person(env.person_id))

    def _claim_index(self, ps: PartitionState, env: Envelope, now: datetime) -> Iterator[Output]:
        """A number change, where its new number's index lives: refused if the number is
        revoked or someone else's, else the index is the person's from now on (so no enrolment
        with the new number can create another person) and the change goes on to the person."""
        assert env.number_index is not None
        assert env.person_id is not None
        refused = number_claim_refusal(
            kind_of(ps.hub, env.sender), env.number_index, env.person_id, ps.hub
        )
        if refused is not None:
            yield self._dead(
                env, now, DeadLetterReason.INVALID, f"{refused.reason}: {refused.message}"
            )
            return
        ps.hub.numbers[env.number_index] = env.person_id
        ps.dirty.add(k_number(env.number_index))
        onward = replace(env, kind=Kind.MESSAGE)
        yield Output(PERSONS, onward.to_bytes(), key=env.person_id)

    # --- events and notices --------------------------------------------------------------

    def _event(
        self, ps: PartitionState, env: Envelope, event: Message, now: datetime
    ) -> Iterator[Output]:
        c = self.control
        plan = plan_event(
            event, ps.hub, c.table, c.rollout, self.keys, new_number_index=env.number_index
        )
        if isinstance(plan, Deny):
            yield self._dead(env, now, DeadLetterReason.INVALID, f"{plan.reason}: {plan.message}")
            return
        for change in plan.changes:
            yield from self._apply(ps, env, change)
        for delivery in plan.deliveries:
            yield self._deliver(ps, delivery.agency, delivery.event)

    def _apply(self, ps: PartitionState, env: Envelope, change: Change) -> Iterator[Output]:
        if isinstance(change, ChangeNumber):
            # The old index lives in its own partition: revoke it there.
            record = ps.hub.person(change.person_id)
            old = record.number_index
            ps.hub.persons[change.person_id] = replace(record, number_index=change.new_index)
            ps.dirty.add(k_person(change.person_id))
            base = {"sender": env.sender, "received_at_us": env.received_at_us,
                    "source": env.source, "person_id": change.person_id}  # fmt: skip
            if old is not None and old != change.new_index:  # the new one was claimed already
                revoke = Envelope(Kind.REVOKE_INDEX, number_index=old, **base)  # type: ignore[arg-type]
                yield Output(PERSONS, revoke.to_bytes(), key=old)
            return
        apply(ps.hub, change)
        person = getattr(change, "person_id", None) or getattr(change, "principal_id", None)
        if person is not None:
            ps.dirty.add(k_person(person))

    def _notice(
        self, ps: PartitionState, env: Envelope, notice: Notice, now: datetime
    ) -> Iterator[Output]:
        if env.person_id is None:
            yield self._dead(env, now, DeadLetterReason.INVALID, "UNKNOWN_CODE: notice person")
            return
        if PORTAL not in self.control.agencies:  # no inbound topic to deliver to
            yield self._dead(env, now, DeadLetterReason.INVALID, "the portal is not onboarded")
            return
        portal_code = self.keys.codes.encode(PORTAL, env.person_id)
        yield self._deliver(ps, PORTAL, notice.model_copy(update={"person_code": portal_code}))

    # --- outputs -------------------------------------------------------------------------

    def _deliver(self, ps: PartitionState, agency: str, message: Message) -> Output:
        """To agency.<id>.in, numbered per (partition, agency) so the agency can see a gap."""
        n = ps.sequences.get(agency, 0) + 1
        ps.sequences[agency] = n
        ps.dirty.add(k_sequence(agency))
        return Output(
            inbound(agency),
            encode(message),
            key=str(ps.partition).encode(),  # one stream -> one partition of the agency's topic
            headers=((SEQUENCE_HEADER, f"{ps.partition}:{n}".encode()),),
        )

    def _record(
        self,
        ps: PartitionState,
        now: datetime,
        *,
        request_id: uuid.UUID,
        requester: str,
        provider: str | None,
        purpose: str | None,
        sector: Sector | None,
        row: str | None,
        table_version: str | None,
        attributes: list[str],
        trigger: uuid.UUID | None,
        person_id: bytes | None,
        proxy_id: bytes | None,
        reason: DenialReason | None,
        over_provided: list[str] | None = None,
    ) -> Output:
        codes = self.keys.codes
        record = ProvisionRecord(
            metadata=_meta(now, None),
            record_id=uuid.uuid4(),
            request_id=request_id,
            requester=requester,
            provider=provider,
            purpose=purpose,
            sector=sector,
            legal_basis_row=row,
            table_version=table_version,
            attributes=attributes,
            trigger_event_id=trigger,
            subject_code=UNKNOWN_SUBJECT if person_id is None else codes.encode(PORTAL, person_id),
            proxy_code=None if proxy_id is None else codes.encode(PORTAL, proxy_id),
            outcome=Outcome.PROVIDED if reason is None else Outcome.DENIED,
            reason=reason,
            over_provided=over_provided or [],
            chain_partition=ps.partition,
            chain_sequence=0,
            previous_hash=b"",
            record_hash=b"",
        )
        value, ps.head = seal(record, ps.partition, ps.head)
        ps.dirty.add(KEY_HEAD)
        return Output(PROVISION_RECORDS, value, partition=ps.partition)

    def _dead(self, env: Envelope, now: datetime, reason: DeadLetterReason, detail: str) -> Output:
        topic, partition, offset = parse_source(env.source)
        return dead_letter(
            env.payload,
            reason=reason,
            detail=detail,
            topic=topic,
            partition=partition,
            offset=offset,
            now=now,
        )
