"""Liveness and readiness probes."""
from pathlib import Path

from flasgger import swag_from
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("health", __name__)
DOCS = Path(__file__).parent / "docs"


@bp.get("/live")
@swag_from(str(DOCS / "health_live.yml"))
def live():
    return jsonify({"status": "ok"})


@bp.get("/ready")
@swag_from(str(DOCS / "health_ready.yml"))
def ready():
    checks = {"database": _check(lambda: db.session.execute(text("SELECT 1")))}
    redis = current_app.extensions.get("redis")
    if redis is not None:
        checks["redis"] = _check(redis.ping)
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), 200 if ok else 503


def _check(probe):
    try:
        probe()
        return "ok"
    except Exception as exc:  # the probe reports what failed instead of failing itself
        return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
