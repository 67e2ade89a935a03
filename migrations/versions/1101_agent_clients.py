"""Agent clients: self-registered apps, resource URIs and token audiences

Apps may have no owning tenant (self-registered through RFC 7591 or a Client ID Metadata
Document) and say how they were registered; resource servers own resource URIs (RFC 8707);
codes, device codes and tokens remember the resources of their grant, tokens their audience.

Revision ID: 1101
Revises: 1201
Create Date: 2026-11-30 05:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '1101'
down_revision = '1201'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.alter_column('tenant_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        batch_op.add_column(sa.Column('registration', sa.String(length=24), server_default='managed', nullable=False))
        batch_op.add_column(sa.Column('registration_token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('metadata_url', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('client_metadata', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('consented_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_apps_metadata_url', ['metadata_url'])
    with op.batch_alter_table('resource_servers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), server_default='[]', nullable=False))
    op.create_table('resource_uris',
    sa.Column('uri', sa.String(length=512), nullable=False),
    sa.Column('resource_server_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['resource_server_id'], ['resource_servers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('uri')
    )
    with op.batch_alter_table('resource_uris', schema=None) as batch_op:
        batch_op.create_index('ix_resource_uris_resource_server_id', ['resource_server_id'], unique=False)
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))
    with op.batch_alter_table('device_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('device_codes', schema=None) as batch_op:
        batch_op.drop_column('resources')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('resources')
    with op.batch_alter_table('oauth_tokens', schema=None) as batch_op:
        batch_op.drop_column('resources')
        batch_op.drop_column('audience')
    with op.batch_alter_table('resource_uris', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_uris_resource_server_id')
    op.drop_table('resource_uris')
    with op.batch_alter_table('resource_servers', schema=None) as batch_op:
        batch_op.drop_column('resources')
    # Self-registered apps have no tenant to return to.
    op.execute("DELETE FROM apps WHERE tenant_id IS NULL")
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_constraint('uq_apps_metadata_url', type_='unique')
        batch_op.drop_column('consented_at')
        batch_op.drop_column('client_metadata')
        batch_op.drop_column('metadata_url')
        batch_op.drop_column('registration')
        batch_op.drop_column('registration_token_hash')
        batch_op.alter_column('tenant_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False)
