"""apps keep the previous client secret's hash during a rotation's grace period

Revision ID: 1801
Revises: 1501
Create Date: 2026-11-30 05:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = '1801'
down_revision = '1501'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_until')
        batch_op.drop_column('previous_secret_hash')
