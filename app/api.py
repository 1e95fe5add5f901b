"""Every blueprint, with its URL prefix."""
from .routes import anthropic, health, openai


def register_blueprints(app):
    app.register_blueprint(openai.bp, url_prefix="/v1")
    app.register_blueprint(anthropic.bp, url_prefix="/v1")
    app.register_blueprint(health.bp, url_prefix="/health")
