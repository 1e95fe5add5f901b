"""Request-log rows: the batch insert of the log writer, and lookups.

A row the database could refuse for its content is repaired first (repair_row: NUL escaped,
text cut to its column, numbers held in their column's range); a row it still refuses is handed
back to the writer, which moves it to the dead-letter file: it never blocks the rows after it.
An error that says the database is unreachable or unusable (OUTAGE) fails the whole batch, which
the writer then spools and retries.
"""
import logging
from decimal import Decimal

import orjson
import psycopg2
import psycopg2.errors
from sqlalchemy import Integer, Numeric, String, insert, or_, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import RequestLog
from . import keys

log = logging.getLogger(__name__)

# Errors about the database, not about a row: the batch waits in the spool for the database.
OUTAGE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
          sa_exc.TimeoutError, psycopg2.OperationalError, psycopg2.InterfaceError,
          psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn,
          psycopg2.errors.InsufficientPrivilege, psycopg2.errors.ReadOnlySqlTransaction)


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
_NAMES = [column.name for column in _COLUMNS]
_RECORDSET_SQL = (f"INSERT INTO {RequestLog.__tablename__} ({', '.join(_NAMES)}) "
                  f"SELECT {', '.join(_NAMES)} FROM json_populate_recordset("
                  f"NULL::{RequestLog.__tablename__}, %s) ON CONFLICT (request_id) DO NOTHING")
# Rows per INSERT statement: while one is sent, the worker's loop serves requests (psycogreen),
# so the database parses a large batch in pieces, not in one statement the worker waits on; and
# a page is repaired and encoded just before it is sent, so the writer holds the worker's loop
# for one page at a time (~0.35 ms), never for a whole batch: a request arriving meanwhile
# waits for one page at most.
PAGE_ROWS = 50
INT_RANGE = (-(2**31), 2**31 - 1)  # INTEGER columns
NUL_ESCAPE = "\\u0000"  # what a NUL character becomes in a text column (PostgreSQL refuses NUL)


def storable_text(value, length=None):
    """value as text a text column takes: NUL escaped, lone surrogates replaced, cut to length."""
    if not isinstance(value, str):
        value = str(value)
    if "\x00" in value:
        value = value.replace("\x00", NUL_ESCAPE)
    try:
        value.encode()
    except UnicodeEncodeError:  # lone surrogates
        value = value.encode("utf-8", "replace").decode()
    return value[:length] if length and len(value) > length else value


_TEXT = [(c.name, c.type.length) for c in _COLUMNS if isinstance(c.type, String)]
_INTEGERS = [c.name for c in _COLUMNS if isinstance(c.type, Integer)]
_AMOUNTS = [(c.name, Decimal(10) ** (c.type.precision - c.type.scale) - 1)
            for c in _COLUMNS if isinstance(c.type, Numeric)]


def repair_row(row):
    """The row with every value its column could refuse repaired: NUL escaped and text cut to
    the column's length, integers and amounts held in their column's range. Cheap when there is
    nothing to repair (the log writer runs it on every row)."""
    out = dict(row)
    for name, length in _TEXT:
        value = out.get(name)
        if value is not None and (type(value) is not str or "\x00" in value
                                  or (length and len(value) > length) or not value.isascii()):
            out[name] = storable_text(value, length)
    for name in _INTEGERS:
        value = out.get(name)
        if type(value) is int and not INT_RANGE[0] <= value <= INT_RANGE[1]:
            out[name] = min(max(value, INT_RANGE[0]), INT_RANGE[1])
    for name, limit in _AMOUNTS:
        value = out.get(name)
        if isinstance(value, Decimal | int) and not -limit <= value <= limit:
            out[name] = min(max(Decimal(value), -limit), limit)
    return out


def _default(column):
    default = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)  # exact: the column's numeric input reads it
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _insert_values(rows):
    """PostgreSQL: the batch as INSERT … SELECT … FROM json_populate_recordset(…) ON CONFLICT
    DO NOTHING statements of PAGE_ROWS rows, each row a JSON object made by orjson. That costs
    the worker an eighth of what psycopg2's execute_values (a literal per value, in Python)
    did: 6 against 50 µs a row on a loaded day of the benchmark machine — and the log writer
    shares the worker's event loop with the requests. The database reads each value with its
    column's own input function."""
    defaults = {column.name: _default(column) for column in _COLUMNS}
    cursor = db.session.connection().connection.cursor()
    try:
        for start in range(0, len(rows), PAGE_ROWS):
            page = [{**defaults, **{name: row[name] for name in _NAMES if name in row}}
                    for row in map(repair_row, rows[start:start + PAGE_ROWS])]
            cursor.execute(_RECORDSET_SQL, (orjson.dumps(page, default=_json_default).decode(),))
    finally:
        cursor.close()


def insert_batch(rows):
    """Insert rows (dicts of RequestLog columns; request_ids already written are skipped) and
    bump their keys' last_used_at; one commit. Returns the rows the database refused, as
    [(row, reason)]: a batch with such a row is written row by row, keeping every good one.
    Raises OUTAGE errors (nothing is written then)."""
    if not rows:
        return []
    refused = []
    try:
        if db.engine.dialect.name == "postgresql":
            _insert_values(rows)
        else:
            result = db.session.execute(_insert(), [repair_row(row) for row in rows])
            if result.returns_rows:
                result.all()
    except OUTAGE:
        db.session.rollback()
        raise
    except Exception:
        db.session.rollback()
        rows, refused = _insert_one_by_one([repair_row(row) for row in rows])
    last_used = {}
    for row in rows:
        key_id = row.get("api_key_id")
        if key_id is not None:
            last_used[key_id] = max(last_used.get(key_id, row["created_at"]), row["created_at"])
    keys.touch_last_used(last_used)
    db.session.commit()
    return refused


def _insert_one_by_one(rows):
    """A batch with a bad row: (written rows, [(refused row, reason)])."""
    written, refused = [], []
    for row in rows:
        try:
            with db.session.begin_nested():
                db.session.execute(_insert(), [row])
            written.append(row)
        except OUTAGE:
            db.session.rollback()
            raise
        except Exception as exc:
            refused.append((row, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"))
    return written, refused


def by_request_id(request_id):
    return db.session.scalar(select(RequestLog).where(RequestLog.request_id == request_id))


def find(request_id, limit=20):
    """Rows whose gateway id or client id is request_id, newest first."""
    return db.session.scalars(
        select(RequestLog).where(or_(RequestLog.request_id == request_id,
                                     RequestLog.client_request_id == request_id))
        .order_by(RequestLog.id.desc()).limit(limit)).all()


def recent(limit=100):
    return db.session.scalars(select(RequestLog).order_by(RequestLog.id.desc()).limit(limit)).all()
