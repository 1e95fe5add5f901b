"""Codex's remote compaction, served for every model.

When Codex takes its provider for OpenAI's (the built-in provider pointed at the gateway), it
compacts a long conversation remotely: an ordinary /v1/responses request whose input ends with
`{"type": "compaction_trigger"}`, answered with exactly one output item of type `compaction`
(opaque `encrypted_content`); later requests send that item back in place of the history it
replaced. (Older Codex: POST /v1/responses/compact with {model, input, instructions}, answered
{"output": [items]}.) OpenAI's own compaction item is opaque and only OpenAI reads it.

On a translated route the gateway does it with the model: the trigger becomes a user message
asking for a hand-off summary (tool calls off), the answer's text becomes the compaction item,
its encrypted_content `gw-compaction.v1:` + base64url(the summary); sent back, the item becomes a
user message that opens with SUMMARY_PREFIX. A Responses-format vendor gets all of it unchanged.
"""
import base64
import uuid

PREFIX = "gw-compaction.v1:"
PROMPT = (
    "The conversation so far is about to be replaced by a summary written by you. Write that "
    "summary now, for whoever continues this work with no other memory of it: the goal and the "
    "user's requests and constraints, what has been done and found (files, commands, results, "
    "decisions), what is still open, and the next step. Be complete and concrete; keep names, "
    "paths and values exact. Answer with the summary only; call no tools.")
SUMMARY_PREFIX = "Summary of the earlier conversation (it was compacted):\n\n"


def is_trigger(item):
    return item.get("type") == "compaction_trigger"


def item(summary):
    """The compaction item of a summary."""
    encoded = base64.urlsafe_b64encode(summary.encode()).decode()
    return {"id": f"cmp_{uuid.uuid4().hex}", "type": "compaction",
            "encrypted_content": PREFIX + encoded}


def summary_of(item):
    """The summary a compaction item of this gateway carries, or None (OpenAI's own item)."""
    content = item.get("encrypted_content")
    if not isinstance(content, str) or not content.startswith(PREFIX):
        return None
    try:
        return base64.urlsafe_b64decode(content[len(PREFIX):].encode()).decode()
    except ValueError:
        return None
