"""Streaming translation between OpenAI chat.completion.chunk dicts and Anthropic stream events.

Pure state machines on plain dicts, one module per direction: stream_to_anthropic.py (OpenAI
chunks → Anthropic events) and stream_to_openai.py (Anthropic events → OpenAI chunks). The
caller reads the upstream's SSE, parses each event, feeds it in, and encodes what comes out
(DESIGN §4, "Wire formats clients rely on"; stream_frames.py).

The `model` of a translated stream is the model the vendor reports, as on every route (see
translate_response.py): Anthropic `message_start.message.model`, or the `model` of the first
OpenAI chunk; the upstream model name the gateway sent only when the vendor names none.
"""
from .stream_to_anthropic import OpenAIToAnthropicStream
from .stream_to_openai import AnthropicToOpenAIStream

__all__ = ["AnthropicToOpenAIStream", "OpenAIToAnthropicStream"]
