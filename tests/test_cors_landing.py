"""CORS as the official JS SDKs need it (their request headers allowed, every gateway response
header readable), and GET /: a browser goes to the dashboard, anything else gets an index."""
import requests

from tests.conftest import create_key, serving

ORIGIN = "https://ui.example.com"
# what openai-node and @anthropic-ai/sdk send from a browser (tests/clients/node_modules)
SDK_HEADERS = ["authorization", "content-type", "x-api-key", "anthropic-version",
               "anthropic-beta", "anthropic-dangerous-direct-browser-access",
               "openai-organization", "openai-project", "openai-beta", "x-stainless-arch",
               "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
               "x-stainless-retry-count", "x-stainless-runtime",
               "x-stainless-runtime-version", "x-stainless-timeout", "x-stainless-helper-method",
               "idempotency-key", "x-request-id", "x-client-request-id"]


def test_a_browser_preflight_and_request_with_the_sdks_headers(app_factory):
    app = app_factory(CORS_ORIGINS=ORIGIN)
    key = create_key(app, rpm=100, max_budget_usd="10", budget_period="monthly")
    with serving(app) as url:
        preflight = requests.options(f"{url}/v1/chat/completions", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(SDK_HEADERS)})
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
        allowed = {h.strip().lower()
                   for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
        assert set(SDK_HEADERS) <= allowed, set(SDK_HEADERS) - allowed
        answer = requests.post(f"{url}/v1/chat/completions", headers={
            "Origin": ORIGIN, "Authorization": f"Bearer {key}", "x-stainless-lang": "js",
            "x-request-id": "mine-1"},
            json={"model": "mock-echo", "max_tokens": 10,
                  "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200
        exposed = {h.strip().lower()
                   for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
        sent = {h.lower() for h in answer.headers
                if h.lower().startswith(("x-ratelimit-", "x-gateway-", "x-request-id",
                                         "x-client-request-id"))}
        assert {"x-ratelimit-remaining-requests", "x-gateway-budget-remaining-usd"} <= sent
        assert sent <= exposed, sent - exposed
        assert {"retry-after", "request-id", "x-ratelimit-reset-tokens"} <= exposed


def test_the_root_sends_browsers_to_the_dashboard_and_tells_others_where_things_are(client):
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 302 and browser.headers["Location"].endswith("/dashboard/")
    for accept in ("*/*", "application/json"):
        index = client.get("/", headers={"Accept": accept})
        assert index.status_code == 200
        body = index.get_json()
        assert body["name"] and body["version"]
        assert {"api", "docs", "dashboard", "health"} <= set(body["links"])
    assert client.get(client.get("/").get_json()["links"]["health"]).status_code == 200
