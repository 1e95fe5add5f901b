"""request log client address: the socket's peer, or the address trusted proxies forwarded

Revision ID: e1f2a3b4c5d6
Revises: c7d3e5f1a2b4
Create Date: 2026-12-02 00:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e1f2a3b4c5d6'
down_revision = 'c7d3e5f1a2b4'
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch: on SQLite (3.35+ drops columns) a batch would copy the table
# and lose the expression index ix_request_logs_status_class_created_at.
def upgrade():
    op.add_column('request_logs', sa.Column('client_address', sa.String(length=64), nullable=True))


def downgrade():
    op.drop_column('request_logs', 'client_address')
