"""Attacks on the secured broker, each refused by the broker itself (DOMAIN.md §4).

One real, secured local cluster for the module (SASL/SCRAM-SHA-512 over TLS, the
StandardAuthorizer, no ACL means no access). Its principals are made the way an operator makes
them, with `onboard_agency` and `create_service_principal`; each test then connects as one of
them and tries one thing it must not do, and checks the broker's refusal by its error class.
The last test runs good traffic (the hub as `hub`, two agencies on the SDK as themselves) in
the same run, to show the rules refuse only what they should.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.helpers import create_ssl_context
from typer.testing import CliRunner, Result

from consumers import Agency, AgencyConfig
from hub.cli import hub_app
from hub.onboarding import change_rollout, create_service_principal, onboard_agency
from hub.topics import PERSONS, TopicLayout, ensure_topics
from producers.connection import Connection
from schemas import individual_number
from schemas.models import EnrolmentConfirmed, RolloutOperation
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS, inbound, outbound

from ..conftest import BrokerInfo
from ..hub.harness import dev_keys, renkei, running_hub

pytestmark = pytest.mark.kafka

A, B = "mun-13101", "mun-27100"
SETTINGS_TIMEOUT = 60


@dataclass
class Cluster:
    bootstrap: str
    admin: Connection
    passwords: dict[str, str]

    def as_(self, principal: str) -> Connection:
        return self.admin.as_principal(principal, self.passwords[principal])


@pytest.fixture(scope="module")
async def cluster(kafka_broker: BrokerInfo, isolated_kafka: str) -> Cluster:
    if not kafka_broker.secured_here:
        pytest.fail(
            f"the attack suite needs a secured broker of its own, not {kafka_broker.origin}",
            pytrace=False,
        )
    bootstrap = isolated_kafka
    await ensure_topics(bootstrap, TopicLayout(3, replication=1).hub_topics())
    passwords = {p: f"{p}-{uuid.uuid4().hex}" for p in ("hub", "operator", "ppc", A, B)}
    for service in ("hub", "operator", "ppc"):
        await create_service_principal(bootstrap, service, passwords[service])
    for agency in (A, B):
        layout = TopicLayout(replication=1)
        await onboard_agency(bootstrap, agency, layout=layout, password=passwords[agency])
    await change_rollout(bootstrap, RolloutOperation.ADVANCE)
    return Cluster(bootstrap, Connection.from_environment(bootstrap), passwords)


async def produce(connection: Connection, topic: str, **options: object) -> None:
    producer = AIOKafkaProducer(**connection.client_options(), request_timeout_ms=15_000,
                                **options)  # fmt: skip
    await producer.start()
    try:
        if options.get("transactional_id"):
            async with producer.transaction():
                await producer.send(topic, b"attack")
        else:
            await producer.send_and_wait(topic, b"attack")
    finally:
        await producer.stop()


async def consume(connection: Connection, topic: str, group: str | None = None) -> None:
    consumer = AIOKafkaConsumer(topic, **connection.client_options(), group_id=group,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=5_000)
        await consumer.getone()
    finally:
        await consumer.stop()


def refused(attempt: Awaitable[None]) -> Awaitable[None]:
    return asyncio.wait_for(attempt, SETTINGS_TIMEOUT)


async def scram(bootstrap: str, user: str, password: str, context: ssl.SSLContext | None) -> None:
    """One connection and its SCRAM handshake, nothing else (the refusal is not wrapped)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    conn = await create_conn(host, int(port), security_protocol="SASL_SSL", ssl_context=context,
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=user,
                             sasl_plain_password=password)  # fmt: skip
    conn.close()


# --- who may connect at all ---------------------------------------------------------------


async def test_a_plaintext_connection_is_refused(cluster: Cluster) -> None:
    with pytest.raises(KafkaConnectionError):
        await refused(produce(Connection(cluster.bootstrap), outbound(A)))


async def test_a_wrong_password_is_refused_by_scram(cluster: Cluster) -> None:
    with pytest.raises(SaslAuthenticationFailed):
        await scram(cluster.bootstrap, A, "not-the-password", cluster.admin.ssl_context)


async def test_a_never_onboarded_agency_cannot_even_authenticate(cluster: Cluster) -> None:
    with pytest.raises(SaslAuthenticationFailed):
        await scram(cluster.bootstrap, "mun-01100", "guessed", cluster.admin.ssl_context)


