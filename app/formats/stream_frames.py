"""Translated streams as SSE frames: native events in, the client's format out.

The first frame is produced only after the upstream's first event has arrived, so the pipeline's
priming read still sees an upstream that fails before saying anything.
"""
import orjson

from . import anthropic_messages, openai_chat, openai_responses
from .reasoning_carry import reasoning_in_signature
from .sse import DONE, encode
from .stream_from_responses import ResponsesToChatStream
from .translate_stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream


def openai_from_anthropic(events, meter, model, wants_usage):
    """Anthropic events from the vendor → OpenAI chunks for the client, ending in [DONE].
    model: the upstream model sent, for a vendor that names none."""
    return _chat_frames(anthropic_messages.events_of(events), meter,
                        AnthropicToOpenAIStream(model, include_usage=wants_usage))


def _chat_frames(named_events, meter, translator):
    """(event, name, data) of a vendor's stream → OpenAI chunk frames, ending in [DONE]."""
    for _, name, data in named_events:
        meter.observe(name, data)
        for chunk in translator.feed(name, data):
            yield encode(orjson.dumps(chunk))
    for chunk in translator.finish():
        yield encode(orjson.dumps(chunk))
    yield DONE


def anthropic_from_openai(events, meter, model, input_tokens):
    """OpenAI chunks from the vendor → Anthropic events for the client (no [DONE]).
    model: the upstream model sent, for a vendor that names none."""
    translator = OpenAIToAnthropicStream(model, input_tokens)
    yield from _frames(openai_chat.translated(events, meter, translator))
    yield from _frames(translator.finish())


def chat_from_responses(events, meter, model, wants_usage):
    """Responses events from the vendor → OpenAI chunks for the client, ending in [DONE].
    model: the upstream model sent, for a vendor that names none."""
    return _chat_frames(openai_responses.events_of(events), meter,
                        ResponsesToChatStream(model, include_usage=wants_usage))


def anthropic_from_responses(events, meter, model, input_tokens):
    """Responses events from the vendor → Anthropic events for the client, through the Chat
    Completions pivot (Responses → chunks → Anthropic events, dicts all the way). A reasoning
    item, when done, signs the thinking block its summary streamed in (reasoning_carry.py), as
    Anthropic's own signature_delta ends a thinking block."""
    to_chat = ResponsesToChatStream(model, include_usage=True)
    to_anthropic = OpenAIToAnthropicStream(model, input_tokens)
    for _, name, data in openai_responses.events_of(events):
        meter.observe(name, data)
        for chunk in to_chat.feed(name, data):
            if not _carries_thinking(chunk):  # signed already, below
                yield from _frames(to_anthropic.start(chunk) + to_anthropic.feed(chunk))
        item = data.get("item")
        if name == "response.output_item.done" and isinstance(item, dict) \
                and item.get("type") == "reasoning":
            yield from _frames(to_anthropic.sign_thinking(reasoning_in_signature(item)))
    for chunk in to_chat.finish():
        if not _carries_thinking(chunk):
            yield from _frames(to_anthropic.start(chunk) + to_anthropic.feed(chunk))
    yield from _frames(to_anthropic.start())
    yield from _frames(to_anthropic.finish())


def _carries_thinking(chunk):
    choices = chunk.get("choices") or ()
    return any("thinking_blocks" in choice.get("delta", {}) for choice in choices)


def _frames(events):
    for name, data in events:
        yield anthropic_messages.frame(name, data)
