"""Publish/subscribe: the record feed, subscriptions, dead letters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The feed order (DESIGN §9): positions given by the integrator, gap-free, in the
    # order the publishes' audit entries were integrated.
    op.create_table(
        "record_feed",
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record_pk", sa.Integer, sa.ForeignKey("record.pk"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("leaf_index", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("record_pk", "version"),
    )
    # The integrator finds the versions a publish created by its audit entry.
    op.create_index("ix_record_version_audit_entry", "record_version", ["audit_entry_id"])
    op.create_table(
        "subscription",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("types", sa.String(100), nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("endpoint", sa.String(500), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        # Push delivery: retries with backoff until delivered or parked.
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("failing_since", TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_subscription_agency", "subscription", ["agency_id", "state"])
    op.create_index("ix_subscription_due", "subscription", ["mode", "state", "next_attempt_at"])
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscription_id", sa.String(36), sa.ForeignKey("subscription.id"), nullable=False
        ),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("parked_at", TS, nullable=False),
        sa.Column("redriven_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
    )
    op.create_index("ix_dead_letter_subscription", "dead_letter", ["subscription_id", "state"])
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER record_feed_append_only BEFORE UPDATE OR DELETE ON record_feed "
            "FOR EACH ROW EXECUTE FUNCTION exchange_append_only()"
        )
        op.execute(
            "CREATE TRIGGER record_feed_no_truncate BEFORE TRUNCATE ON record_feed "
            "FOR EACH STATEMENT EXECUTE FUNCTION exchange_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER record_feed_no_{event.lower()} BEFORE {event} ON record_feed "
            "BEGIN SELECT RAISE(ABORT, 'record_feed is append-only'); END"
        )


def downgrade() -> None:
    raise RuntimeError("The feed cannot be downgraded.")
