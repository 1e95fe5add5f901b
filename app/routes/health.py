"""Liveness and readiness probes."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .. import db_waits
from ..extensions import db
from . import gateway

bp = Blueprint("health", __name__)
DOCS = Path(__file__).parent / "docs"


@bp.get("/live")
@swag_from(str(DOCS / "health_live.yml"))
def live():
    return jsonify({"status": "ok"})


@bp.get("/ready")
@swag_from(str(DOCS / "health_ready.yml"))
def ready():
    """200 while this instance can serve: "ok", or "degraded" naming the dependency that is down
    (a database or Redis outage is every instance's, and the gateway keeps serving through it:
    README "Failure modes"). 503 only when request logs could be lost: the database is down and
    the spool cannot be written either. Each check waits at most its dependency's timeout, and
    not at all while that dependency's breaker is open."""
    gw = gateway()

    def select_one():
        with db_waits.bounded(current_app.config["DATABASE_TIMEOUT_SECONDS"]):
            db.session.execute(text("SELECT 1"))

    checks = {"database": _check(gw.authenticator.breaker, select_one)}
    redis = current_app.extensions.get("redis")
    if redis is not None:
        checks["redis"] = _check(gw.limiter.breaker, redis.ping)
    writer = gw.log_writer
    spool = {"rows": writer.pending_spool, "writable": writer.spool_writable()}
    if all(v == "ok" for v in checks.values()):
        status, code = "ok", 200
    elif checks["database"] != "ok" and not spool["writable"]:
        status, code = "unavailable", 503
    else:
        status, code = "degraded", 200
    return jsonify({"status": status, "checks": checks, "log_spool": spool}), code


def _check(breaker, probe):
    """ "ok", or what failed; a dependency whose breaker is open is not asked again."""
    if breaker is not None and not breaker.allow():
        return "error: unavailable (waiting for the next probe)"
    try:
        probe()
    except Exception as exc:  # the probe reports what failed instead of failing itself
        try:
            db.session.rollback()
        except Exception:
            pass
        if breaker is not None and isinstance(exc, breaker.failures_caught):
            breaker.failed(exc)
        return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if breaker is not None:
        breaker.succeeded()
    return "ok"
