"""Projects: lookups, paged listing, creation, changes and membership."""
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import MAX_ID, ApiKey, Project, User, project_members, utcnow
from .users import conflict


def get(project_id):
    """The row, or None (also for an id no INTEGER column can hold)."""
    return db.session.get(Project, project_id) if 0 < project_id <= MAX_ID else None


def create(name, *, description=None, owner_id=None, **limits):
    """A new project; a taken name → 409."""
    project = Project(name=name, description=description, owner_id=owner_id, **limits)
    db.session.add(project)
    _commit_unique(name)
    return project


def get_by_name(name):
    return db.session.scalar(select(Project).where(Project.name == name))


def page(*, limit=50, offset=0, q=None):
    """(projects, total) ordered by id; q matches the name, case-insensitive."""
    query = select(Project)
    if q:
        query = query.where(func.lower(Project.name).contains(q.lower(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Project.id).limit(limit).offset(offset)).all()
    return rows, total


def update(project, fields):
    for name, value in fields.items():
        setattr(project, name, value)
    _commit_unique(project.name)
    return project


def is_member(project, user_id):
    """The user is the project's owner or one of its members."""
    if project.owner_id is not None and project.owner_id == user_id:
        return True
    return bool(db.session.scalar(select(exists().where(
        project_members.c.project_id == project.id, project_members.c.user_id == user_id))))


def add_member(project, user):
    """Add user to the project's members; False when it already was one."""
    if user in project.members:
        return False
    project.members.append(user)
    db.session.commit()
    return True


def remove_member(project, user):
    """Remove user from the members and revoke its unrevoked keys bound to the project (unless it
    owns the project). Returns the revoked keys (for cache invalidation), or None when the user
    was not a member."""
    if user not in project.members:
        return None
    project.members.remove(user)
    revoked = []
    if project.owner_id != user.id:
        revoked = db.session.scalars(select(ApiKey).where(
            ApiKey.project_id == project.id, ApiKey.user_id == user.id,
            ApiKey.revoked_at.is_(None))).all()
        now = utcnow()
        for key in revoked:
            key.revoked_at = now
    db.session.commit()
    return revoked


def members_of(project):
    return db.session.scalars(
        select(User).join(project_members, project_members.c.user_id == User.id)
        .where(project_members.c.project_id == project.id).order_by(User.id)).all()


def _commit_unique(name):
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict(f"A project named {name!r} already exists.", "name") from None
