"""consent tokens the person issued (shown on the consents page; the token itself is not kept)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_tokens",
        sa.Column("token_id", sa.String(length=36), nullable=False),
        sa.Column("person_code", sa.LargeBinary(), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_id"),
    )
    with op.batch_alter_table("consent_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_tokens_person_code"), ["person_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_tokens_person_code"))
    op.drop_table("consent_tokens")
