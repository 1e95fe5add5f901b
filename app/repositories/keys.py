from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..gateway.auth import generate_key
from ..models import MAX_ID, ApiKey, utcnow


def create(user, *, name=None, models=None, expires_at=None, project_id=None, rpm=None,
           tpm=None, max_parallel=None, max_budget_usd=None, budget_period=None,
           admin_limits=None):
    """A new key for user; returns (ApiKey, secret). The secret is not stored, only its hash.
    admin_limits: what an admin fixed on it (member_limits.admin_fixed)."""
    secret, key_hash, prefix = generate_key()
    key = ApiKey(key_hash=key_hash, prefix=prefix, name=name, user_id=user.id,
                 project_id=project_id, models=list(models) if models else None,
                 expires_at=expires_at, rpm=rpm, tpm=tpm, max_parallel=max_parallel,
                 max_budget_usd=max_budget_usd, budget_period=budget_period,
                 admin_limits=admin_limits)
    db.session.add(key)
    db.session.commit()
    return key, secret


def list_all(user=None):
    query = select(ApiKey).order_by(ApiKey.id)
    if user is not None:
        query = query.where(ApiKey.user_id == user.id)
    return db.session.scalars(query).all()


def find(id_or_prefix):
    """A key by numeric id or by its display prefix; None when nothing or several match."""
    if str(id_or_prefix).isdigit():
        return db.session.get(ApiKey, int(id_or_prefix))
    matches = db.session.scalars(
        select(ApiKey).where(ApiKey.prefix.startswith(id_or_prefix, autoescape=True)).limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def get(key_id):
    """The row, or None (also for an id no INTEGER column can hold)."""
    return db.session.get(ApiKey, key_id) if 0 < key_id <= MAX_ID else None


STATES = ("active", "revoked", "expired")


def page(*, limit=50, offset=0, user_id=None, project_id=None, state=None, now=None):
    """(keys, total) ordered by id, each with its user loaded. state: active (neither revoked
    nor expired), revoked, or expired (not revoked, expires_at passed)."""
    now = now or utcnow()
    query = select(ApiKey)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    if project_id is not None:
        query = query.where(ApiKey.project_id == project_id)
    if state == "revoked":
        query = query.where(ApiKey.revoked_at.is_not(None))
    elif state == "expired":
        query = query.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    elif state == "active":
        query = query.where(ApiKey.revoked_at.is_(None),
                            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.options(selectinload(ApiKey.user)).order_by(ApiKey.id)
                              .limit(limit).offset(offset)).all()
    return rows, total


def update_fields(key, fields):
    """Set the given columns (name, limits, expires_at, project_id)."""
    for name, value in fields.items():
        setattr(key, name, value)
    db.session.commit()
    return key


def rotate(key, *, expires_at=None):
    """Revoke key and create its successor (same owner, name, project, limits, admin-fixed
    limits; expires_at as given) in one transaction; returns (new ApiKey, secret)."""
    secret, key_hash, prefix = generate_key()
    new = ApiKey(key_hash=key_hash, prefix=prefix, name=key.name, user_id=key.user_id,
                 project_id=key.project_id, models=list(key.models) if key.models else None,
                 expires_at=expires_at, rpm=key.rpm, tpm=key.tpm, max_parallel=key.max_parallel,
                 max_budget_usd=key.max_budget_usd, budget_period=key.budget_period,
                 admin_limits=key.admin_limits)
    key.revoked_at = utcnow()
    db.session.add(new)
    db.session.commit()
    return new, secret


def revoke(key):
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.session.commit()
    return key


def touch_last_used(last_used):
    """last_used: {key_id: datetime}; one UPDATE per key, only moving the time forward, in
    ascending key order: two writers updating the same keys lock them in the same order, so
    they can never deadlock."""
    for key_id, when in sorted(last_used.items()):
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < when))
            .values(last_used_at=when)
        )
