"""Principals and ACLs on a running cluster: the shell around `hub.access`.

aiokafka's admin client has no ACL or SCRAM-credential calls, so operator tooling uses
confluent-kafka's AdminClient (`create_acls`, `delete_acls`, `alter_user_scram_credentials`):
one process, a few milliseconds per call, where Kafka's own `kafka-acls` tool would start a JVM
per call. Only operator tooling uses it; the agency SDK and the hub stay on aiokafka.
Run as the bootstrap admin (or a principal with Alter on the cluster).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from hub.access import AclRule, Operation, Pattern, Resource
from producers.connection import Connection

SCRAM_ITERATIONS = 8192
TIMEOUT_S = 30.0

_RESOURCES = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
    Resource.CLUSTER: ResourceType.BROKER,  # librdkafka's name for the cluster resource
}
_PATTERNS = {Pattern.LITERAL: ResourcePatternType.LITERAL,
             Pattern.PREFIXED: ResourcePatternType.PREFIXED}  # fmt: skip
_OPERATIONS = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.CREATE: AclOperation.CREATE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
    Operation.IDEMPOTENT_WRITE: AclOperation.IDEMPOTENT_WRITE,
}


class AccessAdminError(RuntimeError):
    """The cluster refused to change principals or ACLs (the operator's rights or settings)."""


def librdkafka_config(connection: Connection) -> dict[str, Any]:
    """The same connection in librdkafka's terms."""
    config: dict[str, Any] = {
        "bootstrap.servers": connection.bootstrap,
        "security.protocol": connection.security_protocol.lower(),
    }
    if connection.sasl_mechanism is not None:
        config["sasl.mechanism"] = connection.sasl_mechanism
        config["sasl.username"] = connection.sasl_username
        config["sasl.password"] = connection.sasl_password
    if connection.ca_file is not None:
        config["ssl.ca.location"] = connection.ca_file
    return config


def binding(rule: AclRule) -> AclBinding:
    name = "kafka-cluster" if rule.resource is Resource.CLUSTER else rule.name
    return AclBinding(
        _RESOURCES[rule.resource], name, _PATTERNS[rule.pattern], f"User:{rule.principal}",
        "*", _OPERATIONS[rule.operation], AclPermissionType.ALLOW,
    )  # fmt: skip


def _filter(rule: AclRule) -> AclBindingFilter:
    b = binding(rule)
    return AclBindingFilter(
        b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
        b.permission_type,
    )  # fmt: skip


class AccessAdmin:
    """Blocking calls (confluent-kafka); the async helpers below run them in a thread."""

    def __init__(self, connection: Connection) -> None:
        self._client = AdminClient(librdkafka_config(connection))

    def _wait(self, futures: dict[Any, Any], what: str) -> None:
        for key, future in futures.items():
            try:
                future.result(timeout=TIMEOUT_S)
            except KafkaException as exc:
                raise AccessAdminError(f"{what} refused for {key}: {exc.args[0]}") from exc

    def set_password(self, principal: str, password: str) -> None:
        """Create or replace the principal's SCRAM-SHA-512 credential."""
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        upsert = UserScramCredentialUpsertion(principal, info, password.encode())
        self._wait(self._client.alter_user_scram_credentials([upsert]), "SCRAM credential")

    def delete_credential(self, principal: str) -> bool:
        """Remove the principal's SCRAM credential; False if it had none."""
        deletion = UserScramCredentialDeletion(principal, ScramMechanism.SCRAM_SHA_512)
        try:
            self._wait(self._client.alter_user_scram_credentials([deletion]), "deletion")
        except AccessAdminError as exc:
            if "RESOURCE_NOT_FOUND" in str(exc) or "not found" in str(exc).lower():
                return False
            raise
        return True

    def grant(self, rules: Iterable[AclRule]) -> None:
        bindings = [binding(r) for r in rules]
        if bindings:
            self._wait(self._client.create_acls(bindings), "ACL")

    def revoke(self, rules: Iterable[AclRule]) -> None:
        filters = [_filter(r) for r in rules]
        if filters:
            self._wait(self._client.delete_acls(filters), "ACL deletion")

    def delete_topics(self, topics: list[str]) -> None:
        futures = self._client.delete_topics(topics, operation_timeout=TIMEOUT_S)
        for topic, future in futures.items():
            try:
                future.result(timeout=TIMEOUT_S)
            except KafkaException as exc:
                if "UNKNOWN_TOPIC" not in str(exc):
                    raise AccessAdminError(f"deleting {topic} refused: {exc.args[0]}") from exc


async def create_principal(
    connection: Connection, principal: str, password: str, rules: list[AclRule]
) -> None:
    """Credential and ACLs of one principal (idempotent: same password, same rules)."""

    def go() -> None:
        admin = AccessAdmin(connection)
        admin.set_password(principal, password)
        admin.grant(rules)

    await asyncio.to_thread(go)


async def grant(connection: Connection, rules: list[AclRule]) -> None:
    await asyncio.to_thread(lambda: AccessAdmin(connection).grant(rules))


async def remove_principal(
    connection: Connection, principal: str, rules: list[AclRule], topics: list[str]
) -> bool:
    """Revoke the rules, delete the credential and the topics; False if no credential was
    there (already offboarded)."""

    def go() -> bool:
        admin = AccessAdmin(connection)
        admin.revoke(rules)
        had = admin.delete_credential(principal)
        if topics:
            admin.delete_topics(topics)
        return had

    return await asyncio.to_thread(go)
