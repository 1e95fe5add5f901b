"""Chat Completions → a Responses API vendor and back: requests, answers, streams (pure functions;
requests validated against openai-python's Responses types, streamed chunks accumulated by its
ChatCompletionStreamState)."""
import orjson
import pytest
from openai import LengthFinishReasonError
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses.response_create_params import (
    ResponseCreateParamsNonStreaming,
    ResponseCreateParamsStreaming,
)
from pydantic import TypeAdapter

from app.errors import InvalidRequest, UpstreamError, UpstreamOverloaded
from app.formats.openai_responses import StreamMeter as ResponsesStreamMeter
from app.formats.reasoning_carry import reasoning_from_signature, reasoning_in_signature
from app.formats.request_to_openai import anthropic_to_openai_request
from app.formats.request_to_responses import chat_to_responses_request
from app.formats.response_from_responses import responses_to_chat_response
from app.formats.sse import SSEEvent
from app.formats.stream_frames import chat_from_responses
from app.formats.stream_from_responses import ResponsesToChatStream
from app.gateway.pricing import Usage

RESPONSES_REQUEST = TypeAdapter(ResponseCreateParamsNonStreaming)
RESPONSES_STREAM_REQUEST = TypeAdapter(ResponseCreateParamsStreaming)
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
                  "required": ["city"]}
REASONING_ITEM = {"id": "rs_1", "type": "reasoning", "encrypted_content": "gAAAA-secret",
                  "summary": [{"type": "summary_text", "text": "Think about Paris."}]}
USAGE = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
         "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12},
         "total_tokens": 130}


def to_responses(body, model="o3-pro"):
    out = chat_to_responses_request({"model": "alias", **body}, model)
    # what openai-python's types (and servers that check with them, like vLLM) accept
    (RESPONSES_STREAM_REQUEST if out.get("stream") else RESPONSES_REQUEST).validate_python(out)
    return out


def chat(*messages, **fields):
    return to_responses({"messages": list(messages), **fields})


USER = {"role": "user", "content": "hi"}


# -------------------------------------------------------------------------------------------
# requests
# -------------------------------------------------------------------------------------------


def test_leading_system_and_developer_become_instructions_later_ones_stay_in_place():
    out = chat({"role": "system", "content": "Be brief."},
               {"role": "developer", "content": [{"type": "text", "text": "Speak French."}]},
               USER, {"role": "system", "content": "Now English."})
    assert out["instructions"] == "Be brief.\n\nSpeak French."
    assert out["input"] == [
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "message", "role": "system", "content": "Now English."}]
    assert out["model"] == "o3-pro" and out["store"] is False


def test_user_parts_become_input_parts():
    out = chat({"role": "user", "content": [
        {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE",
                                  "filename": "a.pdf"}},
        {"type": "file", "file": {"file_id": "file-1"}}]})
    assert out["input"][0]["content"] == [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"},
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE",
         "filename": "a.pdf"},
        {"type": "input_file", "file_id": "file-1"}]


def test_assistant_tool_calls_and_tool_results_become_items_in_order():
    out = chat(USER,
               {"role": "assistant", "content": "Let me look.", "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                   {"id": "call_2", "type": "function",
                    "function": {"name": "time", "arguments": ""}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
               {"role": "tool", "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "12:00"}, {"type": "text", "text": "CET"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "Sunny, "},
                                                 {"type": "text", "text": "18C."}]})
    assert out["input"][1:] == [
        {"type": "message", "role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_1", "name": "weather",
         "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_2", "output": "12:00\nCET"},
        {"type": "message", "role": "assistant", "content": "Sunny, 18C."}]


