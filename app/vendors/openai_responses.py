"""OpenAI's Responses API (`POST /v1/responses`), the native format `openai_responses`.

For the models OpenAI serves only there (o3-pro, the codex and -pro models), and any server that
speaks the Responses API under a base_url ending in /v1. The account is the same as an `openai`
provider's: the same SDK client (auth, timeouts, error classes), the same embeddings. A streamed
answer is the vendor's SSE events as they come (`response.created` … `response.completed`); an
`error` or `response.failed` event in it is classified by formats/openai_responses.error_of_event.
"""
from .base import DEFAULT_CALL
from .openai import OpenAIHandler

# Client headers forwarded to the upstream as they are; the rest describe the caller's hop.
FORWARDED_HEADERS = ("openai-beta",)


class OpenAIResponsesHandler(OpenAIHandler):
    vendor = "openai_responses"
    native_format = "openai_responses"
    chat_path = "/responses"

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        """POST a Responses-format body to /responses: UpstreamResponse, or UpstreamStream of
        the Responses API's SSE events when stream."""
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in FORWARDED_HEADERS}
        return self.post(self.chat_path, body, stream=stream, headers=forwarded or None,
                         call=call)
