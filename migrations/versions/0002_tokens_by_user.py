"""oauth_tokens indexed by (user_id, client_id) instead of (client_id, user_id)

Revoking a consent looks tokens up by user and app, removing a member by user and tenant: an
index led by user_id serves both; app-wide lookups already use (client_id, tenant_id).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:20:00

"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_oauth_tokens_client_user')
        batch_op.create_index('ix_oauth_tokens_user_client', ['user_id', 'client_id'], unique=False)


def downgrade():
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_oauth_tokens_user_client')
        batch_op.create_index('ix_oauth_tokens_client_user', ['client_id', 'user_id'], unique=False)
