"""Users: lookups, paged listing with filters, creation and changes."""
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import InvalidRequest
from ..extensions import db
from ..models import MAX_ID, User


def conflict(message, param):
    return InvalidRequest(message, param=param, code="conflict", status=409)


def get(user_id):
    """The row, or None (also for an id no INTEGER column can hold)."""
    return db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None


def get_by_email(email):
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create(email, name=None, role="member", **limits):
    """A new active user; limits are Limits columns (models, rpm, …). A taken email → 409."""
    user = User(email=email.strip().lower(), name=name, role=role, active=True, **limits)
    db.session.add(user)
    _commit_unique(f"A user with email {user.email} already exists.", "email")
    return user


def list_all():
    return db.session.scalars(select(User).order_by(User.id)).all()


def page(*, limit=50, offset=0, role=None, active=None, q=None):
    """(users, total) ordered by id; q matches email or name, case-insensitive."""
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    if q:
        needle = q.lower()
        query = query.where(or_(func.lower(User.email).contains(needle, autoescape=True),
                                func.lower(User.name).contains(needle, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(User.id).limit(limit).offset(offset)).all()
    return rows, total


def update(user, fields):
    """Set the given columns (name, email, role, active, limits); a taken email → 409."""
    for name, value in fields.items():
        setattr(user, name, value)
    _commit_unique(f"A user with email {user.email} already exists.", "email")
    return user


def deactivate(user):
    if user.active:
        user.active = False
        db.session.commit()
    return user


def _commit_unique(message, param):
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict(message, param) from None
