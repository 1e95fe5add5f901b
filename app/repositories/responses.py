"""Stored responses (RESPONSES_STORE): save, load within the owner's scope, the chain behind a
previous_response_id, input items a page at a time, delete, purge of expired rows.

Every read is scoped to the owner and skips expired rows, so another owner's id and an expired
id look alike: absent. Content goes into JSON columns as the client sent it: the JSON text
escapes a NUL character as \\u0000, which PostgreSQL's json type keeps (jsonb would refuse it),
so it comes back exact. The two text columns are repaired like a request-log row's (a NUL
becomes the six characters \\u0000, text is cut to its column).
"""
from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from ..extensions import db
from ..models import StoredResponse
from .request_logs import storable_text

MAX_CHAIN = 10_000  # responses followed back from one previous_response_id
PURGE_BATCH = 500  # rows deleted per statement: a short lock, a bounded transaction
# The id prefix OpenAI gives each item type; an input item the client sent without an id gets
# one made from its response's id and its position, the same on every listing.
ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco",
                 "reasoning": "rs", "custom_tool_call": "ctc",
                 "custom_tool_call_output": "ctco", "web_search_call": "ws",
                 "item_reference": "ref"}


def _as_dict(row):
    return {"id": row.id, "owner": row.owner, "api_key_id": row.api_key_id, "model": row.model,
            "previous_response_id": row.previous_response_id, "input_items": row.input_items,
            "instructions": row.instructions, "response": row.response,
            "created_at": row.created_at, "expires_at": row.expires_at}


def save(row):
    """row: the StoredResponse's columns as a dict."""
    values = dict(row)
    for name, length in (("model", 200), ("instructions", None)):
        if values.get(name) is not None:
            values[name] = storable_text(values[name], length)
    db.session.add(StoredResponse(**values))
    db.session.commit()


def load(owner, response_id, now):
    """The stored response as a dict, or None when absent, expired or another owner's."""
    if not isinstance(response_id, str) or len(response_id) > 64:
        return None
    row = db.session.scalar(select(StoredResponse).where(
        StoredResponse.id == response_id, StoredResponse.owner == owner,
        StoredResponse.expires_at > now))
    return _as_dict(row) if row is not None else None


def chain(owner, response_id, now):
    """(the responses from the oldest to response_id, as dicts; the id of the first link that
    is missing — absent, expired or another owner's — or None when the chain is whole)."""
    rows, seen, current = [], set(), response_id
    while current is not None and current not in seen and len(rows) < MAX_CHAIN:
        seen.add(current)
        row = load(owner, current, now)
        if row is None:
            return rows[::-1], current
        rows.append(row)
        current = row["previous_response_id"]
    return rows[::-1], None


def delete(owner, response_id, now):
    """True when the owner's unexpired response existed and is deleted."""
    if not isinstance(response_id, str) or len(response_id) > 64:
        return False
    result = db.session.execute(sql_delete(StoredResponse).where(
        StoredResponse.id == response_id, StoredResponse.owner == owner,
        StoredResponse.expires_at > now))
    db.session.commit()
    return result.rowcount > 0


def purge(now, batch=PURGE_BATCH):
    """Delete up to `batch` expired responses; returns how many were deleted."""
    ids = select(StoredResponse.id).where(StoredResponse.expires_at <= now).limit(batch)
    result = db.session.execute(sql_delete(StoredResponse).where(
        StoredResponse.id.in_(ids.scalar_subquery())), execution_options={
            "synchronize_session": False})
    db.session.commit()
    return result.rowcount


def listed_item(response_id, index, item):
    """An input item as GET …/input_items shows it: with an id (the client's, or one made from
    the response's id and the item's position) and a message's type and content spelled out."""
    if not isinstance(item, dict):
        item = {"type": "message", "role": "user", "content": str(item)}
    out = dict(item)
    if "type" not in out and "role" in out:
        out["type"] = "message"
    if out.get("type") == "message" and isinstance(out.get("content"), str):
        kind = "output_text" if out.get("role") == "assistant" else "input_text"
        out["content"] = [{"type": kind, "text": out["content"]}]
    if not isinstance(out.get("id"), str) or not out["id"]:
        prefix = ITEM_PREFIXES.get(out.get("type"), "item")
        out["id"] = f"{prefix}_{response_id.removeprefix('resp_')}_{index}"
    return out


def page(items, *, after=None, before=None, limit=20, order="desc"):
    """One page of listed items (each with an id) in `order` (asc: as sent; desc: the last
    first): those after the item `after` and before the item `before` in that order, the first
    `limit` of them — or, with only `before`, the `limit` closest to it. Returns (page, has_more,
    the cursor that names no item or None)."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    start, end = 0, len(ordered)
    for cursor, is_after in ((after, True), (before, False)):
        if cursor is None:
            continue
        if cursor not in ids:
            return [], False, cursor
        position = ids.index(cursor)
        if is_after:
            start = max(start, position + 1)
        else:
            end = min(end, position)
    window = ordered[start:end]
    if before is not None and after is None:
        return window[-limit:], len(window) > limit, None
    return window[:limit], len(window) > limit, None
