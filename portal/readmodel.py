"""The portal's read model: what a person sees, kept by consuming Kafka (tables, SQLAlchemy Core).

Rows are keyed by the person's link code *at the portal* (the hub writes provision records
with the portal's code of the subject and of any proxy). Two sources feed it:

- the projector (`portal.projector`): provision records, notices delivered to the portal, and
  consent/proxy facts other agencies published (a municipality's counter check, a hospital
  presenting a consent token), with the consumed offsets in `consumed_offsets`, written in the
  same transaction as the rows (exactly once into the database);
- the portal's own acts, written by the web application after the broker accepted the event it
  published (the portal may not read its own outbound topic: only the hub does).

The schema is created and changed only by the Alembic migrations in `portal/migrations`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import BigInteger

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("subject", String(64), nullable=False, unique=True),  # identity provider's subject
    Column("display_name", String(200), nullable=False),
    Column("link_code", LargeBinary, nullable=False, unique=True),  # the portal's code
    Column("handle", String(16), nullable=False, unique=True),  # what a proxy registration names
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
)

provision_records = Table(
    "provision_records",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("subject_code", LargeBinary, nullable=False, index=True),
    Column("request_id", String(36), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("requester", String(32), nullable=False),
    Column("provider", String(32)),
    Column("purpose", String(200)),
    Column("sector", String(32)),
    Column("legal_basis_row", String(64)),
    Column("table_version", String(64)),
    Column("attributes", JSON, nullable=False),
    Column("trigger_event_id", String(36)),
    Column("proxy_code", LargeBinary, index=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(32)),
    Column("over_provided", JSON, nullable=False),
    Column("chain_partition", Integer, nullable=False),
    Column("chain_sequence", BigInteger, nullable=False),
    Column("chain_verified", Boolean, nullable=False),
    Column("signature_verified", Boolean),  # None: no hub record key to check it with
    Column("encoded", LargeBinary, nullable=False),  # the record as the hub wrote it
)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("chain_partition", Integer, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("record_hash", LargeBinary, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("person_code", LargeBinary, nullable=False, index=True),
    Column("sender", String(32), nullable=False),
    Column("category", String(100), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True)),  # 到達確認 sent when set
    Column("encoded", LargeBinary, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(36), primary_key=True),  # the event's message id
    Column("person_code", LargeBinary, nullable=False, index=True),
    Column("purpose", String(200), nullable=False),
    Column("recipient", String(32)),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("given_by", String(32), nullable=False),  # portal, or the institution with a token
)

consent_tokens = Table(
    "consent_tokens",
    metadata,
    Column("token_id", String(36), primary_key=True),
    Column("person_code", LargeBinary, nullable=False, index=True),
    Column("institution", String(32), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # of the token itself
    Column("consent_until", DateTime(timezone=True)),  # of the consent it gives
)

proxies = Table(
    "proxies",
    metadata,
    Column("proxy_id", String(36), primary_key=True),
    Column("principal_code", LargeBinary, nullable=False, index=True),
    Column("proxy_code", LargeBinary, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # LEGAL / VOLUNTARY
    Column("scope", JSON, nullable=False),  # sectors or purposes, or ["*"]
    Column("expires_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),  # see portal.access.ProxyStatus
    Column("proposed_by", String(16), nullable=False),  # PRINCIPAL / PROXY / MUNICIPALITY
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("principal_code", "proxy_code", "created_at"),
)

proxy_views = Table(
    "proxy_views",
    metadata,
    Column("view_id", Integer, primary_key=True, autoincrement=True),
    Column("principal_code", LargeBinary, nullable=False, index=True),
    Column("proxy_code", LargeBinary, nullable=False),
    Column("viewed_at", DateTime(timezone=True), nullable=False),
    Column("what", String(200), nullable=False),  # page and filter, never values
)

consumed_offsets = Table(
    "consumed_offsets",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)
