"""Model name → the deployments to try, in order: the model's own (by priority, then by its
strategy, see balancer.py), then those of its fallback models (each in its own order)."""
import random
from dataclasses import dataclass

from ...errors import InvalidRequest, NotFound, PermissionDenied
from ...vendors.base import Call
from .balancer import DeploymentStats, order


@dataclass(frozen=True)
class Route:
    entry: object  # catalog.ModelEntry that this deployment serves (the fallback's, on fallback)
    deployment: object  # catalog.Deployment
    provider: object  # catalog.Provider
    key: int | None = None  # which of the provider's API keys
    deadline: float | None = None  # time.monotonic() by which the answer must have started
    traceparent: str | None = None  # this attempt's W3C trace context (observability/tracing)

    @property
    def call(self):
        return Call(key=self.key, deadline=self.deadline, traceparent=self.traceparent)

    @property
    def label(self):
        """<provider>/<upstream model>, as in x-gateway-deployment."""
        return self.deployment.id


@dataclass(frozen=True)
class Plan:
    """What serving one request may use: the requested model, then its usable fallbacks."""
    entry: object
    chain: tuple  # (entry, *fallback entries)
    nominal: Route  # the first deployment: what limits and token estimates are computed on


class Router:
    def __init__(self, catalog, stats=None, rng=None):
        self.catalog = catalog
        self.stats = stats or DeploymentStats()
        self.rng = rng or random.Random()

    def visible_models(self, principal):
        return [m for m in self.catalog.models.values() if principal.may_use(m.name)]

    def entry(self, model, principal):
        if not isinstance(model, str) or not model:
            raise InvalidRequest("'model' is required and must be a non-empty string.",
                                 param="model", code="invalid_model")
        entry = self.catalog.models.get(model)
        if entry is None:
            raise NotFound(f"The model `{model}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        if not principal.may_use(model):
            raise PermissionDenied(f"This API key is not allowed to use the model `{model}`.",
                                   param="model", code="model_not_allowed")
        return entry

    def plan(self, model, principal):
        """The requested model and the fallbacks this key may use too."""
        entry = self.entry(model, principal)
        fallbacks = [self.catalog.models[name] for name in entry.fallbacks
                     if name in self.catalog.models and principal.may_use(name)]
        return Plan(entry, (entry, *fallbacks), self.route(entry, entry.deployments[0]))

    def route(self, entry, deployment, key=None, deadline=None):
        return Route(entry, deployment, self.catalog.providers[deployment.provider], key, deadline)

    def pick(self, model, principal):
        """The first deployment to try for `model` (the head of one round of the plan)."""
        return self.round(self.plan(model, principal))[0]

    def round(self, plan):
        """One pass over everything the plan may use, in the order to try it: a list of Routes
        (without key or deadline). A deployment shared by a model and a fallback comes once."""
        out, seen = [], set()
        for entry in plan.chain:
            for deployment in order(entry.deployments, entry.strategy, self.stats, self.rng):
                if deployment.id not in seen:
                    seen.add(deployment.id)
                    out.append(self.route(entry, deployment))
        return out
