"""A small world for the portal's end-to-end tests: a real broker, the hub, reference agencies
on the SDK (two municipalities, the pension service, two hospitals) and the portal itself, with
the rollout at its last phase. Helpers play what those agencies do about one person."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from sqlalchemy import select

from agencies import NoticeSender, Person, Population, ReferenceAgency, generate, reference_agency
from hub.onboarding import change_rollout, onboard_agency
from hub.service import INGRESS_GROUP, Hub
from hub.topics import TopicLayout
from portal import readmodel
from portal.service import PortalConfig, RunningPortal, running_portal
from producers import Connection
from producers.connection import kafka_options
from renkei.demo.run import running_hub, subscriptions
from schemas.models import (
    AttributeResponse,
    ClinicalUpdate,
    EnrolmentConfirmed,
    Relocation,
    RequestDenied,
    RolloutOperation,
)
from schemas.topics import outbound

AGENCIES = ("mun-13101", "mun-27100", "jps", "med-0001", "med-0002")
PERSONS = 60
PARTITIONS = 2


async def wait_until(condition: object, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class World:
    bootstrap: str
    hub: Hub
    portal: RunningPortal
    agencies: dict[str, ReferenceAgency]
    population: Population
    kafka: AIOKafkaConsumer  # reads end offsets
    admin: AIOKafkaAdminClient  # reads the hub's committed offsets

    def person(self, index: int) -> Person:
        return self.population.persons[index]

    def credential(self, person: Person) -> str:
        return self.portal.identities.credential_of(person)

    async def code(self, agency_id: str, person: Person) -> bytes:
        agency = self.agencies[agency_id]
        if person.individual_number not in agency.code_of:
            outcome = await agency.agency.enrol(person.individual_number)
            assert isinstance(outcome, EnrolmentConfirmed), outcome
            agency.learn(person.individual_number, outcome.person_code)
        return agency.code_of[person.individual_number]

    async def tax_check_after_move(
        self, person: Person, *, trigger: uuid.UUID | None = None
    ) -> AttributeResponse | RequestDenied:
        """mun-13101 reports the person moved in from mun-27100 and asks for the income
        (tx-01); with `trigger` it cites that event id instead of the move."""
        new = self.agencies["mun-13101"]
        code = await self.code("mun-13101", person)
        await self.code("mun-27100", person)
        moved = Relocation(
            metadata=new.agency.metadata(),
            person_code=code,
            from_municipality="mun-27100",
            to_municipality="mun-13101",
            moved_on=date.today(),
        )
        await new.agency.publish_event(moved)
        return await new.agency.request_attributes(
            person_code=code,
            provider="mun-27100",
            purpose="resident_tax_assessment",
            legal_basis_row="tx-01",
            attributes=["taxable_income"],
            trigger_event_id=trigger or moved.metadata.message_id,
        )

    async def send_notice(self, person: Person) -> uuid.UUID:
        jps = self.agencies["jps"]
        return await jps.agency.send_notice(
            person_code=await self.code("jps", person),
            category="pension_statement",
            title="ねんきん定期便 (annual pension statement)",
            body="Your annual pension statement is ready to view.",
        )

    async def notice_delivered(self, notice_id: uuid.UUID, within: float = 60.0) -> None:
        """Until the hub has routed the notice to the portal and the projector has stored it."""
        deadline = time.monotonic() + within
        query = select(readmodel.notices.c.notice_id).where(
            readmodel.notices.c.notice_id == str(notice_id)
        )
        while True:
            async with self.portal.services.engine.connect() as db:
                if (await db.execute(query)).first() is not None:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the notice did not reach the portal's read model")
            await asyncio.sleep(0.1)

    def acknowledged(self, notice_id: uuid.UUID) -> bool:
        jps = self.agencies["jps"]
        assert isinstance(jps, NoticeSender)
        return notice_id in jps.confirmations

    async def clinical_summary_request(self, person: Person) -> AttributeResponse | RequestDenied:
        """med-0001 refers the person to med-0002, which asks for the clinical summary
        (md-01: needs the person's consent)."""
        referring, receiving = self.agencies["med-0001"], self.agencies["med-0002"]
        await self.code("med-0002", person)
        referral = ClinicalUpdate(
            metadata=referring.agency.metadata(),
            person_code=await self.code("med-0001", person),
            document_category="referral",
            documented_on=date.today(),
            referred_to="med-0002",
        )
        await referring.agency.publish_event(referral)
        await self.hub_took_in(outbound("med-0001"))
        return await receiving.agency.request_attributes(
            person_code=await self.code("med-0002", person),
            provider="med-0001",
            purpose="continuity_of_care",
            legal_basis_row="md-01",
            attributes=["clinical_summary"],
            trigger_event_id=referral.metadata.message_id,
        )

    async def hub_took_in(self, topic: str, within: float = 60.0) -> None:
        """Until the hub's ingress has committed everything now on `topic`."""
        parts = self.kafka.partitions_for_topic(topic) or set()
        ends = await self.kafka.end_offsets([TopicPartition(topic, p) for p in parts])
        deadline = time.monotonic() + within
        while True:
            committed = await self.admin.list_consumer_group_offsets(
                INGRESS_GROUP, partitions=list(ends)
            )
            if all(end == 0 or (tp in committed and committed[tp].offset >= end)
                   for tp, end in ends.items()):  # fmt: skip
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub did not take in {topic} in time")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def portal_world(bootstrap: str, database_url: str) -> AsyncIterator[World]:
    layout = TopicLayout(hub_partitions=PARTITIONS)
    for agency in (*AGENCIES, "portal"):
        await onboard_agency(bootstrap, agency, subscriptions(agency),
                             key_id=f"{agency}-test", layout=layout)  # fmt: skip
    population = generate(7, PERSONS)
    async with running_hub(bootstrap, PARTITIONS) as hub:
        await wait_until(
            lambda: {*AGENCIES, "portal"} <= set(hub.control.agencies), "registrations"
        )
        phases = len(hub.control.rollout.plan.phases)
        if hub.control.rollout.phase < phases:
            await change_rollout(bootstrap, RolloutOperation.ADVANCE,
                                 times=phases - hub.control.rollout.phase)  # fmt: skip
        await wait_until(lambda: hub.control.rollout.phase == phases, "the last rollout phase")
        connection = Connection.from_environment(bootstrap)
        hub_key = hub.keys.public_sealing_key
        agencies = {
            a: reference_agency(a, connection, population, hub_key=hub_key) for a in AGENCIES
        }
        await asyncio.gather(*(a.start() for a in agencies.values()))
        kafka = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=None)
        admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
        await kafka.start()
        await admin.start()
        try:
            config = PortalConfig(
                connection,
                database_url=database_url,
                port=0,
                persons=PERSONS,
                hub_key=hub_key,
                record_verify_keys=hub.keys.record_verify_keys,
            )
            async with running_portal(config) as portal:
                yield World(bootstrap, hub, portal, agencies, population, kafka, admin)
        finally:
            await admin.close()
            await kafka.stop()
            await asyncio.gather(*(a.stop() for a in agencies.values()))
