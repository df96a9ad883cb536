"""Custodial signing keys held by the exchange for agencies without a system, and the
spreadsheets liaison officers upload for import, kept between the report and the confirmation.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "signing_key",
        sa.Column("custodial", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "custodial_key",
        sa.Column("kid", sa.String(64), sa.ForeignKey("signing_key.kid"), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        # The private key as PKCS#8 PEM, encrypted under the vault's passphrase.
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_custodial_key_agency", "custodial_key", ["agency_id"])
    op.create_table(
        "import_upload",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(32), sa.ForeignKey("agency.id"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("encoding", sa.String(40), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
    )
    op.create_index("ix_import_upload_user", "import_upload", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_import_upload_user", "import_upload")
    op.drop_table("import_upload")
    op.drop_index("ix_custodial_key_agency", "custodial_key")
    op.drop_table("custodial_key")
    op.drop_column("signing_key", "custodial")
