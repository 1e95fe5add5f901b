"""Anthropic's Messages API through the official anthropic SDK (native format)."""
import anthropic

from .base import DEFAULT_CALL
from .sdk import SDKHandler, http_client

# Client headers forwarded to Anthropic as they are (the SDK adds anthropic-version otherwise).
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


class AnthropicHandler(SDKHandler):
    vendor = "anthropic"
    native_format = "anthropic_messages"
    sdk = anthropic
    chat_path = "/v1/messages"

    def make_client(self, api_key, timeout):
        return anthropic.Anthropic(api_key=api_key, base_url=self.provider.base_url,
                                   timeout=timeout, max_retries=0,
                                   default_headers=self.default_headers,
                                   http_client=http_client(timeout))

    def chat(self, body, *, stream, headers=None, call=DEFAULT_CALL):
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in FORWARDED_HEADERS}
        return self.post(self.chat_path, body, stream=stream, headers=forwarded, call=call)

    def count_tokens(self, body, headers=None, call=DEFAULT_CALL):
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in FORWARDED_HEADERS}
        return self.post("/v1/messages/count_tokens", body, stream=False, headers=forwarded,
                         call=call)
