"""stored responses

Revision ID: 4d7e2a91c3b5
Revises: 9c4e1a7b2d10
Create Date: 2026-12-02 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '4d7e2a91c3b5'
down_revision = '9c4e1a7b2d10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'stored_responses',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('api_key_id', sa.Integer(), nullable=True),
        sa.Column('model', sa.String(length=200), nullable=True),
        sa.Column('previous_response_id', sa.String(length=64), nullable=True),
        sa.Column('input_items', sa.JSON(), nullable=False),
        sa.Column('instructions', sa.Text(), nullable=True),
        sa.Column('response', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_responses')),
    )
    with op.batch_alter_table('stored_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_responses_expires_at'), ['expires_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_stored_responses_previous_response_id'),
                              ['previous_response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('stored_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_responses_previous_response_id'))
        batch_op.drop_index(batch_op.f('ix_stored_responses_expires_at'))
    op.drop_table('stored_responses')
