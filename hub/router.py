"""Router: applies the decision core to the hub-internal topic, one partition at a time.

Each input partition owns the state of the persons (and blind-index entries) keyed to it, in a
partition store (`hub.partition_state`) that writes its own changelog. For every record the
router asks the core what to do, applies the changes the core says belong here, forwards the
ones that belong to another key's partition, and turns the outcome into records: queries,
responses, denials, event deliveries, provision records. All of it, with the changelog, goes
out in the transaction that commits the input offsets (hub.stage). A newly assigned partition is
rebuilt from the changelog before its first record is processed, so no local file is ever the
only copy. A routed request whose provider does not answer in time gets its PROVIDER_TIMEOUT
outcome when stream time passes its deadline, or, while the partition is idle, wall time
(`tick`); its late answer is dead-lettered.

Everything about what is allowed lives in `hub.core`; this module only turns decisions into
records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub import metrics
from hub.audit import UNKNOWN_SUBJECT, RecordSigner, seal
from hub.control import ControlState
from hub.core import (
    AddHolder,
    ContinueNumberChange,
    Deny,
    Enrolled,
    Forward,
    Keyring,
    Provision,
    RevokeNumber,
    Route,
    TokenRefused,
    apply,
    apply_all,
    check_answer,
    claim_number,
    decide,
    decide_enrolment,
    index_waiting,
    plan_event,
    prune,
    record_answer,
    record_decision,
    record_reply,
    timed_out,
    withheld,
)
from hub.core.decision import kind_of
from hub.core.entitlement import RefusalReason, Refused, suspension_refusal
from hub.core.notice_receipts import NoticeReceipt
from hub.core.state import metered_as
from hub.core.trust import Condition
from hub.deadletters import DeadLetterReason, dead_letter, internal_dead_letter, parse_source
from hub.envelope import Envelope, Kind
from hub.partition_state import PartitionState
from hub.readers import read_to_end
from hub.stage import Output
from hub.store import StoreError
from hub.topics import PERSONS, PROVISION_RECORDS, STATE
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode, encode
from schemas.ids import new_id
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
    ProviderTimeout,
    ProvisionRecord,
    RequestDenied,
)
from schemas.topics import SEQUENCE_HEADER, inbound

log = get_logger("hub.router")
HUB = "hub"
PORTAL = "portal"
PRUNE_EVERY_S = 3_600  # forget what can no longer matter, at most hourly (message time)
KEEP_REQUEST_IDS_S = 8 * 86_400  # idempotency horizon: longer than a reply token lives
# With no input, wall time drives the timeouts, less this grace for an answer ingress took in
# before the deadline that is still on its way here.
IDLE_GRACE_S = 2


def _meta(now: datetime, correlation: uuid.UUID | None) -> Metadata:
    return Metadata(message_id=new_id(), correlation_id=correlation, occurred_at=now, sender=HUB)


class Router:
    """The router stage's processor."""

    def __init__(
        self,
        bootstrap: str,
        keys: Keyring,
        control: ControlState,
        random_bytes: Callable[[int], bytes] = os.urandom,
        partitions: int = 1,
    ) -> None:
        self.bootstrap = bootstrap
        self.partition_count = partitions  # of the hub-internal topic: the budget shares
        self.keys = keys
        self.control = control
        self.random_bytes = random_bytes
        self.signer = RecordSigner(keys.record_signing_key_id, keys.record_signing_key)
        self.partitions: dict[TopicPartition, PartitionState] = {}

    # --- state lifecycle -----------------------------------------------------------------

    def new_state(self, partition: int) -> PartitionState:
        return PartitionState(partition, self.control, self.partition_count)

    async def prepare(self, partition: TopicPartition) -> None:
        """Rebuild the partition's state from its changelog (committed records, to the end)."""
        ps = self.new_state(partition.partition)
        restored = unreadable = 0
        # the reader stops in the background: the partition need not wait for it to close
        changelog = read_to_end(
            self.bootstrap, STATE, [partition.partition], stop_in_background=True
        )
        async for batch in changelog:
            for record in batch:
                if record.key is None:
                    continue
                try:
                    ps.restore(record.key, record.value)
                    restored += 1
                except StoreError:  # written by another version of the hub: say so, go on
                    unreadable += 1
        index_waiting(ps.hub)
        self.partitions[partition] = ps
        log.info(
            "partition state restored",
            partition=partition.partition,
            changelog_records=restored,
            unreadable_records=unreadable,
            persons=len(ps.persons),
        )

    def drop(self, partition: TopicPartition) -> None:
        self.partitions.pop(partition, None)

    def _maybe_prune(self, ps: PartitionState, now: datetime) -> None:
        """Forget expired events, consents, proxies, request ids and used tokens (the store
        writes the tombstones), so state and changelog do not grow without bound."""
        if now.timestamp() - ps.pruned_at < PRUNE_EVERY_S:
            return
        ps.pruned_at = now.timestamp()
        prune(ps.hub, now, self.control.table.max_window_seconds, KEEP_REQUEST_IDS_S)

    # --- processing ----------------------------------------------------------------------

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        ps = self.partitions[partition]
        outputs: list[Output] = []
        waiting, ttl = ps.hub.waiting, self.keys.token_ttl_seconds
        for record in records:
            at = record.timestamp // 1000
            if waiting and at > waiting[0][0] + ttl:  # stream time passed a provider's deadline
                outputs.extend(self._time_out(ps, at))
            try:
                produced = list(self._one(ps, record))
            except Exception as error:  # a poison pill: never a stuck partition
                ps.take_back()
                produced = [internal_dead_letter(record, error, datetime.now(UTC))]
            else:
                ps.keep()
            outputs.extend(produced)
        self._maybe_prune(ps, datetime.fromtimestamp(records[-1].timestamp / 1000, UTC))
        for key, value in ps.flush():
            outputs.append(Output(STATE, value, key=key, partition=ps.partition))
        return outputs

    def tick(self, partition: TopicPartition, now: float) -> list[Output]:
        """The partition has had no input for a while: wall time drives its timeouts."""
        ps = self.partitions.get(partition)
        if ps is None or not ps.hub.waiting:
            return []
        outputs = self._time_out(ps, int(now) - IDLE_GRACE_S)
        for key, value in ps.flush():
            outputs.append(Output(STATE, value, key=key, partition=ps.partition))
        return outputs

    def _time_out(self, ps: PartitionState, now_s: int) -> list[Output]:
        """PROVIDER_TIMEOUT for every waiting request whose deadline passed before `now_s`:
        the requester's one outcome and its provision record, dated at the deadline."""
        ttl = self.keys.token_ttl_seconds
        outputs: list[Output] = []
        for ticket in timed_out(ps.hub, now_s, ttl):
            deadline = datetime.fromtimestamp(ticket.issued_at + ttl, UTC)
            metrics.OUTCOMES.labels("provider_timeout", "").inc()
            reply = ProviderTimeout(
                metadata=_meta(deadline, None),
                request_id=ticket.request_id,
                provider=ticket.provider,
                deadline=deadline,
                message=f"{ticket.provider} did not answer within {ttl} s",
            )
            seen = (ticket.requester, ticket.request_id.int)
            outputs.append(self._reply(ps, seen, ticket.requester, encode(reply), deadline))
            outputs.append(self._record(ps, deadline, Provision.timed_out(ticket)))
        ps.keep()  # not undone with a record that fails after it
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
            case Kind.HOLDER if env.person_id is not None:
                apply(ps.hub, AddHolder(env.person_id, env.sender, env.number_index))
            case Kind.CLAIM_INDEX if env.person_id is not None:
                yield from self._claim_number(ps, env, env.person_id, now)
            case Kind.REVOKE_INDEX if env.number_index is not None:
                apply(ps.hub, RevokeNumber(env.number_index, int(now.timestamp())))
            case Kind.MESSAGE:
                try:
                    message = decode(env.payload)
                except DecodeError as exc:  # ingress checked it; a schema rolled back?
                    yield self._dead(env, now, DeadLetterReason.UNDECODABLE, exc.reason.value)
                    return
                yield from self._message(ps, env, message, now)
            case _:
                yield self._dead(
                    env, now, DeadLetterReason.INVALID, f"a {env.kind} envelope lacks its key"
                )

    def _message(
        self, ps: PartitionState, env: Envelope, message: Message, now: datetime
    ) -> Iterator[Output]:
        match message:
            case AttributeRequest():
                yield from self._request(ps, env, message, now)
            case AttributeAnswer():
                yield from self._answer(ps, env, message, now)
            case Notice():
                yield from self._notice(ps, env, message, now)
            case NoticeAcknowledged():
                yield from self._acknowledged(ps, env, message, now)
            case _:
                yield from self._event(ps, env, message, now)

    # --- requests and answers ------------------------------------------------------------

    def _request(
        self, ps: PartitionState, env: Envelope, request: AttributeRequest, now: datetime
    ) -> Iterator[Output]:
        state = ps.hub
        requester = request.metadata.sender
        seen = (requester, request.request_id.int)
        decided = state.processed.get(seen)
        if decided is not None:
            # A repeated request id: the recorded reply again (none yet while the provider
            # has not answered), never a second decision or a second provision record.
            metrics.DUPLICATES.inc()
            if decided.reply is not None:
                yield self._send(ps, requester, decided.reply)
            return
        # Ingress decrypted the person's code already (it keys the request by person).
        proxy_id = None
        if request.proxy_code is not None:
            proxy_id = self.keys.codes.decode(requester, request.proxy_code)
        control = self.control
        decision = decide(
            request, env.person_id, proxy_id, state, control.table, control.rollout, now
        )
        record_decision(state, requester, request.request_id, decision, now)
        metered = metered_as(decision)
        if metered is not None:
            metrics.METERED_REQUESTS.labels(requester, metered).inc()
        correlation = request.metadata.message_id
        if isinstance(decision, Route):
            metrics.OUTCOMES.labels("routed", "").inc()
            sealed = self.keys.seal_route(decision)
            yield self._deliver(
                ps,
                decision.provider,
                AttributeQuery(
                    metadata=_meta(now, correlation),
                    person_code=sealed.provider_code,
                    purpose=decision.purpose,
                    legal_basis_row=decision.row,
                    attributes=list(decision.attributes),
                    reply_token=sealed.reply_token,
                ),
            )
            return
        metrics.OUTCOMES.labels("denied", decision.reason.value).inc()
        denial = RequestDenied(
            metadata=_meta(now, correlation),
            request_id=request.request_id,
            reason=decision.reason,
            message=decision.message,
        )
        yield self._reply(ps, seen, requester, encode(denial), now)
        yield self._record(ps, now, Provision.denied(request, decision))

    def _answer(
        self, ps: PartitionState, env: Envelope, answer: AttributeAnswer, now: datetime
    ) -> Iterator[Output]:
        checked = check_answer(answer, ps.hub, self.keys, now)
        if isinstance(checked, TokenRefused):
            # Undeliverable, and attribute values must not rest in a topic operators read:
            # the dead letter keeps the answer without its values (names stay, as not_held).
            # A late one (its request timed out) is never delivered: the requester has its
            # one outcome already.
            late = checked.why in TokenRefused.LATE
            stripped = answer.model_copy(
                update={
                    "values": [],
                    "not_held": [*answer.not_held, *(v.name for v in answer.values)],
                }
            )
            yield self._dead(
                replace(env, payload=encode(stripped)),
                now,
                DeadLetterReason.LATE_ANSWER if late else DeadLetterReason.INVALID,
                f"reply token refused: {checked.why}; attribute values removed",
            )
            return
        record_answer(ps.hub, checked, self.keys)
        ticket = checked.ticket
        seen = (ticket.requester, ticket.request_id.int)
        refused = withheld(checked, ps.hub)
        if refused is not None:
            # Suspended since the query went out: the values go nowhere, the requester is
            # told, and the record says so.
            metrics.OUTCOMES.labels("denied", refused.reason.value).inc()
            denial = RequestDenied(
                metadata=_meta(now, answer.metadata.message_id),
                request_id=ticket.request_id,
                reason=refused.reason,
                message=refused.message,
            )
            yield self._reply(ps, seen, ticket.requester, encode(denial), now)
            yield self._record(ps, now, Provision.withheld(checked, refused.reason))
            return
        metrics.OUTCOMES.labels("provided", "").inc()
        response = AttributeResponse(
            metadata=_meta(now, answer.metadata.message_id),
            request_id=ticket.request_id,
            person_code=self.keys.codes.encode(ticket.requester, ticket.person_id),
            provider=ticket.provider,
            values=list(checked.values),
            not_held=[*checked.not_held],
        )
        yield self._reply(ps, seen, ticket.requester, encode(response), now)
        yield self._record(ps, now, Provision.provided(checked))

    # --- enrolment and number changes: the blind index's partition ---------------------

    def _enrol(self, ps: PartitionState, env: Envelope, now: datetime) -> Iterator[Output]:
        if env.request_id is None:
            yield self._dead(env, now, DeadLetterReason.INVALID, "an enrolment without its id")
            return
        request_id = uuid.UUID(env.request_id)
        result = decide_enrolment(
            request_id, env.sender, env.number_index, ps.hub, self.keys, self.random_bytes(16)
        )
        correlation = None if env.message_id is None else uuid.UUID(env.message_id)
        seen = (env.sender, request_id.int)
        decided = ps.hub.processed.get(seen)
        if decided is not None:
            # A retried enrolment: the recorded reply again, neither a second decision nor a
            # second provision record.
            metrics.DUPLICATES.inc()
            if decided.reply is not None:
                yield self._send(ps, env.sender, decided.reply)
            return
        if isinstance(result, Enrolled):
            apply_all(ps.hub, result.here)
            confirmation = EnrolmentConfirmed(
                metadata=_meta(now, correlation), request_id=request_id, person_code=result.code
            )
            yield self._reply(ps, seen, env.sender, encode(confirmation), now)
            yield from self._forward(env, result.elsewhere)
            return
        metrics.OUTCOMES.labels("denied", result.reason.value).inc()
        denial = RequestDenied(
            metadata=_meta(now, correlation),
            request_id=request_id,
            reason=result.reason,
            message=result.message,
        )
        yield self._reply(ps, seen, env.sender, encode(denial), now)
        yield self._record(ps, now, Provision.enrolment_denied(request_id, env.sender, result))

    def _claim_number(
        self, ps: PartitionState, env: Envelope, person_id: bytes, now: datetime
    ) -> Iterator[Output]:
        claimed = claim_number(env.sender, env.number_index, person_id, ps.hub)
        if isinstance(claimed, Deny):
            yield self._dead(
                env, now, DeadLetterReason.INVALID, f"{claimed.reason}: {claimed.message}"
            )
            return
        apply_all(ps.hub, claimed.here)
        yield from self._forward(env, claimed.elsewhere)

    def _forward(self, env: Envelope, forwards: Sequence[Forward]) -> Iterator[Output]:
        """Send each change to the partition of its key, as the envelope that carries it."""
        at, source = env.received_at_us, env.source
        for forward in forwards:
            match forward.change:
                case AddHolder(person_id, agency, index):
                    onward = Envelope(
                        Kind.HOLDER, agency, at, source, person_id=person_id, number_index=index
                    )
                case RevokeNumber(index):
                    onward = Envelope(Kind.REVOKE_INDEX, env.sender, at, source, number_index=index)
                case ContinueNumberChange(person_id, index):
                    onward = replace(
                        env, kind=Kind.MESSAGE, person_id=person_id, number_index=index
                    )
            yield Output(PERSONS, onward.to_bytes(), key=forward.key)

    # --- events and notices --------------------------------------------------------------

    def _event(
        self, ps: PartitionState, env: Envelope, event: Message, now: datetime
    ) -> Iterator[Output]:
        c = self.control
        plan = plan_event(
            event, ps.hub, c.table, c.rollout, self.keys,
            trust=self.control.trust, now=now, new_number_index=env.number_index,
        )  # fmt: skip
        if isinstance(plan, Refused):
            yield self._refused(env, now, plan)
            return
        if isinstance(plan, Deny):
            yield self._dead(env, now, DeadLetterReason.INVALID, f"{plan.reason}: {plan.message}")
            return
        apply_all(ps.hub, plan.changes)
        yield from self._forward(env, plan.forwards)
        for delivery in plan.deliveries:
            yield self._deliver(ps, delivery.agency, delivery.event)
            row = delivery.row
            if row is not None:  # a disclosure a legal-basis row allows: recorded
                disclosed = Provision.disclosed(
                    event, delivery.agency, row, plan.person_id, c.table.version
                )
                yield self._record(ps, now, disclosed)

    def _refused(self, env: Envelope, now: datetime, refused: Refused) -> Output:
        """A fact that does not count: dead-lettered with its reason, counted per agency."""
        metrics.REFUSED_ASSERTIONS.labels(env.sender, refused.reason.value).inc()
        return self._dead(env, now, DeadLetterReason(refused.reason.value), refused.message)

    def _acknowledged(
        self, ps: PartitionState, env: Envelope, ack: NoticeAcknowledged, now: datetime
    ) -> Iterator[Output]:
        """到達確認: from the portal only, for a notice the hub delivered to it (its receipt),
        routed to the sender the receipt names (unless that sender is suspended)."""
        refused = suspension_refusal(env.sender, ps.hub)
        rule = self.control.trust.rule(ack.MESSAGE_TYPE)
        kind = kind_of(ps.hub, env.sender)
        if refused is None and (kind is None or not rule.may_assert(kind)):
            refused = Refused(RefusalReason.NOT_ENTITLED, f"{env.sender} may not acknowledge")
        receipt: NoticeReceipt | None = None
        if refused is None and Condition.DELIVERED_NOTICE in rule.conditions:
            receipt = self.keys.notice_receipts.open(
                ack.delivery_receipt, env.sender, ack.notice_id
            )
            if receipt is None:
                refused = Refused(
                    RefusalReason.NOT_ENTITLED, "no notice the hub delivered has this receipt"
                )
        if refused is not None:
            yield self._refused(env, now, refused)
            return
        sender = ack.notice_sender if receipt is None else receipt.sender
        if sender is None or sender not in self.control.agencies:
            yield self._dead(env, now, DeadLetterReason.INVALID, "acknowledgement names no sender")
        elif sender in ps.hub.suspended:
            yield self._dead(env, now, DeadLetterReason.AGENCY_SUSPENDED, f"{sender} is suspended")
        else:
            yield self._deliver(ps, sender, ack.model_copy(update={"notice_sender": sender}))

    def _notice(
        self, ps: PartitionState, env: Envelope, notice: Notice, now: datetime
    ) -> Iterator[Output]:
        suspended = suspension_refusal(env.sender, ps.hub)
        if suspended is not None:
            yield self._refused(env, now, suspended)
            return
        if env.person_id is None:
            yield self._dead(env, now, DeadLetterReason.INVALID, "UNKNOWN_CODE: notice person")
            return
        if PORTAL not in self.control.agencies:  # no inbound topic to deliver to
            yield self._dead(env, now, DeadLetterReason.INVALID, "the portal is not onboarded")
            return
        portal_code = self.keys.codes.encode(PORTAL, env.person_id)
        receipt = NoticeReceipt(notice.notice_id, env.person_id, env.sender, int(now.timestamp()))
        delivered = notice.model_copy(
            update={
                "person_code": portal_code,
                "delivery_receipt": self.keys.notice_receipts.issue(receipt, PORTAL),
            }
        )
        yield self._deliver(ps, PORTAL, delivered)

    # --- outputs -------------------------------------------------------------------------

    def _deliver(self, ps: PartitionState, agency: str, message: Message) -> Output:
        return self._send(ps, agency, encode(message))

    def _reply(
        self, ps: PartitionState, seen: tuple[str, int], agency: str, reply: bytes, now: datetime
    ) -> Output:
        """The outcome of a request, kept with its request id so a repeat gets it again."""
        record_reply(ps.hub, seen[0], seen[1], reply, int(now.timestamp()))
        return self._send(ps, agency, reply)

    def _send(self, ps: PartitionState, agency: str, encoded: bytes) -> Output:
        """To agency.<id>.in, numbered per (partition, agency) so the agency can see a gap."""
        n = ps.sequences.get(agency, 0) + 1
        ps.sequences[agency] = n
        return Output(
            inbound(agency),
            encoded,
            key=str(ps.partition).encode(),  # one stream -> one partition of the agency's topic
            headers=((SEQUENCE_HEADER, f"{ps.partition}:{n}".encode()),),
        )

    def _record(self, ps: PartitionState, now: datetime, provision: Provision) -> Output:
        """The provision record of one outcome, sealed into this partition's hash chain."""
        codes = self.keys.codes
        person, proxy = provision.person_id, provision.proxy_person_id
        record = ProvisionRecord(
            metadata=_meta(now, None),
            record_id=new_id(),
            request_id=provision.request_id,
            requester=provision.requester,
            provider=provision.provider,
            purpose=provision.purpose,
            sector=provision.sector,
            legal_basis_row=provision.row,
            table_version=provision.table_version,
            attributes=list(provision.attributes),
            trigger_event_id=provision.trigger_event_id,
            subject_code=UNKNOWN_SUBJECT if person is None else codes.encode(PORTAL, person),
            proxy_code=None if proxy is None else codes.encode(PORTAL, proxy),
            outcome=Outcome.DENIED
            if provision.reason is not None or provision.provider_timeout
            else Outcome.PROVIDED,
            reason=provision.reason,
            over_provided=list(provision.over_provided),
            provider_timeout=provision.provider_timeout,
            chain_partition=ps.partition,
            chain_sequence=0,
            previous_hash=b"",
            record_hash=b"",
        )
        value, head = seal(record, ps.partition, ps.head.get(), self.signer)
        ps.head.set(head)
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