def test_tool_output_stays_a_string_and_becomes_a_list_only_with_images():
    call = {"id": "c1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
    out = chat(USER, {"role": "assistant", "content": None, "tool_calls": [call]},
               {"role": "tool", "tool_call_id": "c1", "content": [
                   {"type": "text", "text": "screen:"},
                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]})
    assert out["input"][-1] == {"type": "function_call_output", "call_id": "c1", "output": [
        {"type": "input_text", "text": "screen:"},
        {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"}]}


def test_refusal_in_history_is_assistant_text():
    out = chat(USER, {"role": "assistant", "content": None, "refusal": "I can't help."},
               {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]})
    assert out["input"][1:] == [
        {"type": "message", "role": "assistant", "content": "I can't help."},
        {"type": "message", "role": "assistant", "content": "No."}]


def test_custom_tools_calls_and_outputs():
    out = chat(USER, {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "c1", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "1"},
               tools=[{"type": "custom", "custom": {"name": "sql", "description": "Run SQL",
                                                    "format": {"type": "text"}}}],
               tool_choice={"type": "custom", "custom": {"name": "sql"}})
    assert out["input"][1:] == [
        {"type": "custom_tool_call", "call_id": "c1", "name": "sql", "input": "SELECT 1"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "1"}]
    assert out["tools"] == [{"type": "custom", "name": "sql", "description": "Run SQL",
                             "format": {"type": "text"}}]
    assert out["tool_choice"] == {"type": "custom", "name": "sql"}


def test_reasoning_items_carried_in_signatures_go_back_in_place_anthropic_thinking_does_not():
    carried = {"type": "thinking", "thinking": "Think about Paris.",
               "signature": reasoning_in_signature(REASONING_ITEM)}
    anthropic_own = {"type": "thinking", "thinking": "hmm", "signature": "EqQBCkYIBxgC"}
    out = chat(USER, {"role": "assistant", "content": None, "reasoning_content": "x",
                      "thinking_blocks": [anthropic_own, carried, {"type": "redacted_thinking",
                                                                   "data": "abc"}],
                      "tool_calls": [{"id": "c1", "type": "function",
                                      "function": {"name": "weather", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "18C"})
    assert out["input"][1:] == [
        REASONING_ITEM,
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "18C"}]


def test_tools_tool_choice_and_options():
    out = chat(USER, tools=[
        {"type": "function", "function": {"name": "weather", "description": "Weather.",
                                          "parameters": WEATHER_SCHEMA, "strict": True},
         "cache_control": {"type": "ephemeral"}},
        {"type": "function", "function": {"name": "noargs"}}],
        tool_choice="required", parallel_tool_calls=False, max_completion_tokens=500,
        max_tokens=100, temperature=0.2, top_p=0.9, reasoning_effort="high",
        metadata={"team": "a"}, user="u-1", safety_identifier="s-1", store=True, stream=True,
        stream_options={"include_usage": True}, prompt_cache_key="k", service_tier="flex",
        verbosity="low", n=1, logprobs=False, presence_penalty=0, modalities=["text"])
    assert out["tools"] == [
        {"type": "function", "name": "weather", "description": "Weather.",
         "parameters": WEATHER_SCHEMA, "strict": True},
        {"type": "function", "name": "noargs", "parameters": {"type": "object", "properties": {}},
         "strict": False}]
    assert {k: v for k, v in out.items() if k not in ("model", "input", "tools")} == {
        "tool_choice": "required", "parallel_tool_calls": False, "max_output_tokens": 500,
        "temperature": 0.2, "top_p": 0.9, "reasoning": {"effort": "high"},
        "metadata": {"team": "a"}, "user": "u-1", "safety_identifier": "s-1", "store": True,
        "stream": True, "prompt_cache_key": "k", "service_tier": "flex",
        "text": {"verbosity": "low"}}


@pytest.mark.parametrize("choice, expected", [
    ("auto", "auto"), ("none", "none"),
    ({"type": "function", "function": {"name": "weather"}},
     {"type": "function", "name": "weather"}),
    ({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
        {"type": "function", "function": {"name": "weather"}}]}},
     {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function",
                                                              "name": "weather"}]}),
])
def test_tool_choice_forms(choice, expected):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA}}]
    assert chat(USER, tools=tools, tool_choice=choice)["tool_choice"] == expected


def test_response_formats_become_text_format():
    out = chat(USER, response_format={"type": "json_schema", "json_schema": {
        "name": "weather", "schema": WEATHER_SCHEMA, "strict": True, "description": "d"}})
    assert out["text"] == {"format": {"type": "json_schema", "name": "weather",
                                      "schema": WEATHER_SCHEMA, "strict": True,
                                      "description": "d"}}
    assert chat(USER, response_format={"type": "json_object"})["text"] == {
        "format": {"type": "json_object"}}


def test_store_false_by_default_asks_reasoning_models_for_encrypted_reasoning():
    assert chat(USER)["include"] == ["reasoning.encrypted_content"]
    assert "include" not in chat(USER, store=True)
    plain = to_responses({"messages": [USER]}, model="gpt-4.1")
    assert plain["store"] is False and "include" not in plain
    assert "include" not in to_responses({"messages": [USER]}, model="gpt-5-chat-latest")
    assert to_responses({"messages": [USER], "reasoning_effort": "low"},
                        model="my-deployment")["include"] == ["reasoning.encrypted_content"]


