"""Malformed input gets a 400 naming the field (or a 405 with `Allow`), never a 500: one case per
input the fuzzers found, on both surfaces and towards both vendor formats."""
import pytest

from app.formats.checks import MAX_JSON_DEPTH
from tests.conftest import create_key
from tests.fuzz_helpers import assert_anthropic_error, assert_openai_error

HI = [{"role": "user", "content": "hi"}]
ADMIN = "admin@example.com"


def chat(client, key, body):
    return client.post("/v1/chat/completions", json=body,
                       headers={"Authorization": f"Bearer {key}"})


def messages(client, key, body, path="/v1/messages"):
    return client.post(path, json=body, headers={"x-api-key": key})


def bad_chat(client, key, body, param):
    response = chat(client, key, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = assert_openai_error(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    return error


def bad_messages(client, key, body, field, path="/v1/messages"):
    response = messages(client, key, body, path)
    assert response.status_code == 400, response.get_data(as_text=True)
    error = assert_anthropic_error(response)
    assert error["type"] == "invalid_request_error"
    assert f"'{field}'" in error["message"], error
    return error


def nested(depth):
    value = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def key(app):
    return create_key(app)


@pytest.fixture
def admin_key(app, admin_user):
    return create_key(app, ADMIN)


# --- /v1/messages towards an OpenAI-format model (the translators used to crash) ---------------

@pytest.mark.parametrize(("body", "field"), [
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "messages[0].content[0]"),
    ({"messages": HI, "system": [None]}, "system[0]"),
    ({"messages": HI, "tools": ["x"]}, "tools[0]"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
     "messages[0].content[0].source"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [None]}]}]},
     "messages[0].content[0].content[0]"),
    ({"messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "f", "input": "x"}]}]},
     "messages[0].content[0].input"),
    ({"messages": HI, "system": [{"type": "text"}]}, "system[0].text"),
    ({"messages": HI, "tools": [{"name": "f", "input_schema": "x"}]},
     "tools[0].input_schema"),
    ({"messages": HI, "tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"messages": HI, "stop_sequences": [1]}, "stop_sequences[0]"),
    ({"messages": HI, "metadata": {"user_id": 5}}, "metadata.user_id"),
    ({"messages": HI, "thinking": {"type": "enabled", "budget_tokens": "many"}},
     "thinking.budget_tokens"),
])
def test_malformed_messages_to_an_openai_model_are_400(client, key, body, field):
    bad_messages(client, key, {"model": "gpt-test", "max_tokens": 10, **body}, field)


def test_count_tokens_checks_the_blocks_too(client, key):
    bad_messages(client, key, {"model": "gpt-test", "messages": [
        {"role": "user", "content": ["hi"]}]}, "messages[0].content[0]",
        path="/v1/messages/count_tokens")


# --- /v1/chat/completions towards an Anthropic-format model -----------------------------------

@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": [None]}]}, "messages[0].content[0]"),
    ({"messages": [*HI, {"role": "assistant", "content": None, "tool_calls": [None]}]},
     "messages[1].tool_calls[0]"),
    ({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_data": 5}}]}]}, "messages[0].content[0].file.file_data"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
     "messages[0].content[0].image_url"),
    ({"messages": [*HI, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].tool_call_id"),
    ({"messages": [{"role": "system", "content": [{"type": "text", "text": None}]}, *HI]},
     "messages[0].content[0].text"),
    ({"messages": HI, "tools": [None]}, "tools[0]"),
    ({"messages": HI, "tools": [{"type": "function", "function": {"name": 1}}]},
     "tools[0].function.name"),
    ({"messages": HI, "tools": [{"type": "function",
                                 "function": {"name": "f", "parameters": []}}]},
     "tools[0].function.parameters"),
    ({"messages": HI, "tool_choice": "sometimes"}, "tool_choice"),
    ({"messages": HI, "tool_choice": {"type": "function", "function": {}}},
     "tool_choice.function.name"),
    ({"messages": HI, "stop": ["a", 1]}, "stop[1]"),
    ({"messages": HI, "user": 5}, "user"),
])
def test_malformed_chat_to_an_anthropic_model_is_400(client, key, body, param):
    bad_chat(client, key, {"model": "claude-test", **body}, param)


def test_unknown_part_types_still_reach_an_openai_format_vendor(client, key, upstream):
    """Pass-through: a part type the gateway does not know is the vendor's to judge."""
    part = {"type": "future_part", "anything": [1, {"x": None}]}
    response = chat(client, key, {"model": "gpt-test", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, part]}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert upstream.last().json["messages"][0]["content"][1] == part


def test_unknown_block_types_to_an_openai_model_are_left_out_not_500(client, key, upstream):
    response = messages(client, key, {"model": "gpt-test", "max_tokens": 10, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "search_result", "source": 5}]}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert upstream.last().json["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}]


# --- JSON nested deeper than the cap, in any field --------------------------------------------

@pytest.mark.parametrize("model", ["gpt-test", "claude-test"])
def test_deep_nesting_in_a_forwarded_field_is_400(client, key, model):
    """255+ levels used to pass parsing and break orjson's re-encoding upstream (500)."""
    bad_chat(client, key, {"model": model, "messages": HI, "metadata": nested(300)}, "metadata")


def test_deep_nesting_is_400_on_the_anthropic_surface(client, key):
    bad_messages(client, key, {"model": "claude-test", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "x", "extra": nested(300)}]}]},
        "messages")


