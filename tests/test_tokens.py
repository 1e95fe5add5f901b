"""The quick token estimate used for reservations: close to the real count for ordinary text,
media counted flat, and the tokenizer (≈135 MB) not loaded by it."""
import subprocess
import sys

from app.gateway import tokens

ENGLISH = ("The gateway checks the caller's key, its limits and budget, picks a deployment and "
           "streams the answer back. ") * 20
CODE = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))  # 3\n" * 20
CJK = "大型语言模型网关检查调用者的密钥、限制和预算。" * 20
JSON = '{"type":"object","properties":{"city":{"type":"string","description":"City"}}}' * 10


def test_estimate_is_close_to_the_bpe_count():
    # the long ones (over 3 × SAMPLE characters) are estimated from three slices
    for text in (ENGLISH, CODE, CJK, JSON, ENGLISH * 40 + CODE * 40, CJK * 30):
        body = {"messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": text}]}
        exact = tokens.count_chat_tokens(body, "gpt-4o")
        estimated = tokens.estimate_input(body)
        assert 0.9 * exact <= estimated <= 2 * exact, (exact, estimated)


def test_anthropic_system_blocks_and_tools_count():
    bare = {"messages": [{"role": "user", "content": "hi"}]}
    full = {**bare, "system": [{"type": "text", "text": "lorem ipsum " * 75}],
            "tools": [{"name": "get_weather", "description": "lorem ipsum " * 75,
                       "input_schema": {"type": "object"}}]}
    assert tokens.estimate_input(full) >= tokens.estimate_input(bare) + 300


def test_media_counts_flat_whatever_its_size():
    def with_image(data):
        return {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": data}}]}]}

    small, large = with_image("A" * 100), with_image("A" * 4_000_000)
    assert tokens.estimate_input(small) == tokens.estimate_input(large)
    assert tokens.estimate_input(small) >= tokens.IMAGE_TOKENS


def test_estimate_does_not_load_the_tokenizer():
    code = ("import sys; from app.gateway import tokens; "
            "tokens.estimate_input({'messages': [{'role': 'user', 'content': 'hi'}]}); "
            "print('bpe_openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
