"""Every query and write of the app lives here, one module per aggregate."""
import logging

from ..extensions import db

log = logging.getLogger(__name__)


def end_session():
    """Close the session (its connection goes back to the pool); never raises: a connection the
    database dropped is discarded by the pool."""
    if not db.session.registry.has():  # this context never used the database
        return
    try:
        db.session.close()
    except Exception as exc:
        log.debug("closing a session on a failed connection: %s", exc)