def test_logprobs_web_search_and_stream_options():
    out = to_responses({"messages": [USER], "logprobs": True, "top_logprobs": 3, "stream": True,
                        "stream_options": {"include_usage": True, "include_obfuscation": False},
                        "web_search_options": {"search_context_size": "low", "user_location": {
                            "type": "approximate", "approximate": {"country": "FR"}}}},
                       model="gpt-4.1")
    assert out["include"] == ["message.output_text.logprobs"] and out["top_logprobs"] == 3
    assert out["tools"] == [{"type": "web_search", "search_context_size": "low",
                             "user_location": {"type": "approximate", "country": "FR"}}]
    assert out["stream_options"] == {"include_obfuscation": False}


@pytest.mark.parametrize("field, value", [
    ("n", 2), ("stop", ["END"]), ("stop", "END"), ("presence_penalty", 0.5),
    ("frequency_penalty", -1), ("seed", 7), ("logit_bias", {"50256": -100}), ("top_k", 40),
    ("audio", {"voice": "alloy", "format": "wav"}), ("modalities", ["text", "audio"]),
    ("prediction", {"type": "content", "content": "x"}),
    ("functions", [{"name": "f", "parameters": {}}]), ("function_call", "auto"),
])
def test_what_responses_cannot_honour_is_a_400_naming_the_field(field, value):
    with pytest.raises(InvalidRequest) as caught:
        chat_to_responses_request({"model": "m", "messages": [USER], field: value}, "o3-pro")
    assert caught.value.status == 400 and caught.value.param == field
    assert caught.value.code == "unsupported_parameter"


def test_audio_input_and_function_messages_are_400s_naming_where():
    with pytest.raises(InvalidRequest) as caught:
        chat_to_responses_request({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "listen"},
            {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]}, "m")
    assert caught.value.param == "messages[0].content[1].type"
    with pytest.raises(InvalidRequest) as caught:
        chat_to_responses_request({"messages": [USER, {"role": "function", "name": "f",
                                                       "content": "1"}]}, "m")
    assert caught.value.param == "messages[1].role"


def test_an_anthropic_request_through_the_pivot_stays_faithful():
    anthropic = {
        "model": "claude-sonnet", "max_tokens": 1024, "stream": True,
        "system": [{"type": "text", "text": "You are terse."},
                   {"type": "text", "text": "Use tools.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "user-42"},
        "tools": [{"name": "weather", "description": "Weather.", "input_schema": WEATHER_SCHEMA}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBO"}},
                {"type": "text", "text": "Weather where this is?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather",
                 "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1",
                 "content": [{"type": "text", "text": "18C"},
                             {"type": "image", "source": {"type": "url",
                                                          "url": "https://x/map.png"}}]},
                {"type": "text", "text": "And tomorrow?"}]}]}
    out = to_responses(anthropic_to_openai_request(anthropic, "o3-pro"))
    assert out["instructions"] == "You are terse.\n\nUse tools."
    assert out["max_output_tokens"] == 1024 and out["stream"] is True
    assert out["user"] == "user-42" and out["parallel_tool_calls"] is False
    assert out["tool_choice"] == "auto"
    assert out["tools"] == [{"type": "function", "name": "weather", "description": "Weather.",
                             "parameters": WEATHER_SCHEMA, "strict": False}]
    assert out["input"] == [
        {"type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"},
            {"type": "input_text", "text": "Weather where this is?"}]},
        {"type": "message", "role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "toolu_1", "name": "weather",
         "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "18C"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_image", "image_url": "https://x/map.png", "detail": "auto"},
            {"type": "input_text", "text": "And tomorrow?"}]}]


# -------------------------------------------------------------------------------------------
# answers
# -------------------------------------------------------------------------------------------


def response(output, status="completed", reason=None, **fields):
    return {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": status,
            "model": "o3-pro-2025-06-10", "output": output, "usage": USAGE,
            "incomplete_details": {"reason": reason} if reason else None, **fields}


def message_item(*parts):
    return {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
            "content": list(parts)}


def text_part(text, **extra):
    return {"type": "output_text", "text": text, "annotations": [], **extra}


def call_item(call_id, name, arguments):
    return {"id": f"fc_{call_id}", "type": "function_call", "status": "completed",
            "call_id": call_id, "name": name, "arguments": arguments}


