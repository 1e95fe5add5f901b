"""Values that belong to the database (models.Setting)."""
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Setting

INSTALLATION_ID = "installation_id"


def installation_id():
    """This database's random id, made by the migration (or here, the first time, for a schema
    built without it)."""
    value = db.session.scalar(select(Setting.value).where(Setting.name == INSTALLATION_ID))
    if value is not None:
        return value
    db.session.add(Setting(name=INSTALLATION_ID, value=uuid.uuid4().hex))
    try:
        db.session.commit()
    except IntegrityError:  # another process made it first
        db.session.rollback()
    return db.session.scalar(select(Setting.value).where(Setting.name == INSTALLATION_ID))
