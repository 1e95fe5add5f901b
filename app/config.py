"""Settings read from the environment (.env and .flaskenv are loaded by app/settings_env.py, the
loader gunicorn.conf.py uses too; real environment variables win)."""
import os
import tempfile

from .settings_env import ROOT, SettingError, load_env, number

load_env()
# One line per setting that is not a number (its default is used meanwhile): the app refuses to
# start with any (app/startup.py), and `flask config check` lists them.
PROBLEMS = []


def _number(name, default, kind):
    try:
        return number(name, default, kind)
    except SettingError as exc:
        PROBLEMS.append(str(exc))
        return default


def _int(name, default):
    return _number(name, default, int)


def _float(name, default):
    return _number(name, default, float)


def database_url(url):
    """SQLAlchemy 2.1 maps postgresql:// to psycopg 3; this project ships psycopg2."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def default_database_url():
    return f"sqlite:///{ROOT / 'instance' / 'gateway.db'}"


class Config:
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or default_database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Connections to Redis per worker; callers beyond it wait (up to 5 s) for a free one.
    REDIS_MAX_CONNECTIONS = _int("REDIS_MAX_CONNECTIONS", 64)
    # Every Redis key starts with it; empty: gw:<the database's installation id>, so gateways
    # sharing a Redis server but not a database never share counters.
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "").strip()
    # The longest wait for Redis to connect or answer; after a failure, Redis is probed once per
    # REDIS_RETRY_SECONDS while every other request decides without it.
    REDIS_SOCKET_TIMEOUT_SECONDS = _float("REDIS_SOCKET_TIMEOUT_SECONDS", 1.0)
    REDIS_RETRY_SECONDS = _float("REDIS_RETRY_SECONDS", 2.0)
    # While Redis is down: rpm/tpm/parallel "local" (counted per process) or "closed" (503);
    # budgets "closed" (503, never overspent) or "local".
    REDIS_DOWN_RATE_LIMITS = os.environ.get("REDIS_DOWN_RATE_LIMITS", "local").strip().lower()
    REDIS_DOWN_BUDGETS = os.environ.get("REDIS_DOWN_BUDGETS", "closed").strip().lower()
    # A parallel slot or budget reservation whose release never reached Redis (its worker died,
    # Redis was cut) is dropped at most this long after its worker last renewed it.
    LIMIT_LEASE_SECONDS = _float("LIMIT_LEASE_SECONDS", 60.0)
    # Most requests a worker's quota lease admits without Redis (limits/leases.py); 0: none,
    # every request is counted in Redis as it comes.
    LIMIT_QUOTA_LEASE_REQUESTS = _int("LIMIT_QUOTA_LEASE_REQUESTS", 32)
    # Path of the providers/models YAML; tests may also pass the parsed mapping itself.
    GATEWAY_CONFIG = os.environ.get("GATEWAY_CONFIG") or None
    GATEWAY_MASTER_KEY = os.environ.get("GATEWAY_MASTER_KEY") or None
    OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY") or None
    ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY") or None
    CORS_ORIGINS = os.environ.get("CORS_ORIGINS", "")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # "text" (development) or "json": one JSON object per line, gunicorn's own lines included.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
    # One line per API request (logger gateway.access, at INFO); "0" turns it off.
    ACCESS_LOG = os.environ.get("ACCESS_LOG", "1").strip().lower() not in ("0", "false", "off")
    MAX_REQUEST_BYTES = _int("MAX_REQUEST_BYTES", 32 * 1024 * 1024)
    # Reverse proxies in front of the gateway whose X-Forwarded-For/-Proto are trusted
    # (app/proxies.py; 1 behind deploy/nginx.conf); 0: none, the socket's peer is the client.
    TRUSTED_PROXY_COUNT = _int("TRUSTED_PROXY_COUNT", 0)
    # How long an authenticated key stays cached in a worker before it is looked up again.
    KEY_CACHE_TTL_SECONDS = _float("KEY_CACHE_TTL_SECONDS", 30.0)
    # An unknown key is answered 401 from memory for this long; an address whose unknown keys
    # failed this often in a minute gets 429 for keys never seen valid (0: no such limit).
    AUTH_UNKNOWN_KEY_CACHE_SECONDS = _float("AUTH_UNKNOWN_KEY_CACHE_SECONDS", 60.0)
    AUTH_FAILURES_PER_MINUTE = _int("AUTH_FAILURES_PER_MINUTE", 30)
    # PostgreSQL: the longest wait to connect, or for an unanswered packet (TCP user timeout and
    # keepalives), and the longest statement; after a failure, key lookups probe the database
    # once per DATABASE_RETRY_SECONDS while known keys are served from their last good lookup.
    DATABASE_TIMEOUT_SECONDS = _int("DATABASE_TIMEOUT_SECONDS", 5)
    DATABASE_STATEMENT_TIMEOUT_SECONDS = _int("DATABASE_STATEMENT_TIMEOUT_SECONDS", 30)
    DATABASE_RETRY_SECONDS = _float("DATABASE_RETRY_SECONDS", 2.0)
    # Ping (Anthropic) / SSE comment (OpenAI) after this many seconds of upstream silence; 0: off.
    STREAM_KEEPALIVE_SECONDS = _float("STREAM_KEEPALIVE_SECONDS", 10.0)
    # With Redis: an all-clear health check of a deployment is reused for this long, and
    # successes are sent to Redis in batches at most this late (routing/health_batch.py); 0: at
    # once.
    HEALTH_CHECK_CACHE_SECONDS = _float("HEALTH_CHECK_CACHE_SECONDS", 1.0)
    HEALTH_FLUSH_SECONDS = _float("HEALTH_FLUSH_SECONDS", 1.0)
    # Request-log writer: queue bound, batch size, longest wait before a partial batch is written.
    LOG_QUEUE_SIZE = _int("LOG_QUEUE_SIZE", 50_000)
    LOG_BATCH_SIZE = _int("LOG_BATCH_SIZE", 500)
    LOG_FLUSH_SECONDS = _float("LOG_FLUSH_SECONDS", 0.5)
    # Where request-log rows wait (append-only JSON lines) while the database does not take them.
    LOG_SPOOL_DIR = os.environ.get("LOG_SPOOL_DIR") or str(ROOT / "instance" / "spool")
    # `flask logs prune` deletes the request logs older than this many days (at least 32);
    # 0: kept forever (usage reports and budgets without a period count from the logs kept).
    LOG_RETENTION_DAYS = _int("LOG_RETENTION_DAYS", 0)
    # The `flask db` commands (Flask-Migrate); gunicorn.conf.py turns them off in its workers.
    DB_COMMANDS = os.environ.get("GATEWAY_DB_COMMANDS", "1") != "0"
    SWAGGER = {"title": "LLM Gateway", "uiversion": 3, "openapi": "3.0.3"}
    # Request bodies one worker holds at once (app/routes/body.py): a body that would go over
    # gets 503 with retry-after (unread); one larger than this alone, 413.
    MAX_BODY_BYTES_IN_FLIGHT = _int("MAX_BODY_BYTES_IN_FLIGHT", 256 * 1024 * 1024)
    # Stored responses (/v1/responses with store, previous_response_id, GET/DELETE
    # /v1/responses/{id}): off unless "1"; a stored response is deleted this many days after.
    RESPONSES_STORE = os.environ.get("RESPONSES_STORE", "0").strip().lower() in ("1", "true")
    RESPONSES_RETENTION_DAYS = _float("RESPONSES_RETENTION_DAYS", 30.0)
    # GET /metrics (Prometheus): on unless "0"; with a token, only for `Authorization: Bearer …`.
    METRICS_ENABLED = os.environ.get("METRICS_ENABLED", "1").strip().lower() not in ("0", "false")
    METRICS_BEARER_TOKEN = os.environ.get("METRICS_BEARER_TOKEN") or ""
    # OpenTelemetry traces (app/observability/tracing.py), exported over OTLP/HTTP to
    # <endpoint>/v1/traces only when set (e.g. http://127.0.0.1:4318); the SDK's other OTEL_*
    # variables (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*…) apply.
    OTEL_EXPORTER_OTLP_ENDPOINT = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
    OTEL_SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "").strip() or "llm-gateway"
    # OpenID Connect single sign-on for the dashboard (app/dashboard/oidc.py): on when the issuer
    # (discovery at <issuer>/.well-known/openid-configuration) and the client id are set. Allowed
    # domains: a comma list of email domains (empty: any). With a role claim ("groups", "role",
    # "realm_access.roles"), each login makes the user an admin when the claim holds one of
    # OIDC_ADMIN_VALUES (comma list), else a member; without one, roles are left alone.
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "").strip()
    OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "").strip() or "openid email profile"
    OIDC_ALLOWED_DOMAINS = os.environ.get("OIDC_ALLOWED_DOMAINS", "")
    OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "").strip()
    OIDC_ADMIN_VALUES = os.environ.get("OIDC_ADMIN_VALUES", "")
    # The callback URL the provider sends the browser back to; empty: this request's
    # <scheme>://<host>/dashboard/oidc/callback (set it when a proxy hides the public address).
    OIDC_REDIRECT_URI = os.environ.get("OIDC_REDIRECT_URI", "").strip()


class TestingConfig(Config):
    TESTING = True
    OTEL_EXPORTER_OTLP_ENDPOINT = None  # traces only where a test turns them on
    OIDC_ISSUER = ""  # single sign-on only where a test starts a provider
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    REDIS_URL = os.environ.get("REDIS_URL") or None
    GATEWAY_MASTER_KEY = None
    # Tests of several instances sharing Redis see each other's outcomes at once; the batching
    # has tests of its own.
    HEALTH_CHECK_CACHE_SECONDS = 0.0
    HEALTH_FLUSH_SECONDS = 0.0
    LOG_FLUSH_SECONDS = 0.05
    # Per test run (created only if used), so no leftover spool reaches another run's database.
    LOG_SPOOL_DIR = os.path.join(tempfile.gettempdir(), f"gateway-test-spool-{os.urandom(6).hex()}")
