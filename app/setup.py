"""The register_* steps of create_app()."""
import contextlib
import logging
import os
import re
import secrets
import threading
import time

from flask import g, request
from redis.exceptions import ConnectionError as RedisConnectionError

from . import db_waits
from .config import database_url
from .extensions import cors, db, redis_ext, swagger
from .gateway.auth import Authenticator
from .gateway.breaker import DATABASE_FAILURES, REDIS_FAILURES, Breaker
from .gateway.catalog.loader import load_catalog
from .gateway.limits.limiter import DOWN_MODES, Limiter
from .gateway.limits.memory_store import MemoryStore
from .gateway.limits.redis_store import RedisStore
from .gateway.logs.writer import RequestLogWriter
from .gateway.pipeline import Gateway
from .gateway.routing.health import Health
from .gateway.routing.health_batch import BatchedHealthStore
from .gateway.routing.health_stores import MemoryHealthStore, RedisHealthStore
from .gateway.routing.router import Router
from .gateway.stored_responses import ResponseStore
from .observability import logs
from .repositories import budgets, end_session, principals, request_logs, settings
from .repositories import responses as response_repo
from .vendors.manager import VendorManager

# A client's own request id: printable ASCII without spaces (nothing that could split a header).
_CLIENT_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
CLIENT_REQUEST_ID_HEADERS = ("x-client-request-id", "x-request-id")
# What browsers may send (what the official OpenAI and Anthropic JS SDKs send, regexes for
# their families) and read (every header the gateway sets on an answer).
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type", "Accept", "x-api-key", r"anthropic-.*",
                      r"openai-.*", r"x-stainless-.*", "idempotency-key", "x-should-retry",
                      *CLIENT_REQUEST_ID_HEADERS]
CORS_EXPOSE_HEADERS = [
    "x-request-id", "x-client-request-id", "request-id", "retry-after",
    *(f"x-ratelimit-{what}-{kind}" for what in ("limit", "remaining", "reset")
      for kind in ("requests", "tokens")),
    "x-gateway-cost-usd", "x-gateway-deployment", "x-gateway-budget-remaining-usd",
    "x-gateway-dropped-tools"]
# The Swagger UI's groups, in this order (the API surfaces first).
SWAGGER_TAGS = ["OpenAI", "Anthropic", "Responses", "Usage", "Admin", "Health"]


def register_logging(app):
    level = str(app.config.get("LOG_LEVEL", "INFO")).upper()
    logs.configure(level, app.config.get("LOG_FORMAT", "text"))
    app.logger.setLevel(level)