async def test_a_broker_certificate_from_another_ca_is_refused_by_the_client(
    cluster: Cluster,
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        # the system's CAs, not the development CA that signed this broker
        await scram(cluster.bootstrap, A, cluster.passwords[A], create_ssl_context())


# --- agency A against agency B --------------------------------------------------------------


async def test_agency_a_cannot_read_b_inbox(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(consume(cluster.as_(A), inbound(B)))


async def test_agency_a_cannot_join_b_consumer_group(cluster: Cluster) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await refused(consume(cluster.as_(A), inbound(A), group=f"renkei-agency-{B}"))


async def test_agency_a_cannot_write_b_outbox(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), outbound(B)))


async def test_agency_a_cannot_write_b_inbox(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), inbound(B)))


async def test_agency_a_cannot_write_its_own_inbox(cluster: Cluster) -> None:
    """A forged response in its own inbox would be believed by a careless adapter."""
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), inbound(A)))


async def test_agency_a_cannot_use_b_transactional_id(cluster: Cluster) -> None:
    with pytest.raises(TransactionalIdAuthorizationFailed):
        await refused(produce(cluster.as_(A), outbound(A),
                              transactional_id=f"renkei-agency-{B}.tx"))  # fmt: skip


async def test_agency_a_cannot_write_the_control_topic(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), CONTROL))


async def test_agency_a_cannot_write_provision_records(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), PROVISION_RECORDS))


async def test_agency_a_cannot_read_hub_internal_topics(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(consume(cluster.as_(A), PERSONS))


async def test_agency_a_cannot_create_topics(cluster: Cluster) -> None:
    admin = AIOKafkaAdminClient(**cluster.as_(A).client_options())
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(outbound("mun-01100"), 1, 1)])
    finally:
        await admin.close()
    assert [error_code for _, error_code, *_ in response.topic_errors] == [
        TopicAuthorizationFailedError.errno
    ]


# --- the service principals hold only their own rights ------------------------------------


async def test_the_operator_cannot_read_provision_records(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(consume(cluster.as_("operator"), PROVISION_RECORDS))


async def test_the_oversight_body_cannot_write_an_agency_outbox(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_("ppc"), outbound(A)))


async def test_the_hub_cannot_read_an_agency_inbox(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(consume(cluster.as_("hub"), inbound(A)))


async def test_the_hub_cannot_write_the_control_topic(cluster: Cluster) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_("hub"), CONTROL))


async def test_the_operator_reads_dead_letters_and_writes_control(cluster: Cluster) -> None:
    operator = cluster.as_("operator")
    await refused(produce(operator, CONTROL, enable_idempotence=True))  # allowed: no error
    reader = AIOKafkaConsumer(DEAD_LETTERS, **operator.client_options(), group_id=None)
    await reader.start()
    try:
        await reader.getmany(timeout_ms=1_000)  # allowed: no error
    finally:
        await reader.stop()