def test_text_answer_usage_and_model():
    out = responses_to_chat_response(response([message_item(text_part("Hello "),
                                                            text_part("world"))]), "o3-pro")
    ChatCompletion.model_validate(out)
    assert out["id"] == "chatcmpl-resp_1" and out["model"] == "o3-pro-2025-06-10"
    assert out["created"] == 1700000000
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello world", "refusal": None}
    assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert out["usage"] == {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130,
                            "prompt_tokens_details": {"cached_tokens": 40},
                            "completion_tokens_details": {"reasoning_tokens": 12}}
    assert responses_to_chat_response({"output": []}, "sent")["model"] == "sent"


def test_tool_calls_refusal_annotations_and_logprobs():
    logprob = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
               "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}]}
    cite = {"type": "url_citation", "start_index": 0, "end_index": 2, "url": "https://a",
            "title": "A"}
    out = responses_to_chat_response(response([
        message_item(text_part("Hi", annotations=[cite], logprobs=[logprob]),
                     {"type": "refusal", "refusal": "No more."}),
        call_item("call_1", "weather", '{"city":"Paris"}'), call_item("call_2", "time", "")]),
        "o3-pro")
    ChatCompletion.model_validate(out)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["refusal"] == "No more."
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}}]
    assert choice["message"]["annotations"] == [{"type": "url_citation", "url_citation": {
        "start_index": 0, "end_index": 2, "url": "https://a", "title": "A"}}]
    assert choice["logprobs"]["content"] == [logprob]


def test_reasoning_round_trip_through_a_chat_client_history():
    out = responses_to_chat_response(response([REASONING_ITEM, message_item(text_part("Paris."))]),
                                     "o3-pro")
    message = out["choices"][0]["message"]
    assert message["reasoning_content"] == "Think about Paris."
    (block,) = message["thinking_blocks"]
    assert block["type"] == "thinking" and block["thinking"] == "Think about Paris."
    assert reasoning_from_signature(block["signature"]) == REASONING_ITEM
    history = {"role": "assistant", **{k: message[k] for k in
                                       ("content", "reasoning_content", "thinking_blocks")}}
    again = chat(USER, history, {"role": "user", "content": "And Lyon?"})
    assert again["input"][1:3] == [REASONING_ITEM, {"type": "message", "role": "assistant",
                                                    "content": "Paris."}]


@pytest.mark.parametrize("reason, finish", [("max_output_tokens", "length"),
                                            ("content_filter", "content_filter")])
def test_incomplete_answers(reason, finish):
    out = responses_to_chat_response(response([message_item(text_part("Par"))],
                                               status="incomplete", reason=reason), "o3-pro")
    assert out["choices"][0]["finish_reason"] == finish
    cut_call = response([call_item("c1", "weather", '{"ci')], status="incomplete",
                        reason="max_output_tokens")
    assert responses_to_chat_response(cut_call, "m")["choices"][0]["finish_reason"] == "length"


def test_a_failed_response_raises():
    failed = response([], status="failed", error={"code": "server_error", "message": "boom"})
    with pytest.raises(UpstreamError):
        responses_to_chat_response(failed, "o3-pro")


# -------------------------------------------------------------------------------------------
# streams
# -------------------------------------------------------------------------------------------