def register_extensions(app):
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_REQUEST_BYTES"]
    uri = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _postgresql_options(app.config)
        db_waits.install(app.config["DATABASE_STATEMENT_TIMEOUT_SECONDS"]
                         + app.config["DATABASE_TIMEOUT_SECONDS"])
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri[len("sqlite:///"):]) or ".", exist_ok=True)
    db.init_app(app)

    @app.teardown_appcontext
    def end_session_in_time(exc):
        """Before Flask-SQLAlchemy's own teardown: end the session within the database timeout,
        and never fail a response over it (a rollback on a silent database would wait)."""
        with db_waits.bounded(app.config["DATABASE_TIMEOUT_SECONDS"]):
            end_session()

    if app.config["DB_COMMANDS"]:
        # Importing Alembic logs its plugins at INFO: quiet outside `flask db …`, whose
        # migrations/env.py sets the alembic logger from alembic.ini (INFO) when it runs.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from flask_migrate import Migrate  # with Alembic: ~11 MB that a serving worker never uses

        Migrate(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    redis_ext.init_app(app)
    origins = [o.strip() for o in app.config.get("CORS_ORIGINS", "").split(",") if o.strip()]
    if origins:
        cors.init_app(app, origins=origins, expose_headers=CORS_EXPOSE_HEADERS,
                      allow_headers=CORS_ALLOW_HEADERS)


def new_request_id():
    return f"req_{secrets.token_hex(16)}"  # 32 random hex digits, 6 µs cheaper than uuid4


def _postgresql_options(config):
    """Every wait on PostgreSQL is bounded: connecting (connect_timeout), a packet the network
    dropped (tcp_user_timeout, keepalives), a statement (statement_timeout), a pooled connection
    (pool_timeout), a peer that never answers (db_waits.py). A database that drops packets
    fails fast: request logs go to the spool, key lookups to the last good answer."""
    wait = max(1, int(config["DATABASE_TIMEOUT_SECONDS"]))
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_timeout", wait)
    statement_ms = int(config["DATABASE_STATEMENT_TIMEOUT_SECONDS"] * 1000)
    options["connect_args"] = {
        "connect_timeout": wait, "tcp_user_timeout": wait * 1000, "keepalives": 1,
        "keepalives_idle": wait, "keepalives_interval": 1, "keepalives_count": 3,
        "options": f"-c statement_timeout={statement_ms}", **options.get("connect_args", {})}
    return options


def register_request_id(app):
    """Every request gets an id the gateway makes (x-request-id of the response, the identity of
    its log row, limit slots and reservations). A client's own id (x-client-request-id, or
    x-request-id) is only kept beside it: echoed as x-client-request-id and logged."""

    @app.before_request
    def assign_request_id():
        g.request_id = new_request_id()
        for name in CLIENT_REQUEST_ID_HEADERS:
            incoming = request.headers.get(name)
            if incoming is not None:
                g.client_request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else None
                break

    @app.after_request
    def expose_request_id(response):
        response.headers["x-request-id"] = g.get("request_id") or new_request_id()
        if g.get("client_request_id"):
            response.headers["x-client-request-id"] = g.client_request_id
        return response


def register_gateway(app):
    catalog = load_catalog(app.config.get("GATEWAY_CONFIG"), VendorManager.vendors())

    write_seconds = max(10, 2 * app.config["DATABASE_TIMEOUT_SECONDS"])

    def write_batch(rows):
        with app.app_context(), db_waits.bounded(write_seconds):
            return request_logs.insert_batch(rows)

    writer = RequestLogWriter(write_batch, queue_size=app.config["LOG_QUEUE_SIZE"],
                              batch_size=app.config["LOG_BATCH_SIZE"],
                              flush_seconds=app.config["LOG_FLUSH_SECONDS"],
                              spool_dir=app.config["LOG_SPOOL_DIR"])
    lookup_seconds = app.config["DATABASE_TIMEOUT_SECONDS"]

    def lookup(key_hash, known=False):
        """A key this worker knows waits at most a second for its refresh (then its last good
        lookup serves); an unknown one up to DATABASE_TIMEOUT_SECONDS."""
        with db_waits.bounded(min(1.0, lookup_seconds) if known else lookup_seconds):
            try:
                return principals.principal_for_hash(key_hash)
            finally:
                end_session()  # the connection goes back now, within the same deadline

    authenticator = Authenticator(
        lookup, master_key=app.config.get("GATEWAY_MASTER_KEY"),
        ttl=app.config["KEY_CACHE_TTL_SECONDS"],
        breaker=Breaker("The database", DATABASE_FAILURES, app.config["DATABASE_RETRY_SECONDS"]),
        negative_ttl=app.config["AUTH_UNKNOWN_KEY_CACHE_SECONDS"],
        failures_per_minute=app.config["AUTH_FAILURES_PER_MINUTE"])
    redis_client = app.extensions.get("redis")
    breaker = prefix = None
    if redis_client is not None:
        breaker = Breaker("Redis", REDIS_FAILURES, app.config["REDIS_RETRY_SECONDS"])
        prefix = _redis_key_prefix(app)
    app.extensions["gateway"] = Gateway(Router(catalog), VendorManager(), authenticator, writer,
                                        _limiter(app, redis_client, breaker, prefix),
                                        keepalive_seconds=app.config["STREAM_KEEPALIVE_SECONDS"],
                                        health=_health(app, catalog, redis_client, breaker,
                                                       prefix))
    app.extensions["gateway"].responses_store = _response_store(app, authenticator.breaker)


def _response_store(app, breaker):
    """Stored responses (RESPONSES_STORE): the repository in an app context of its own, every
    wait bounded; the database's breaker is the key lookups'."""

    @contextlib.contextmanager
    def database(seconds):
        with app.app_context(), db_waits.bounded(seconds):
            try:
                yield response_repo
            finally:
                end_session()

    return ResponseStore(app.config["RESPONSES_STORE"],
                         app.config["RESPONSES_RETENTION_DAYS"] * 86400,
                         app.config["DATABASE_TIMEOUT_SECONDS"], database=database,
                         breaker=breaker)


def _limiter(app, redis_client, breaker, prefix):
    def spent_since(scope_name, start):
        with app.app_context():
            return budgets.spent_since(scope_name, start)

    if redis_client is None:
        return Limiter(MemoryStore(), spent_since)
    modes = {name: app.config[name] for name in ("REDIS_DOWN_RATE_LIMITS", "REDIS_DOWN_BUDGETS")}
    for name, mode in modes.items():
        if mode not in DOWN_MODES:
            raise ValueError(f"{name} must be one of {', '.join(DOWN_MODES)}, not {mode!r}")
    if app.config["LIMIT_QUOTA_LEASE_REQUESTS"] < 0:
        raise ValueError("LIMIT_QUOTA_LEASE_REQUESTS must be 0 (no quota leases) or more, not "
                         f"{app.config['LIMIT_QUOTA_LEASE_REQUESTS']}")
    store = RedisStore(redis_client, prefix=lambda: f"{prefix()}:lim", breaker=breaker,
                       lease_seconds=app.config["LIMIT_LEASE_SECONDS"],
                       quota_lease_requests=app.config["LIMIT_QUOTA_LEASE_REQUESTS"])
    return Limiter(store, spent_since, fallback=MemoryStore(), breaker=breaker,
                   down_rate_limits=modes["REDIS_DOWN_RATE_LIMITS"],
                   down_budgets=modes["REDIS_DOWN_BUDGETS"])


def _health(app, catalog, redis_client, breaker, prefix):
    """Circuits and provider-key cooldowns: shared through Redis like the limit counters."""
    if redis_client is None:
        return Health(MemoryHealthStore(), catalog.resilience)
    store = BatchedHealthStore(RedisHealthStore(redis_client, lambda: f"{prefix()}:health"),
                               check_ttl=app.config["HEALTH_CHECK_CACHE_SECONDS"],
                               flush_seconds=app.config["HEALTH_FLUSH_SECONDS"])
    return Health(store, catalog.resilience, fallback=MemoryHealthStore(), breaker=breaker)


def _redis_key_prefix(app):
    """() -> the prefix of this gateway's Redis keys: REDIS_KEY_PREFIX, else gw:<the database's
    installation id>, read when first needed (a database that does not answer then makes Redis
    unusable for the moment: the limits degrade as while Redis is down)."""
    configured = app.config["REDIS_KEY_PREFIX"]
    if configured:
        return lambda: configured

    return _InstallationPrefix(app)


class _InstallationPrefix:
    """gw:<installation id>, read from the database by one request for all: a new worker's
    first requests come together. Those that waited for a read that failed get its error
    rather than each trying again in turn (a database that does not answer would make the
    last of them wait for every try before its own)."""

    def __init__(self, app):
        self.app = app
        self.value = None
        self.failure = (float("-inf"), "")  # when the last read failed, and why
        self.reading = threading.Lock()

    def __call__(self):
        if self.value is None:
            asked = time.monotonic()
            with self.reading:
                if self.value is None:
                    failed_at, why = self.failure
                    if failed_at >= asked:  # the read this request waited for failed
                        raise RedisConnectionError(why)
                    self.value = self._read()
        return self.value

    def _read(self):
        try:
            with self.app.app_context():
                return f"gw:{settings.installation_id()[:16]}"
        except Exception as exc:
            why = f"the Redis key prefix (the database's installation id) could not be read: {exc}"
            self.failure = (time.monotonic(), why)
            raise RedisConnectionError(why) from exc


def register_swagger(app):
    swagger.template = {
        "info": {"title": "LLM Gateway", "version": "1.0",
                 "description": "OpenAI- and Anthropic-compatible LLM gateway."},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "A gateway key (sk-gw-…) or the master key."},
            "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
        "security": [{"bearer": []}, {"x-api-key": []}],
        "tags": [{"name": name} for name in SWAGGER_TAGS],
    }
    # the UI's inline script reads this as a JavaScript object (Flasgger's default is Python's
    # None, a ReferenceError in the page)
    swagger.config.setdefault("auth", "{}")
    swagger.init_app(app)
