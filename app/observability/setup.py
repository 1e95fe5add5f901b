"""register_observability(app): metrics, structured logs and traces, each added to the
gateway's observers (app/observability/__init__.py) and given its routes, after register_gateway.
One line per part below."""
from . import logs, metrics, tracing


def register_observability(app):
    gateway = app.extensions.get("gateway")
    if gateway is None:
        return
    metrics.register(app, gateway)
    logs.register(app, gateway)
    tracing.register(app, gateway)
