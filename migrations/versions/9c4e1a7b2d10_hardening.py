"""client request ids beside the gateway's, admin-fixed key limits, the installation id

Revision ID: 9c4e1a7b2d10
Revises: b50228648513
Create Date: 2026-12-01 07:00:00

"""
import uuid

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9c4e1a7b2d10'
down_revision = 'b50228648513'
branch_labels = None
depends_on = None


def upgrade():
    settings = op.create_table(
        'gateway_settings',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_gateway_settings')),
    )
    op.bulk_insert(settings, [{'name': 'installation_id', 'value': uuid.uuid4().hex}])
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_limits', sa.JSON(), nullable=True))
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_request_id', sa.String(length=128), nullable=True))
        batch_op.create_index('ix_request_logs_client_request_id', ['client_request_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_request_logs_client_request_id')
        batch_op.drop_column('client_request_id')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('admin_limits')
    op.drop_table('gateway_settings')
