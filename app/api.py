"""Every blueprint, with its URL prefix."""
from .dashboard import oidc as _sso  # noqa: F401 - the single sign-on routes of its blueprint
from .dashboard import views as dashboard
from .routes import (
    admin,
    anthropic,
    health,
    landing,
    models,
    openai,
    responses,
    stored_responses,
    usage,
)


def register_blueprints(app):
    app.register_blueprint(openai.bp, url_prefix="/v1")
    app.register_blueprint(anthropic.bp, url_prefix="/v1")
    app.register_blueprint(models.bp, url_prefix="/v1")
    app.register_blueprint(responses.bp, url_prefix="/v1")
    app.register_blueprint(stored_responses.bp, url_prefix="/v1")
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(usage.bp)  # /admin/usage and /v1/usage
    app.register_blueprint(health.bp, url_prefix="/health")
    app.register_blueprint(dashboard.bp, url_prefix="/dashboard")
    app.register_blueprint(landing.bp)  # GET /
