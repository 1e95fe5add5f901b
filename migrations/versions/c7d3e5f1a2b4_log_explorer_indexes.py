"""indexes of the request-log explorer (/admin/logs): status code, status class, provider and
error type, each with created_at so a filter walks its index newest first

Revision ID: c7d3e5f1a2b4
Revises: 4d7e2a91c3b5
Create Date: 2026-12-02 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7d3e5f1a2b4'
down_revision = '4d7e2a91c3b5'
branch_labels = None
depends_on = None

ERRORS_ONLY = sa.text('error_type IS NOT NULL')


def upgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.create_index('ix_request_logs_status_code_created_at',
                              ['status_code', 'created_at'], unique=False)
        batch_op.create_index('ix_request_logs_status_class_created_at',
                              [sa.text('(status_code / 100)'), 'created_at'], unique=False)
        batch_op.create_index('ix_request_logs_provider_created_at',
                              ['provider', 'created_at'], unique=False)
        batch_op.create_index('ix_request_logs_error_type_created_at',
                              ['error_type', 'created_at'], unique=False,
                              postgresql_where=ERRORS_ONLY, sqlite_where=ERRORS_ONLY)


def downgrade():
    with op.batch_alter_table('request_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_request_logs_error_type_created_at')
        batch_op.drop_index('ix_request_logs_provider_created_at')
        batch_op.drop_index('ix_request_logs_status_class_created_at')
        batch_op.drop_index('ix_request_logs_status_code_created_at')
