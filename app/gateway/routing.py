"""Model name → deployment → provider."""
from dataclasses import dataclass

from ..errors import InvalidRequest, NotFound, PermissionDenied


@dataclass(frozen=True)
class Route:
    entry: object  # catalog.ModelEntry
    deployment: object  # catalog.Deployment
    provider: object  # catalog.Provider


class Router:
    def __init__(self, catalog):
        self.catalog = catalog

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

    def pick(self, model, principal):
        entry = self.entry(model, principal)
        deployment = entry.deployments[0]
        return Route(entry, deployment, self.catalog.providers[deployment.provider])
