"""Flask extensions, created unbound; create_app() binds them to an app."""
from flasgger import Swagger
from flask_cors import CORS
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
swagger = Swagger()
cors = CORS()


class RedisExtension:
    """A redis-py client per app, in app.extensions["redis"] (None when REDIS_URL is unset).

    Its pool is a blocking one: with a thousand requests in flight in one gevent worker, a burst
    of Redis calls waits a moment for a free connection instead of failing with "Too many
    connections" (redis-py's default pool stops at 100 and raises)."""

    def init_app(self, app):
        url = app.config.get("REDIS_URL")
        client = None
        if url:
            import redis

            # socket_read_size: each connection's read buffer; redis-py's 64 KB default is
            # 4 MB a worker over 64 connections, for replies of a few dozen bytes. Every wait
            # on Redis is bounded by the socket timeouts; after a failure the breaker
            # (gateway/breaker.py) keeps requests from waiting on it again.
            wait = app.config["REDIS_SOCKET_TIMEOUT_SECONDS"]
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=app.config["REDIS_MAX_CONNECTIONS"], timeout=5,
                socket_timeout=wait, socket_connect_timeout=wait, health_check_interval=30,
                socket_read_size=8192)
            client = redis.Redis(connection_pool=pool)
        app.extensions["redis"] = client


redis_ext = RedisExtension()
