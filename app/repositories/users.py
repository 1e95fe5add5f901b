from sqlalchemy import select

from ..extensions import db
from ..models import User


def get_by_email(email):
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create(email, name=None, role="member"):
    user = User(email=email.strip().lower(), name=name, role=role, active=True)
    db.session.add(user)
    db.session.commit()
    return user


def list_all():
    return db.session.scalars(select(User).order_by(User.id)).all()