async def test_the_oversight_body_reads_what_it_counts_publishes_signals_and_reads_no_inbox(
    cluster: Cluster,
) -> None:
    from oversight.feed import Feed
    from oversight.rules import Signal
    from oversight.signals import message
    from oversight.watcher import read_signals
    from schemas.codec import encode
    from schemas.topics import OVERSIGHT_SIGNALS

    ppc = cluster.as_("ppc")
    async with Feed(ppc) as feed:  # reads each topic it counts to its end: no refusal

        async def read_all() -> None:
            async for _ in feed.read_to_end():
                pass

        await asyncio.wait_for(read_all(), SETTINGS_TIMEOUT)
        read = {tp.topic for tp in feed.consumer.assignment()}
    assert read == {PROVISION_RECORDS, DEAD_LETTERS, CONTROL, outbound(A), outbound(B)}
    signal = Signal("DENIAL_BURST", A, datetime.now(UTC), 60, 30, 30, "30 of 30 denied")
    producer = AIOKafkaProducer(**ppc.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(OVERSIGHT_SIGNALS, encode(message(signal)), partition=0)
    finally:
        await producer.stop()
    assert [s.rule for s in await read_signals(ppc)][-1:] == ["DENIAL_BURST"]
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(consume(ppc, inbound(A)))
    with pytest.raises(TopicAuthorizationFailedError):
        await refused(produce(cluster.as_(A), OVERSIGHT_SIGNALS))


# --- onboarding and offboarding, by the operator's command ---------------------------------


def hub_cli(*args: str) -> Result:
    """`renkei hub …` (it runs its own event loop: call it in a thread)."""
    return CliRunner().invoke(hub_app, list(args))


async def test_onboarding_by_command_is_idempotent_and_offboarding_locks_the_agency_out(
    cluster: Cluster, tmp_path: Path
) -> None:
    agency, settings = "mun-01100", tmp_path / "mun-01100.kafka.env"
    # --wait 0: no hub replica runs in this test to acknowledge the registration
    args = ("onboard", agency, "--bootstrap", cluster.bootstrap, "--replication", "1",
            "--credentials", str(settings), "--wait", "0")  # fmt: skip
    first = await asyncio.to_thread(hub_cli, *args)
    assert first.exit_code == 0, first.output
    again = await asyncio.to_thread(hub_cli, *args)  # same password, same rules, no error
    assert again.exit_code == 0, again.output
    assert "topics created: 0" in again.output
    configured = Connection.from_environment(environ={"RENKEI_KAFKA_CONFIG": str(settings)})
    assert configured.sasl_username == agency
    await refused(produce(configured, outbound(agency), enable_idempotence=True))

    gone = await asyncio.to_thread(hub_cli, "offboard", agency, "--bootstrap", cluster.bootstrap,
                                   "--wait", "0")  # fmt: skip
    assert gone.exit_code == 0, gone.output
    with pytest.raises(SaslAuthenticationFailed):
        await scram(cluster.bootstrap, agency, configured.sasl_password or "",
                    cluster.admin.ssl_context)  # fmt: skip


async def test_a_command_with_a_wrong_password_says_which_settings_to_check(
    cluster: Cluster,
) -> None:
    wrong = {"RENKEI_KAFKA_USERNAME": "operator", "RENKEI_KAFKA_PASSWORD": "not-it"}
    result = await asyncio.to_thread(
        lambda: CliRunner().invoke(
            hub_app, ["dlq", "list", "--bootstrap", cluster.bootstrap], env=wrong
        )
    )
    assert result.exit_code == 2
    assert "RENKEI_KAFKA_PASSWORD" in result.output


async def test_a_command_without_credentials_names_the_settings_to_set(cluster: Cluster) -> None:
    unset = {"RENKEI_KAFKA_USERNAME": None, "RENKEI_KAFKA_PASSWORD": None}
    result = await asyncio.to_thread(
        lambda: CliRunner().invoke(
            hub_app, ["dlq", "list", "--bootstrap", cluster.bootstrap], env=unset
        )
    )
    assert result.exit_code == 2
    assert "set RENKEI_KAFKA_USERNAME and RENKEI_KAFKA_PASSWORD" in " ".join(result.output.split())


# --- good traffic in the same run ---------------------------------------------------------


@contextlib.contextmanager
def environment(connection: Connection, password: str) -> Iterator[None]:
    """This process's configured principal (the hub reads its own from configuration)."""
    saved = dict(os.environ)
    os.environ["RENKEI_KAFKA_USERNAME"] = connection.sasl_username or ""
    os.environ["RENKEI_KAFKA_PASSWORD"] = password
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def test_good_traffic_flows_with_every_principal_on_its_own_rights(
    cluster: Cluster,
) -> None:
    hub = cluster.as_("hub")
    with environment(hub, cluster.passwords["hub"]):
        keys = dev_keys()
        async with running_hub(cluster.bootstrap, keys):
            agencies = [
                Agency(AgencyConfig(a, cluster.as_(a), hub_key=keys.public_sealing_key))
                for a in (A, B)
            ]
            for agency in agencies:
                await agency.start()
            try:
                outcomes = await asyncio.gather(
                    *(
                        asyncio.wait_for(agency.enrol(individual_number.generate()), 60)
                        for agency in agencies
                    )
                )
            finally:
                for agency in agencies:
                    await agency.stop()
            # the operator's command, as `operator`, hears the hub's acknowledgement (as `hub`)
            as_operator = {"RENKEI_KAFKA_USERNAME": "operator",
                           "RENKEI_KAFKA_PASSWORD": cluster.passwords["operator"]}  # fmt: skip
            pause = ("hub", "rollout", "pause", "medical", "--bootstrap", cluster.bootstrap)
            code, output = await renkei(*pause, "--wait", "120", env=as_operator)
            # and sees how far behind each stage is, from offsets it may describe
            lag_code, lag = await renkei("hub", "lag", "--bootstrap", cluster.bootstrap,
                                         env=as_operator)  # fmt: skip
    assert all(isinstance(o, EnrolmentConfirmed) for o in outcomes)
    assert code == 0, output
    assert "1 applied, 0 refused, 0 silent of 1 live replica(s)" in output
    assert lag_code == 0, lag
    assert outbound(A) in lag
    assert PERSONS in lag
    assert "may describe these topics but not read them" in lag  # offsets: an upper bound


async def test_the_operator_describes_agency_topics_for_lag_but_cannot_read_them(
    cluster: Cluster,
) -> None:
    for topic in (outbound(A), inbound(A), PERSONS):
        with pytest.raises(TopicAuthorizationFailedError):
            await refused(consume(cluster.as_("operator"), topic))
