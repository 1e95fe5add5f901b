"""OpenAI, and any OpenAI-compatible server (vLLM, Ollama, OpenRouter…) through base_url."""
import openai

from .base import DEFAULT_CALL
from .sdk import SDKHandler, http_client


class OpenAIHandler(SDKHandler):
    vendor = "openai"
    native_format = "openai_chat"
    sdk = openai
    chat_path = "/chat/completions"

    def make_client(self, api_key, timeout):
        # max_retries=0: the gateway owns the retry loop.
        return openai.OpenAI(api_key=api_key, base_url=self.provider.base_url, timeout=timeout,
                             max_retries=0, default_headers=self.default_headers,
                             http_client=http_client(timeout))

    def embeddings(self, body, call=DEFAULT_CALL):
        return self.post("/embeddings", body, stream=False, call=call)
