"""People in the web UI: users, their sessions and sign-in throttling; users in the log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        # The TOTP secret, sealed with a key from the vault (AES-GCM).
        sa.Column("totp_secret", sa.Text, nullable=True),
        sa.Column("totp_enrolled_at", TS, nullable=True),
        # The last time step accepted: a code is good once (RFC 6238 §5.2).
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("oidc_issuer", sa.String(300), nullable=True),
        sa.Column("oidc_subject", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject"),
    )
    op.create_index("ix_app_user_agency", "app_user", ["agency_id"])
    op.create_table(
        "web_session",
        # SHA-256 of the token in the cookie: a copy of this table opens no session.
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
    )
    op.create_index("ix_web_session_user", "web_session", ["user_id"])
    op.create_table(
        "login_throttle",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )
    op.add_column("audit_leaf", sa.Column("actor_user", sa.String(64), nullable=True))
    op.create_index("ix_audit_leaf_user", "audit_leaf", ["actor_user", "leaf_index"])
    op.create_index("ix_audit_leaf_system", "audit_leaf", ["actor_system", "leaf_index"])


def downgrade() -> None:
    raise RuntimeError("Users and their trail cannot be downgraded.")
