"""Every blueprint, with its URL prefix."""
from .routes import health, openai


def register_blueprints(app):
    app.register_blueprint(openai.bp, url_prefix="/v1")
    app.register_blueprint(health.bp, url_prefix="/health")