def test_deep_nesting_with_a_tpm_limit_is_400(app, client):
    """The token estimate for TPM limits walked the body recursively (RecursionError)."""
    key = create_key(app, tpm=100_000)
    deep = "[" * 1000 + '"x"' + "]" * 1000  # beyond what Python's json module can encode
    raw = ('{"model": "gpt-test", "messages": [{"role": "user", "content": [{"type": "text", '
           '"text": "x", "extra": ' + deep + "}]}]}")
    response = client.post("/v1/chat/completions", data=raw, content_type="application/json",
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == "messages"


def test_nesting_up_to_the_cap_is_accepted(client, key, upstream):
    depth = MAX_JSON_DEPTH - 1  # the body object is level 1
    response = chat(client, key, {"model": "gpt-test", "messages": HI,
                                  "metadata": nested(depth)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert upstream.last().json["metadata"] == nested(depth)
    bad_chat(client, key, {"model": "gpt-test", "messages": HI,
                           "metadata": nested(depth + 1)}, "metadata")


def test_deep_nesting_in_an_admin_body_is_400(client, admin_key):
    response = client.post("/admin/projects", json={"name": "p", "models": nested(100)},
                           headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400
    error = assert_openai_error(response)
    assert (error["param"], error["code"]) == ("models", "nesting_too_deep")


def test_a_json_schema_type_list_in_a_tool_with_a_tpm_limit_is_served(app, client, upstream):
    """The token estimate looked `type` up in a set: a list there (JSON Schema's
    "type": ["string", "null"]) raised TypeError (500)."""
    key = create_key(app, tpm=100_000)
    schema = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    response = chat(client, key, {"model": "gpt-test", "messages": HI, "tools": [
        {"type": "function", "function": {"name": "f", "parameters": schema}}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert upstream.last().json["tools"][0]["function"]["parameters"] == schema


# --- embeddings ------------------------------------------------------------------------------

def test_embedding_input_of_floats_with_a_tpm_limit_is_400(app, client):
    key = create_key(app, tpm=100_000)
    response = client.post("/v1/embeddings", json={"model": "gpt-test", "input": [1.5]},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == "input[0]"


@pytest.mark.parametrize("value", [[1, 2, 3], [[1, 2], [3]], ["a", "b"]])
def test_embedding_token_ids_with_a_tpm_limit_are_served(app, client, value):
    key = create_key(app, tpm=100_000)
    response = client.post("/v1/embeddings", json={"model": "gpt-test", "input": value},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(("value", "param"), [
    ([None], "input[0]"), (["a", 1], "input[1]"), ([1, "a"], "input[1]"), ([[1], []], "input[1]"),
    ([-1], "input[0]"), ([True], "input[0]"), ({"a": 1}, "input")])
def test_malformed_embedding_input_is_400(client, key, value, param):
    response = client.post("/v1/embeddings", json={"model": "gpt-test", "input": value},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == param


# --- admin API -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/users", "/admin/projects", "/admin/keys"])
@pytest.mark.parametrize("offset", [str(2**63), str(2**31), "9" * 5000, "²"])
def test_huge_or_odd_offsets_are_400(client, admin_key, path, offset):
    """2**63 was 'bigint out of range' on PostgreSQL; 5000 digits or '²' broke int()."""
    response = client.get(path, query_string={"offset": offset},
                          headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == "offset"


def test_the_largest_offset_is_served(client, admin_key):
    response = client.get("/admin/users", query_string={"offset": str(2**31 - 1)},
                          headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 200
    assert response.get_json()["data"] == []


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/admin/projects", {"name": "a\x00b"}, "name"),
    ("/admin/projects", {"name": "p", "description": "a\x00b"}, "description"),
    ("/admin/projects", {"name": "a\x1bb"}, "name"),
    ("/admin/users", {"email": "a@example.com", "name": "a\x00"}, "name"),
    ("/admin/users", {"email": "a\x00b@example.com"}, "email"),
    ("/admin/users", {"email": "m@example.com", "models": ["gpt\x00"]}, "models"),
    ("/admin/keys", {"name": "k\x00"}, "name"),
])
def test_control_characters_in_admin_text_are_400(client, admin_key, path, body, param):
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == param


def test_a_description_keeps_its_line_breaks(client, admin_key):
    response = client.post("/admin/projects", json={"name": "p", "description": "a\n\tb"},
                           headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 201
    assert response.get_json()["description"] == "a\n\tb"


@pytest.mark.parametrize("path", ["/admin/users", "/admin/projects"])
@pytest.mark.parametrize("q", ["a\x00b", "x" * 201])
def test_bad_searches_are_400(client, admin_key, path, q):
    response = client.get(path, query_string={"q": q},
                          headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == "q"


def test_a_timestamp_past_year_9999_is_400(client, admin_key):
    response = client.post("/admin/keys", json={"expires_at": "9999-12-31T23:59:59-01:00"},
                           headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert assert_openai_error(response)["param"] == "expires_at"


# --- 405 -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/v1/chat/completions", {"POST", "OPTIONS"}),
    ("TRACE", "/admin/users", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("DELETE", "/v1/messages", {"POST", "OPTIONS"}),
])
def test_405_names_the_allowed_methods(client, key, method, path, allowed):
    response = client.open(path, method=method, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize("path", ["/admin/keys/9223372036854775808",
                                  "/admin/users/2147483648", "/admin/projects/99999999999999"])
def test_ids_past_the_id_columns_are_404(client, admin_key, path):
    response = client.get(path, headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 404
    assert_openai_error(response)


@pytest.mark.parametrize("since", ["99999999w", "9" * 40 + "d"])
def test_report_spans_too_long_to_count_are_400(client, admin_key, since):
    response = client.get(f"/admin/usage?since={since}",
                          headers={"Authorization": f"Bearer {admin_key}"})
    assert response.status_code == 400 and response.get_json()["error"]["param"] == "since"


@pytest.mark.parametrize("body", [{"input": [1, 2]}, {"input": "hi", "dimensions": 2**31 - 1}])
def test_the_mock_vendor_embeds_token_ids_and_caps_dimensions(app, client, body):
    key = create_key(app)
    response = client.post("/v1/embeddings", json={"model": "mock-echo", **body},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert len(response.get_json()["data"][0]["embedding"]) <= 4096
