"""read model: accounts, provision records, notices, consents, proxies, offsets

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("link_code", sa.LargeBinary(), nullable=False),
        sa.Column("handle", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
        sa.UniqueConstraint("handle"),
        sa.UniqueConstraint("link_code"),
        sa.UniqueConstraint("subject"),
    )
    op.create_table(
        "chain_heads",
        sa.Column("chain_partition", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("chain_partition"),
    )
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("person_code", sa.LargeBinary(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("given_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("consent_id"),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_person_code"), ["person_code"], unique=False)

    op.create_table(
        "consumed_offsets",
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("person_code", sa.LargeBinary(), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("encoded", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_person_code"), ["person_code"], unique=False)

    op.create_table(
        "provision_records",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("subject_code", sa.LargeBinary(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("sector", sa.String(length=32), nullable=True),
        sa.Column("legal_basis_row", sa.String(length=64), nullable=True),
        sa.Column("table_version", sa.String(length=64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("trigger_event_id", sa.String(length=36), nullable=True),
        sa.Column("proxy_code", sa.LargeBinary(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("over_provided", sa.JSON(), nullable=False),
        sa.Column("chain_partition", sa.Integer(), nullable=False),
        sa.Column("chain_sequence", sa.BigInteger(), nullable=False),
        sa.Column("chain_verified", sa.Boolean(), nullable=False),
        sa.Column("encoded", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("provision_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provision_records_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provision_records_proxy_code"), ["proxy_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provision_records_subject_code"), ["subject_code"], unique=False
        )

    op.create_table(
        "proxies",
        sa.Column("proxy_id", sa.String(length=36), nullable=False),
        sa.Column("principal_code", sa.LargeBinary(), nullable=False),
        sa.Column("proxy_code", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("proxy_id"),
        sa.UniqueConstraint("principal_code", "proxy_code", "created_at"),
    )
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proxies_principal_code"), ["principal_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_proxies_proxy_code"), ["proxy_code"], unique=False)

    op.create_table(
        "proxy_views",
        sa.Column("view_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal_code", sa.LargeBinary(), nullable=False),
        sa.Column("proxy_code", sa.LargeBinary(), nullable=False),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("what", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("view_id"),
    )
    with op.batch_alter_table("proxy_views", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proxy_views_principal_code"), ["principal_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("proxy_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_views_principal_code"))

    op.drop_table("proxy_views")
    with op.batch_alter_table("proxies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxies_proxy_code"))
        batch_op.drop_index(batch_op.f("ix_proxies_principal_code"))

    op.drop_table("proxies")
    with op.batch_alter_table("provision_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_records_subject_code"))
        batch_op.drop_index(batch_op.f("ix_provision_records_proxy_code"))
        batch_op.drop_index(batch_op.f("ix_provision_records_occurred_at"))

    op.drop_table("provision_records")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_person_code"))

    op.drop_table("notices")
    op.drop_table("consumed_offsets")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_person_code"))

    op.drop_table("consents")
    op.drop_table("chain_heads")
    op.drop_table("accounts")
