"""lifecycle events: subscriptions, the events outbox, deliveries and their attempts

Revision ID: 1701
Revises: 0002
Create Date: 2026-11-30 05:20:00

"""

from alembic import op
import sqlalchemy as sa


revision = "1701"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "event_subscriptions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("client_id", sa.String(length=19), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_event_subscriptions_client_id", "event_subscriptions", ["client_id"], unique=False
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.String(length=19), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_client_time", "events", ["client_id", "created_at"], unique=False)
    op.create_table(
        "event_deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_event_deliveries_status"
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["event_subscriptions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_event_deliveries_due", "event_deliveries", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_event_deliveries_subscription",
        "event_deliveries",
        ["subscription_id", "id"],
        unique=False,
    )
    op.create_table(
        "event_attempts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("delivery_id", BigId, nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["event_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_event_attempts_delivery", "event_attempts", ["delivery_id", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_event_attempts_delivery", table_name="event_attempts")
    op.drop_table("event_attempts")
    op.drop_index("ix_event_deliveries_subscription", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_due", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_events_client_time", table_name="events")
    op.drop_table("events")
    op.drop_index("ix_event_subscriptions_client_id", table_name="event_subscriptions")
    op.drop_table("event_subscriptions")
