"""Translated streams as SSE frames: native events in, the client's format out.

The first frame is produced only after the upstream's first event has arrived, so the pipeline's
priming read still sees an upstream that fails before saying anything.
"""
import orjson

from . import anthropic_messages, openai_chat
from .sse import DONE, encode
from .translate_stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream


def openai_from_anthropic(events, meter, model, wants_usage):
    """Anthropic events from the vendor → OpenAI chunks for the client, ending in [DONE].
    model: the upstream model sent, for a vendor that names none."""
    translator = AnthropicToOpenAIStream(model, include_usage=wants_usage)
    for _, name, data in anthropic_messages.events_of(events):
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
    started = False
    for _, chunk in openai_chat.chunks(events):
        if not started:
            started = True
            yield from _frames(translator.start(chunk))
        meter.observe(chunk)
        yield from _frames(translator.feed(chunk))
    if not started:
        yield from _frames(translator.start())
    yield from _frames(translator.finish())


def _frames(events):
    for name, data in events:
        yield anthropic_messages.frame(name, data)
