import logging

import orjson
import psycopg2
from psycopg2.extras import Json, execute_values
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError

from ..extensions import db
from ..models import RequestLog
from . import keys

log = logging.getLogger(__name__)


_IDEMPOTENT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _insert():
    """INSERT … ON CONFLICT (request_id) DO NOTHING: a row written twice (a spooled batch
    replayed after a crash, a write that committed although it reported a failure) stays one
    row. Other databases get a plain INSERT; a duplicate there is rejected by the unique index.

    RETURNING makes SQLAlchemy send a batch as multi-row INSERTs ("insertmanyvalues"); without it,
    an ON CONFLICT insert goes row by row, one round trip each."""
    table = RequestLog.__table__
    dialect_insert = _IDEMPOTENT_INSERTS.get(db.engine.dialect.name)
    if dialect_insert is None:
        return insert(table)
    return (dialect_insert(table).on_conflict_do_nothing(index_elements=["request_id"])
            .returning(table.c.request_id))


_COLUMNS = [column for column in RequestLog.__table__.columns if column.name != "id"]
_VALUES_SQL = (f"INSERT INTO {RequestLog.__tablename__} "
               f"({', '.join(column.name for column in _COLUMNS)}) VALUES %s "
               "ON CONFLICT (request_id) DO NOTHING")
# Rows per INSERT statement: while one is sent, the worker's loop serves requests (psycogreen),
# so a 500-row batch does not hold it for the ~8 ms its encoding takes in one piece.
PAGE_ROWS = 100
_BAD_ROW = (IntegrityError, DataError, psycopg2.IntegrityError, psycopg2.DataError)


def _default(column):
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _dump_json(value):
    return orjson.dumps(value).decode()


def _insert_values(rows):
    """PostgreSQL: the batch as INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING statements of
    PAGE_ROWS rows, through psycopg2's execute_values, JSON by orjson. It costs the worker about
    14 µs a row; SQLAlchemy's insertmanyvalues, with the standard library's json for `attempts`,
    about 34 — and the log writer shares the worker's event loop with the requests."""
    values = []
    for row in rows:
        value = []
        for column in _COLUMNS:
            name = column.name
            item = row[name] if name in row else _default(column)
            if name == "attempts" and item is not None:
                item = Json(item, dumps=_dump_json)
            value.append(item)
        values.append(tuple(value))
    cursor = db.session.connection().connection.cursor()
    try:
        execute_values(cursor, _VALUES_SQL, values, page_size=PAGE_ROWS)
    finally:
        cursor.close()


def insert_batch(rows):
    """Insert rows (dicts of RequestLog columns; request_ids already written are skipped) and
    bump their keys' last_used_at; one commit. A batch with a row the database rejects is
    written row by row: the good rows are kept, the bad ones reported."""
    if not rows:
        return
    try:
        if db.engine.dialect.name == "postgresql":
            _insert_values(rows)
        else:
            result = db.session.execute(_insert(), rows)
            if result.returns_rows:
                result.all()
    except _BAD_ROW:
        db.session.rollback()
        rows = _insert_one_by_one(rows)
    last_used = {}
    for row in rows:
        key_id = row.get("api_key_id")
        if key_id is not None:
            last_used[key_id] = max(last_used.get(key_id, row["created_at"]), row["created_at"])
    keys.touch_last_used(last_used)
    db.session.commit()


def _insert_one_by_one(rows):
    """A batch with a bad row: keep every good one, report and skip the bad ones."""
    written = []
    for row in rows:
        try:
            with db.session.begin_nested():
                db.session.execute(_insert(), [row])
            written.append(row)
        except (IntegrityError, DataError) as exc:
            log.error("request log %s rejected by the database: %s", row.get("request_id"), exc)
    return written


def by_request_id(request_id):
    return db.session.scalar(select(RequestLog).where(RequestLog.request_id == request_id))


def recent(limit=100):
    return db.session.scalars(select(RequestLog).order_by(RequestLog.id.desc()).limit(limit)).all()
