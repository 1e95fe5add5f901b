"""Who a key is: the key, its owner and its project, with the limits of each."""
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..gateway.auth import Principal
from ..gateway.limits.tickets import Scope
from ..models import ApiKey, Project, User

_LIMITS = ("rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period", "models")


def _scope(name, row, prefix, label=None):
    values = {field: getattr(row, f"{prefix}_{field}") for field in _LIMITS}
    values["models"] = tuple(values["models"]) if values["models"] else None
    return Scope(name=name, label=label, **values)


def key_label(name, prefix):
    """How messages name a key: "key 'ci' (sk-gw-Ab3…)", or "key sk-gw-Ab3…" without a name."""
    return f"key '{name}' ({prefix}…)" if name else f"key {prefix}…"


def principal_for_hash(key_hash):
    """The Principal of a key hash (None when unknown), in one query. A failed query leaves the
    session clean for the next one."""
    return _clean_on_failure(_principal_for_hash, key_hash)


def _clean_on_failure(read, *args):
    """read(*args); when it raises, the session is rolled back (best effort) before re-raising."""
    try:
        return read(*args)
    except Exception:
        try:
            db.session.rollback()
        except Exception:
            pass
        raise


def _principal_for_hash(key_hash):
    user, project = aliased(User), aliased(Project)
    columns = [ApiKey.id, ApiKey.user_id, ApiKey.project_id, ApiKey.expires_at,
               ApiKey.revoked_at, ApiKey.prefix, user.role, user.active,
               ApiKey.name.label("key_name"), user.email.label("user_email"),
               project.name.label("project_name")]
    for prefix, entity in (("k", ApiKey), ("u", user), ("p", project)):
        columns += [getattr(entity, field).label(f"{prefix}_{field}") for field in _LIMITS]
    row = db.session.execute(
        select(*columns)
        .join(user, user.id == ApiKey.user_id)
        .outerjoin(project, project.id == ApiKey.project_id)
        .where(ApiKey.key_hash == key_hash)
    ).first()
    if row is None:
        return None
    scopes = [_scope(f"key:{row.id}", row, "k", key_label(row.key_name, row.prefix)),
              _scope(f"user:{row.user_id}", row, "u", f"user {row.user_email}")]
    if row.project_id is not None:
        scopes.append(_scope(f"project:{row.project_id}", row, "p",
                             f"project '{row.project_name}'"))
    return Principal(key_id=row.id, user_id=row.user_id, project_id=row.project_id,
                     role=row.role, models=scopes[0].models, expires_at=row.expires_at,
                     revoked=row.revoked_at is not None, active=row.active,
                     scopes=tuple(scopes), key_prefix=row.prefix)


def principal_for_user(user_id):
    """The Principal of a dashboard session opened by single sign-on (no key): the user's role,
    state and limits, as any key of theirs would carry them (key_id None; None when no such
    user). Admin routes authorize it exactly as such a key."""
    user = _clean_on_failure(db.session.get, User, user_id)
    if user is None:
        return None
    limits = {field: getattr(user, field) for field in _LIMITS}
    limits["models"] = tuple(limits["models"]) if limits["models"] else None
    scope = Scope(name=f"user:{user.id}", label=f"user {user.email}", **limits)
    return Principal(key_id=None, user_id=user.id, project_id=None, role=user.role,
                     active=user.active, scopes=(scope,))
