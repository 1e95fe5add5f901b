"""VendorManager: the registry of vendor handler classes and the factory of their instances."""
import threading

from .anthropic import AnthropicHandler
from .mock import MockHandler
from .openai import OpenAIHandler
from .openai_responses import OpenAIResponsesHandler


class VendorManager:
    registry = {"openai": OpenAIHandler, "openai_responses": OpenAIResponsesHandler,
                "anthropic": AnthropicHandler, "mock": MockHandler}

    def __init__(self):
        self._handlers = {}
        self._lock = threading.Lock()

    @classmethod
    def register(cls, vendor, handler_cls):
        cls.registry[vendor] = handler_cls

    @classmethod
    def vendors(cls):
        return frozenset(cls.registry)

    def get_handler(self, provider):
        """The handler of a provider account, created on first use and reused after."""
        handler = self._handlers.get(provider.name)
        if handler is None:
            with self._lock:
                handler = self._handlers.get(provider.name)
                if handler is None:
                    handler = self.registry[provider.vendor](provider)
                    self._handlers[provider.name] = handler
        return handler

    def close(self):
        for handler in self._handlers.values():
            handler.close()
        self._handlers.clear()
