"""Reasoning that crosses formats whole: the opaque field of one format carries the other's.

A model's reasoning can only be sent back to the vendor that produced it, in that vendor's own
form: Anthropic thinking blocks with their signature, OpenAI Responses reasoning items with their
encrypted_content. When a client of another format holds that history, the gateway hands it the
original inside the client format's own opaque field, and takes it out again when the history
comes back:

- an Anthropic thinking block (or redacted_thinking) reaching a Responses client becomes a
  reasoning item whose `encrypted_content` is `gw-thinking.v1:` + base64url(JSON of the block);
- a Responses reasoning item reaching a Chat Completions or an Anthropic client becomes a thinking
  block whose `signature` is `gw-reasoning.v1:` + base64url(JSON of the item).

Chat Completions is the pivot between formats: its assistant messages carry `thinking_blocks`
(the convention this gateway already uses for Anthropic's thinking), so a reasoning item travels
Responses → Chat → Anthropic and back as such a block. A value without the prefix is the vendor's
own and passes untouched.
"""
import base64

import orjson

THINKING_PREFIX = "gw-thinking.v1:"
REASONING_PREFIX = "gw-reasoning.v1:"


def _pack(prefix, value):
    return prefix + base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def _unpack(prefix, text):
    if not isinstance(text, str) or not text.startswith(prefix):
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(text[len(prefix):].encode()))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def thinking_in_encrypted_content(block):
    """An Anthropic thinking/redacted_thinking block as a Responses `encrypted_content`."""
    return _pack(THINKING_PREFIX, block)


def thinking_from_encrypted_content(text):
    """The Anthropic block carried by an `encrypted_content`, or None when it carries none."""
    block = _unpack(THINKING_PREFIX, text)
    return block if block and block.get("type") in ("thinking", "redacted_thinking") else None


def reasoning_in_signature(item):
    """A Responses reasoning item as the `signature` of a thinking block."""
    return _pack(REASONING_PREFIX, item)


def reasoning_from_signature(text):
    """The Responses reasoning item carried by a thinking block's signature, or None."""
    item = _unpack(REASONING_PREFIX, text)
    return item if item and item.get("type") == "reasoning" else None
