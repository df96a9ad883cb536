"""Referrals between agencies: the signed referral, its receivers' parts, the signed steps,
attachments, the agencies' referral events, and the versioned referral policy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from exchange.referrals.policy import DEFAULT_REFERRAL_RULES

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = (
    "referral",
    "referral_step",
    "referral_attachment",
    "referral_event",
    "referral_policy_version",
)


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("pk", sa.Integer, primary_key=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("signature_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_referral_sender", "referral", ["sender_id", "issued_at"])
    op.create_table(
        "referral_receiver",
        sa.Column("referral_pk", sa.Integer, sa.ForeignKey("referral.pk"), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(300), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_referral_receiver_agency", "referral_receiver", ["agency_id", "state"])
    op.create_table(
        "referral_step",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referral_pk", sa.Integer, sa.ForeignKey("referral.pk"), nullable=False),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("signature_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_referral_step_referral", "referral_step", ["referral_pk", "received_at"])
    op.create_table(
        "referral_attachment",
        sa.Column("referral_pk", sa.Integer, sa.ForeignKey("referral.pk"), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "referral_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("referral_pk", sa.Integer, sa.ForeignKey("referral.pk"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("step_id", sa.String(36), nullable=True),
        sa.Column("audit_entry_id", sa.String(36), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("audit_entry_id", "agency_id", "referral_pk"),
    )
    op.create_index("ix_referral_event_agency", "referral_event", ["agency_id", "audit_entry_id"])
    policy = op.create_table(
        "referral_policy_version",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
    )
    op.bulk_insert(
        policy,
        [
            {
                "version": 1,
                "rules": json.dumps(DEFAULT_REFERRAL_RULES, sort_keys=True),
                "created_at": datetime.now(UTC),
                "created_by": "migration",
                "note": "default referral policy",
            }
        ],
    )
    for table in APPEND_ONLY:
        _append_only(table)


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    for table in reversed(APPEND_ONLY):
        if table != "referral":
            op.drop_table(table)
    op.drop_table("referral_receiver")
    op.drop_table("referral")
