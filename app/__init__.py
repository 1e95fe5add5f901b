"""The application factory."""
from flask import Flask

from .api import register_blueprints
from .cli import register_cli
from .config import Config
from .errors import register_error_handlers
from .observability.setup import register_observability
from .proxies import register_proxies
from .setup import (
    register_extensions,
    register_gateway,
    register_logging,
    register_request_id,
    register_swagger,
)


def create_app(config=None):
    """config: None (environment), a config class, or a mapping of overrides."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    register_logging(app)
    register_extensions(app)
    register_request_id(app)
    register_error_handlers(app)
    register_gateway(app)
    register_observability(app)
    register_blueprints(app)
    register_swagger(app)
    register_cli(app)
    register_proxies(app)
    return app
