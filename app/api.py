"""Every blueprint, with its URL prefix."""
from .routes import admin, anthropic, health, models, openai, usage


def register_blueprints(app):
    app.register_blueprint(openai.bp, url_prefix="/v1")
    app.register_blueprint(anthropic.bp, url_prefix="/v1")
    app.register_blueprint(models.bp, url_prefix="/v1")
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(usage.bp)  # /admin/usage and /v1/usage
    app.register_blueprint(health.bp, url_prefix="/health")
