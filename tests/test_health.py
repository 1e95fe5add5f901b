"""Health probes, Swagger, CORS."""
import os

import pytest


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_ready_with_the_database_up(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["checks"]["database"] == "ok"
    assert body["log_spool"] == {"rows": 0, "writable": True}
    assert ("redis" in body["checks"]) == bool(os.environ.get("REDIS_URL"))


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set")
def test_ready_checks_the_real_redis(client):
    assert client.get("/health/ready").get_json()["checks"]["redis"] == "ok"


def test_ready_names_what_is_down_and_stays_200_while_the_gateway_serves(app_factory):
    """A database or Redis outage is every instance's: taking them all out of the load balancer
    would stop what the gateway still serves (README "Failure modes")."""
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql://nobody@127.0.0.1:1/none",
                      REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"].startswith("error: OperationalError")
    assert body["checks"]["redis"].startswith("error: ConnectionError")
    assert body["log_spool"] == {"rows": 0, "writable": True}


def test_ready_is_503_when_request_logs_could_be_lost(app_factory, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    app = app_factory(SQLALCHEMY_DATABASE_URI="postgresql://nobody@127.0.0.1:1/none",
                      LOG_SPOOL_DIR=str(blocked / "spool"))
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["log_spool"]["writable"] is False


def test_swagger_documents_every_endpoint_with_schemas(client):
    spec = client.get("/apispec_1.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    for path, method in [("/v1/chat/completions", "post"), ("/v1/embeddings", "post"),
                         ("/v1/models", "get"), ("/v1/models/{model}", "get"),
                         ("/v1/messages", "post"), ("/v1/messages/count_tokens", "post"),
                         ("/health/live", "get"), ("/health/ready", "get")]:
        operation = paths[path][method]
        assert "200" in operation["responses"], path
        assert operation["responses"]["200"]["content"], path
    chat = paths["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert {"model", "messages"} <= set(schema["required"])
    messages = paths["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]
    assert {"model", "max_tokens", "messages"} <= set(messages["schema"]["required"])
    assert client.get("/apidocs/").status_code == 200


def test_cors_allows_configured_origins_only(app_factory):
    app = app_factory(CORS_ORIGINS="https://ui.example.com")
    client = app.test_client()
    preflight = client.options("/v1/chat/completions", headers={
        "Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ui.example.com"
    answer = client.get("/health/live", headers={"Origin": "https://ui.example.com"})
    exposed = answer.headers["Access-Control-Expose-Headers"].lower()
    assert "x-request-id" in exposed and "x-client-request-id" in exposed
    other = client.get("/health/live", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_is_off_by_default(client):
    response = client.get("/health/live", headers={"Origin": "https://ui.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers
