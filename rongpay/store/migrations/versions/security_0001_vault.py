"""Security: the card vault's sealed records (`vault_cards`).

Revision ID: security_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "security_0001"
down_revision = None
branch_labels = ("security",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_cards",
        sa.Column("token", sa.String(40), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(128), nullable=False),
        sa.Column("brand", sa.String(16), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("exp_month", sa.SmallInteger, nullable=False),
        sa.Column("exp_year", sa.SmallInteger, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_vault_cards_fingerprint", "vault_cards", ["fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_vault_cards_fingerprint", table_name="vault_cards")
    op.drop_table("vault_cards")
