"""Who a key is: the key, its owner and its project, with the limits of each."""
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..gateway.auth import Principal
from ..gateway.limits.tickets import Scope
from ..models import ApiKey, Project, User

_LIMITS = ("rpm", "tpm", "max_parallel", "max_budget_usd", "budget_period", "models")


def _scope(name, row, prefix):
    values = {field: getattr(row, f"{prefix}_{field}") for field in _LIMITS}
    values["models"] = tuple(values["models"]) if values["models"] else None
    return Scope(name=name, **values)


def principal_for_hash(key_hash):
    """The Principal of a key hash (None when unknown), in one query. A failed query leaves the
    session clean for the next one."""
    try:
        return _principal_for_hash(key_hash)
    except Exception:
        try:
            db.session.rollback()
        except Exception:
            pass
        raise


def _principal_for_hash(key_hash):
    user, project = aliased(User), aliased(Project)
    columns = [ApiKey.id, ApiKey.user_id, ApiKey.project_id, ApiKey.expires_at,
               ApiKey.revoked_at, user.role, user.active]
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
    scopes = [_scope(f"key:{row.id}", row, "k"), _scope(f"user:{row.user_id}", row, "u")]
    if row.project_id is not None:
        scopes.append(_scope(f"project:{row.project_id}", row, "p"))
    return Principal(key_id=row.id, user_id=row.user_id, project_id=row.project_id,
                     role=row.role, models=scopes[0].models, expires_at=row.expires_at,
                     revoked=row.revoked_at is not None, active=row.active,
                     scopes=tuple(scopes))
