"""Subscriptions follow a feed: the record feed, or the agency's referral events.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscription",
        sa.Column("feed", sa.String(16), nullable=False, server_default="records"),
    )


def downgrade() -> None:
    op.drop_column("subscription", "feed")
