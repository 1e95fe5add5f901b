"""SQLAlchemy models: data only. Queries and writes live in app/repositories/.

Timestamps are naive UTC (`utcnow()`), the same on SQLite and PostgreSQL.
"""
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Index, Integer, Numeric, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

ROLES = ("admin", "member")
BUDGET_PERIODS = ("daily", "weekly", "monthly")
# BigInteger on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = BigInteger().with_variant(Integer, "sqlite")
MAX_ID = 2**31 - 1  # the largest id an INTEGER primary key holds
Money = Numeric(20, 10)


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


class Limits:
    """Controls an admin sets on a key, a user (the ceiling of the keys the user creates, and a
    limit across all of them) or a project. None means no limit."""

    models: Mapped[list | None] = mapped_column(db.JSON)  # allowlist (globs); None = every model
    rpm: Mapped[int | None]  # requests per minute
    tpm: Mapped[int | None]  # tokens per minute
    max_parallel: Mapped[int | None]  # requests in flight at once
    max_budget_usd = mapped_column(Money, nullable=True)
    budget_period: Mapped[str | None] = mapped_column(db.String(16))  # daily|weekly|monthly|None


project_members = db.Table(
    "project_members",
    db.Column("project_id", db.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    db.Column("user_id", db.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class User(Limits, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(db.String(320), unique=True)
    name: Mapped[str | None] = mapped_column(db.String(200))
    role: Mapped[str] = mapped_column(db.String(16), default="member")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    keys = relationship("ApiKey", back_populates="user")


class Project(Limits, db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(db.String(200), unique=True)
    description: Mapped[str | None] = mapped_column(db.String(1000))
    owner_id: Mapped[int | None] = mapped_column(db.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members = relationship("User", secondary=project_members, order_by="User.id")


class ApiKey(Limits, db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(db.String(64), unique=True)  # sha256 hex of the secret
    prefix: Mapped[str] = mapped_column(db.String(16))  # shown in lists, e.g. "sk-gw-Ab3dE"
    name: Mapped[str | None] = mapped_column(db.String(200))
    user_id: Mapped[int] = mapped_column(db.ForeignKey("users.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(db.ForeignKey("projects.id"), index=True)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What an admin fixed on this key ({field: value}, JSON-safe): its owner, a member, may only
    # tighten these (member_limits.py). Fields a member set itself are not in it.
    admin_limits: Mapped[dict | None] = mapped_column(db.JSON)

    user = relationship("User", back_populates="keys")
    project = relationship("Project")


class RequestLog(db.Model):
    """One row per inference request. input_tokens counts the whole prompt, cached ones included."""

    __tablename__ = "request_logs"
    __table_args__ = (
        Index("ix_request_logs_api_key_id_created_at", "api_key_id", "created_at"),
        Index("ix_request_logs_user_id_created_at", "user_id", "created_at"),
        Index("ix_request_logs_model_created_at", "model", "created_at"),
        Index("ix_request_logs_project_id_created_at", "project_id", "created_at"),
        Index("ix_request_logs_created_at", "created_at"),
        Index("ix_request_logs_client_request_id", "client_request_id"),
        # The log explorer (/admin/logs): each filter walks its own index newest first.
        Index("ix_request_logs_status_code_created_at", "status_code", "created_at"),
        Index("ix_request_logs_status_class_created_at", text("(status_code / 100)"),
              "created_at"),
        Index("ix_request_logs_provider_created_at", "provider", "created_at"),
        Index("ix_request_logs_error_type_created_at", "error_type", "created_at",
              postgresql_where=text("error_type IS NOT NULL"),
              sqlite_where=text("error_type IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The gateway's own id of the request (x-request-id of the response): unique, never chosen
    # by the client. The client's id, when it sent one, is kept beside it.
    request_id: Mapped[str] = mapped_column(db.String(64), unique=True)
    client_request_id: Mapped[str | None] = mapped_column(db.String(128))
    # The client's address: the socket's peer, or behind TRUSTED_PROXY_COUNT proxies the one they
    # forwarded (app/proxies.py).
    client_address: Mapped[str | None] = mapped_column(db.String(64))
    api_key_id: Mapped[int | None] = mapped_column(db.ForeignKey("api_keys.id"))
    user_id: Mapped[int | None] = mapped_column(db.ForeignKey("users.id"))
    project_id: Mapped[int | None] = mapped_column(db.ForeignKey("projects.id"))
    surface: Mapped[str] = mapped_column(db.String(16))  # openai | anthropic
    endpoint: Mapped[str] = mapped_column(db.String(32))  # chat | embeddings | messages
    model: Mapped[str | None] = mapped_column(db.String(200))  # as the client asked
    provider: Mapped[str | None] = mapped_column(db.String(100))
    upstream_model: Mapped[str | None] = mapped_column(db.String(200))
    stream: Mapped[bool] = mapped_column(default=False)
    status_code: Mapped[int]
    error_type: Mapped[str | None] = mapped_column(db.String(64))
    error_message: Mapped[str | None] = mapped_column(db.String(1000))
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cached_tokens: Mapped[int] = mapped_column(default=0)
    cache_write_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd = mapped_column(Money, nullable=False, default=0)
    latency_ms: Mapped[int]
    time_to_first_token_ms: Mapped[int | None]
    # Every upstream attempt, in order: [{provider, model, key, status, error, latency_ms}]
    attempts: Mapped[list | None] = mapped_column(db.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Setting(db.Model):
    """Values that belong to this database, e.g. `installation_id`: a random id made when the
    schema is built, so two databases (staging and production, or a rebuilt one) sharing one
    Redis server never share its counters."""

    __tablename__ = "gateway_settings"

    name: Mapped[str] = mapped_column(db.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(db.String(200))


class StoredResponse(db.Model):
    """A Responses API answer kept for previous_response_id, GET/DELETE /v1/responses/{id} and
    its input_items (RESPONSES_STORE). The id is the gateway's own (resp_…); `owner` is who may
    read it ("user:5", "key:7" or "master"), never the client's choice."""

    __tablename__ = "stored_responses"

    id: Mapped[str] = mapped_column(db.String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(db.String(64))
    api_key_id: Mapped[int | None]
    model: Mapped[str | None] = mapped_column(db.String(200))
    previous_response_id: Mapped[str | None] = mapped_column(db.String(64), index=True)
    input_items: Mapped[list] = mapped_column(db.JSON)  # as the client sent `input`, as a list
    instructions: Mapped[str | None] = mapped_column(db.Text)
    response: Mapped[dict] = mapped_column(db.JSON)  # the Responses object the client got
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