class Events:
    """A Responses stream as the vendor sends it: (name, data) with type and sequence_number."""

    def __init__(self):
        self.events, self.output = [], []

    def add(self, name, **data):
        self.events.append((name, {"type": name, "sequence_number": len(self.events), **data}))
        return self

    def start(self):
        head = {"id": "resp_1", "object": "response", "created_at": 1700000000,
                "status": "in_progress", "model": "o3-pro-2025-06-10", "output": [],
                "usage": None}
        return self.add("response.created", response=head).add("response.in_progress",
                                                                response=head)

    def text(self, *pieces, item_id="msg_1"):
        index = len(self.output)
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress",
                "content": []}
        self.add("response.output_item.added", output_index=index, item=item)
        self.add("response.content_part.added", item_id=item_id, output_index=index,
                 content_index=0, part=text_part(""))
        for piece in pieces:
            self.add("response.output_text.delta", item_id=item_id, output_index=index,
                     content_index=0, delta=piece, logprobs=[])
        text = "".join(pieces)
        self.add("response.output_text.done", item_id=item_id, output_index=index,
                 content_index=0, text=text, logprobs=[])
        self.add("response.content_part.done", item_id=item_id, output_index=index,
                 content_index=0, part=text_part(text))
        done = {**item, "status": "completed", "content": [text_part(text)]}
        self.output.append(done)
        return self.add("response.output_item.done", output_index=index, item=done)

    def call(self, call_id, name, *fragments):
        index, item_id = len(self.output), f"fc_{call_id}"
        item = {"id": item_id, "type": "function_call", "status": "in_progress",
                "call_id": call_id, "name": name, "arguments": ""}
        self.add("response.output_item.added", output_index=index, item=item)
        for fragment in fragments:
            self.add("response.function_call_arguments.delta", item_id=item_id,
                     output_index=index, delta=fragment)
        arguments = "".join(fragments)
        self.add("response.function_call_arguments.done", item_id=item_id, output_index=index,
                 arguments=arguments)
        done = {**item, "status": "completed", "arguments": arguments}
        self.output.append(done)
        return self.add("response.output_item.done", output_index=index, item=done)

    def reasoning(self, item, *summaries):
        index = len(self.output)
        self.add("response.output_item.added", output_index=index,
                 item={"id": item["id"], "type": "reasoning", "summary": []})
        for summary_index, pieces in enumerate(summaries):
            for piece in pieces:
                self.add("response.reasoning_summary_text.delta", item_id=item["id"],
                         output_index=index, summary_index=summary_index, delta=piece)
        self.output.append(item)
        return self.add("response.output_item.done", output_index=index, item=item)

    def end(self, status="completed", reason=None, usage=USAGE):
        body = {"id": "resp_1", "object": "response", "created_at": 1700000000,
                "status": status, "model": "o3-pro-2025-06-10", "output": self.output,
                "usage": usage, "incomplete_details": {"reason": reason} if reason else None}
        return self.add(f"response.{status}", response=body)


def translate(events, include_usage=True):
    translator = ResponsesToChatStream("o3-pro", include_usage, completion_id="chatcmpl-t",
                                       created=1700000000)
    out = []
    for name, data in events.events:
        out += translator.feed(name, data)
    return translator, out + translator.finish()


def accumulate(chunks):
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    if state.current_completion_snapshot.choices[0].finish_reason == "length":
        with pytest.raises(LengthFinishReasonError):
            state.get_final_completion()
        return state.current_completion_snapshot
    return state.get_final_completion()


def test_stream_text():
    _, chunks = translate(Events().start().text("Hel", "lo").end())
    assert [c["choices"][0]["delta"] if c["choices"] else "usage" for c in chunks] == [
        {"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}, {},
        "usage"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert {c["model"] for c in chunks} == {"o3-pro-2025-06-10"}
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 40}
    final = accumulate(chunks)
    assert final.choices[0].message.content == "Hello"
    assert final.usage.completion_tokens == 30


def test_stream_two_parallel_function_calls():
    events = (Events().start().text("Checking.")
              .call("call_a", "weather", '{"ci', 'ty":"Paris"}').call("call_b", "time").end())
    translator, chunks = translate(events, include_usage=False)
    assert all("usage" not in chunk for chunk in chunks)
    final = accumulate(chunks)
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "Checking."
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("call_a", "weather", '{"city":"Paris"}'), ("call_b", "time", "{}")]
    starts = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
              if "id" in (c["choices"][0]["delta"].get("tool_calls") or [{}])[0]]
    assert [(s["index"], s["id"], s["function"]["name"]) for s in starts] == [
        (0, "call_a", "weather"), (1, "call_b", "time")]
    assert translator.usage == USAGE


def test_stream_reasoning_then_text_carries_the_item_whole():
    item = {**REASONING_ITEM, "summary": [{"type": "summary_text", "text": "Think."},
                                          {"type": "summary_text", "text": "Paris."}]}
    _, chunks = translate(Events().start().reasoning(item, ["Thi", "nk."], ["Paris."])
                          .text("It is Paris.").end())
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "")
                        for c in chunks if c["choices"])
    assert reasoning == "Think.\n\nParis."
    (blocks,) = [c["choices"][0]["delta"]["thinking_blocks"] for c in chunks
                 if c["choices"] and "thinking_blocks" in c["choices"][0]["delta"]]
    assert [reasoning_from_signature(b["signature"]) for b in blocks] == [item]
    assert blocks[0]["thinking"] == "Think.\n\nParis."
    final = accumulate(chunks)
    assert final.choices[0].message.content == "It is Paris."


def test_stream_incomplete_is_length():
    _, chunks = translate(Events().start().text("Par").end("incomplete", "max_output_tokens"))
    snapshot = accumulate(chunks)
    assert snapshot.choices[0].finish_reason == "length"
    assert snapshot.choices[0].message.content == "Par"


