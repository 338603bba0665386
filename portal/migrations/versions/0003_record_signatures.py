"""whether each provision record's hub signature verified (None: no key configured)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provision_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature_verified", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provision_records", schema=None) as batch_op:
        batch_op.drop_column("signature_verified")
