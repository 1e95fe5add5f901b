"""Settings read from the environment (.env and .flaskenv are loaded by python-dotenv)."""
import os
import tempfile
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
load_dotenv(ROOT / ".env")
load_dotenv(ROOT / ".flaskenv")


def _int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _float(name, default):
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


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
    # Path of the providers/models YAML; tests may also pass the parsed mapping itself.
    GATEWAY_CONFIG = os.environ.get("GATEWAY_CONFIG") or None
    GATEWAY_MASTER_KEY = os.environ.get("GATEWAY_MASTER_KEY") or None
    OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY") or None
    ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY") or None
    CORS_ORIGINS = os.environ.get("CORS_ORIGINS", "")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    MAX_REQUEST_BYTES = _int("MAX_REQUEST_BYTES", 32 * 1024 * 1024)
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
    # The `flask db` commands (Flask-Migrate); gunicorn.conf.py turns them off in its workers.
    DB_COMMANDS = os.environ.get("GATEWAY_DB_COMMANDS", "1") != "0"
    SWAGGER = {"title": "LLM Gateway", "uiversion": 3, "openapi": "3.0.3"}
    # Request bodies one worker holds at once (app/routes/body.py): a body that would go over
    # gets 503 with retry-after (unread); one larger than this alone, 413.
    MAX_BODY_BYTES_IN_FLIGHT = _int("MAX_BODY_BYTES_IN_FLIGHT", 256 * 1024 * 1024)


class TestingConfig(Config):
    TESTING = True
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