def test_stream_empty_answer_is_well_formed():
    _, chunks = translate(Events().start().end(usage={"input_tokens": 5, "output_tokens": 0}))
    assert [c["choices"][0]["delta"] if c["choices"] else "usage" for c in chunks] == [
        {"role": "assistant", "content": ""}, {}, "usage"]
    final = accumulate(chunks)
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content == ""


def test_stream_without_deltas_still_gives_text_and_arguments():
    head = Events().start()
    message = message_item(text_part("Whole."))
    call = call_item("c1", "weather", '{"city":"Paris"}')
    head.add("response.output_item.done", output_index=0, item=message)
    head.add("response.output_item.done", output_index=1, item=call)
    head.output = [message, call]
    final = accumulate(translate(head.end())[1])
    assert final.choices[0].message.content == "Whole."
    assert final.choices[0].message.tool_calls[0].function.arguments == '{"city":"Paris"}'


def test_stream_custom_tool_call():
    """Chunks in OpenAI's wire shape for custom tools (openai-python's chunk types lag: their
    delta tool call type is "function" only, so no accumulator here)."""
    item = {"id": "ct_1", "type": "custom_tool_call", "call_id": "c1", "name": "sql",
            "input": ""}
    events = Events().start().add("response.output_item.added", output_index=0, item=item)
    for piece in ("SELECT", " 1"):
        events.add("response.custom_tool_call_input.delta", item_id="ct_1", output_index=0,
                   delta=piece)
    events.output = [{**item, "input": "SELECT 1"}]
    events.add("response.output_item.done", output_index=0, item=events.output[0])
    _, chunks = translate(events.end(), include_usage=False)
    assert [c["choices"][0]["delta"] for c in chunks[1:-1]] == [
        {"tool_calls": [{"index": 0, "id": "c1", "type": "custom",
                         "custom": {"name": "sql", "input": ""}}]},
        {"tool_calls": [{"index": 0, "custom": {"input": "SELECT"}}]},
        {"tool_calls": [{"index": 0, "custom": {"input": " 1"}}]}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("error, cls", [
    ({"code": "server_is_overloaded", "message": "busy"}, UpstreamOverloaded),
    ({"type": "overloaded_error", "message": "busy"}, UpstreamOverloaded),
    ({"code": "server_error", "message": "boom"}, UpstreamError),
    ({"code": "invalid_prompt", "message": "flagged"}, InvalidRequest),
])
def test_stream_failures_raise(error, cls):
    translator = ResponsesToChatStream("o3-pro", True)
    out = []
    events = Events().start()
    for name, data in events.events:
        out += translator.feed(name, data)
    assert out == []  # nothing committed before the first output: the real status can go out
    with pytest.raises(cls) as caught:
        translator.feed("response.failed", {"type": "response.failed", "response": {
            "id": "resp_1", "status": "failed", "output": [], "error": error}})
    assert error["message"] in caught.value.message
    with pytest.raises(cls):  # an `error` event, flat or with a nested error object
        ResponsesToChatStream("m", False).feed("error", {"type": "error", "error": error})
    if "code" in error:
        with pytest.raises(cls):
            ResponsesToChatStream("m", False).feed("error", {**error, "type": "error"})


def sse(events):
    return [SSEEvent(name, orjson.dumps(data)) for name, data in events.events]


def test_frames_meter_and_done():
    meter = ResponsesStreamMeter()
    frames = list(chat_from_responses(sse(Events().start().text("Hi").end()), meter, "o3-pro",
                                      True))
    assert frames[-1] == b"data: [DONE]\n\n"
    chunks = [orjson.loads(frame[len(b"data: "):]) for frame in frames[:-1]]
    assert accumulate(chunks).choices[0].message.content == "Hi"
    assert meter.usage == Usage(input_tokens=100, output_tokens=30, cached_tokens=40)
    assert meter.first_output_at is not None


def test_frames_of_a_cut_stream_raise_and_the_meter_estimates():
    meter = ResponsesStreamMeter()
    events = Events().start().text("Hello there")
    events.events.pop()  # no output_item.done, no response.completed
    with pytest.raises(UpstreamError) as caught:
        list(chat_from_responses(sse(events), meter, "o3-pro", False))
    assert caught.value.code == "upstream_stream_cut"
    assert meter.usage is None
    assert meter.partial_usage(50) == Usage(input_tokens=50, output_tokens=3)
