"""/admin/models: every configured model with its deployments and their health, for admins.

Per deployment: its circuit (closed, open with the seconds until it may be probed, half_open: the
next request takes the probe, or unknown when no health store answers) and each provider key's
cooldown (rate_limited: a 429 on this upstream model; auth_failed: a 401/403, for every model),
read from the gateway's health store without changing it. Per model and per deployment: requests,
error rate (status >= 400) and p50/p95 latency over the last hour of request logs (a request
counts for the deployment that answered it last), from one grouped query
(repositories/log_queries.recent_figures).
"""
from datetime import timedelta

from flasgger import swag_from

from ...models import utcnow
from ...repositories import log_queries
from .. import caller, gateway, require_admin
from . import bp, doc

WINDOW = timedelta(hours=1)


def render_figures(figures):
    if figures is None:
        return {"requests": 0, "errors": 0, "error_rate": None, "p50_latency_ms": None,
                "p95_latency_ms": None}
    rate = figures.error_rate
    return {"requests": figures.requests, "errors": figures.errors,
            "error_rate": round(rate, 4) if rate is not None else None,
            "p50_latency_ms": _ms(figures.p50_ms), "p95_latency_ms": _ms(figures.p95_ms)}


def _ms(value):
    return round(value, 1) if value is not None else None


def render_keys(peek, nkeys):
    out = []
    for index in range(nkeys):
        auth, rate = peek.key_waits[index] if peek is not None else (0.0, 0.0)
        state = "auth_failed" if auth else "rate_limited" if rate else "ok"
        out.append({"index": index, "state": state,
                    "cooldown_seconds": round(max(auth, rate), 3)})
    return out


def render_deployment(health, catalog, deployment, figures):
    provider = catalog.providers.get(deployment.provider)
    peek = health.peek(provider, deployment) if provider is not None else None
    return {"id": deployment.id, "provider": deployment.provider, "model": deployment.model,
            "weight": deployment.weight, "priority": deployment.priority,
            "circuit": {"state": peek.circuit if peek is not None else "unknown",
                        "retry_in_seconds": round(peek.wait, 3) if peek is not None else None},
            "keys": render_keys(peek, len(provider.api_keys) if provider is not None else 0),
            **render_figures(figures.get(deployment.id))}


@bp.get("/models")
@swag_from(doc("admin_models_list.yml"))
def list_models():
    require_admin(caller())
    gw = gateway()
    catalog, health = gw.router.catalog, gw.health
    since = utcnow() - WINDOW
    by_model, by_deployment = log_queries.recent_figures(since)
    data = [{"name": entry.name, "strategy": entry.strategy, "fallbacks": list(entry.fallbacks),
             **render_figures(by_model.get(entry.name)),
             "deployments": [render_deployment(health, catalog, d, by_deployment)
                             for d in entry.deployments]}
            for entry in sorted(catalog.models.values(), key=lambda e: e.name)]
    return {"window_seconds": int(WINDOW.total_seconds()),
            "since": since.isoformat(timespec="seconds") + "Z", "data": data}
