"""Helpers of the fuzz tests (test_fuzz_api.py, test_fuzz_spec.py): an app whose model names are
the spec's examples, a request counter, and the two error shapes."""
import threading
from collections import Counter

from tests.conftest import gateway_config

# The model names the spec's examples use, served by the loopback mock upstream, so schemathesis'
# example-based cases get past routing and reach the validation and the translators.
SPEC_MODELS = [
    {"name": "gpt-4o-mini", "deployments": [{"provider": "up-openai", "model": "gpt-upstream"}],
     "num_retries": 0},
    {"name": "claude-sonnet-4-5",
     "deployments": [{"provider": "up-anthropic", "model": "claude-upstream"}], "num_retries": 0},
    {"name": "text-embedding-3-small",
     "deployments": [{"provider": "up-openai", "model": "embedding-upstream"}], "num_retries": 0},
]


def spec_config(upstream):
    config = gateway_config(upstream)
    config["models"] = config["models"] + SPEC_MODELS
    return config


class Tally:
    """Counts the requests an app answers, by status class, through a WSGI middleware."""

    def __init__(self, app):
        self.counts = Counter()
        self.server_errors = []
        self._lock = threading.Lock()
        inner = app.wsgi_app

        def counting(environ, start_response):
            def recording(status, headers, exc_info=None):
                with self._lock:
                    self.counts["requests"] += 1
                    self.counts[status[0] + "xx"] += 1
                    if status.startswith("5"):
                        self.counts["5xx"] += 1
                        self.server_errors.append(
                            f"{status} {environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
                return start_response(status, headers, exc_info)
            return inner(environ, recording)

        app.wsgi_app = counting


def assert_openai_error(response):
    body = response.get_json(silent=True) if hasattr(response, "get_json") else response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str), error
    return error


def assert_anthropic_error(response):
    body = response.get_json(silent=True) if hasattr(response, "get_json") else response.json()
    assert isinstance(body, dict) and body.get("type") == "error", body
    assert set(body) == {"type", "error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"type", "message"}, error
    assert isinstance(error["message"], str) and error["message"], error
    return error
