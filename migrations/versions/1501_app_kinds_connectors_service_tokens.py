"""App kinds, connectors with channel-app bindings, and service access tokens

Revision ID: 1501
Revises: 1701
Create Date: 2026-11-30 05:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '1501'
down_revision = '1701'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('connectors',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('connectors', schema=None) as batch_op:
        batch_op.create_index('ix_connectors_tenant_id', ['tenant_id'], unique=False)

    op.create_table('service_tokens',
    sa.Column('id', BigId, nullable=False),
    sa.Column('tenant_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.Column('workspace_ids', sa.JSON(), nullable=False),
    sa.Column('created_by', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.Column('last_used_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('service_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_service_tokens_tenant_id', ['tenant_id'], unique=False)

    op.create_table('service_token_workspaces',
    sa.Column('token_id', BigId, nullable=False),
    sa.Column('workspace_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['service_tokens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id', 'workspace_id')
    )
    with op.batch_alter_table('service_token_workspaces', schema=None) as batch_op:
        batch_op.create_index(
            'ix_service_token_workspaces_workspace_id', ['workspace_id'], unique=False
        )

    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('app_kind', sa.String(length=16), server_default='normal', nullable=False)
        )
        batch_op.add_column(sa.Column('connector_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('connector_binding', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_apps_connector_id', ['connector_id'], unique=False)
        batch_op.create_check_constraint(
            'ck_apps_app_kind', "app_kind IN ('normal', 'channel', 'privileged')"
        )

    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connector_binding', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('bot_ids', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_column('bot_ids')
        batch_op.drop_column('connector_binding')

    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_constraint('ck_apps_app_kind', type_='check')
        batch_op.drop_index('ix_apps_connector_id')
        batch_op.drop_column('connector_binding')
        batch_op.drop_column('connector_id')
        batch_op.drop_column('app_kind')

    with op.batch_alter_table('service_token_workspaces', schema=None) as batch_op:
        batch_op.drop_index('ix_service_token_workspaces_workspace_id')
    op.drop_table('service_token_workspaces')
    with op.batch_alter_table('service_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_service_tokens_tenant_id')
    op.drop_table('service_tokens')
    with op.batch_alter_table('connectors', schema=None) as batch_op:
        batch_op.drop_index('ix_connectors_tenant_id')
    op.drop_table('connectors')
