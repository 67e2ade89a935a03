"""refused installation requests are kept for the member who asked

Revision ID: 1802_console
Revises: 1101
Create Date: 2026-11-30 08:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '1802_console'
down_revision = '1101'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'install_refusals',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('tenant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('client_id', sa.String(length=32), nullable=False),
        sa.Column('requested_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('refused_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('requested_at', sa.DateTime(), nullable=True),
        sa.Column('refused_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['apps.client_id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['refused_by'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('requested_by', 'tenant_id', 'client_id', name='uq_install_refusals_requester'),
    )
    with op.batch_alter_table('install_refusals', schema=None) as batch_op:
        batch_op.create_index('ix_install_refusals_client_id', ['client_id'], unique=False)


def downgrade():
    with op.batch_alter_table('install_refusals', schema=None) as batch_op:
        batch_op.drop_index('ix_install_refusals_client_id')
    op.drop_table('install_refusals')
