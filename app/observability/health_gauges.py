"""Circuit states and provider-key cooldowns, read at scrape time with Health.peek (the health
store's read-only view: with Redis, the state every worker and instance shares; without Redis,
or while its breaker holds it for down, the memory of the worker serving the scrape). A
deployment whose health cannot be read is left out, and gateway_health_state_readable is 0.
"""
from prometheus_client.core import GaugeMetricFamily

STATES = ("closed", "half_open", "open")


class HealthCollector:
    def __init__(self, gateway):
        self.gateway = gateway

    def describe(self):
        return []

    def collect(self):
        catalog = self.gateway.router.catalog
        health = self.gateway.health
        deployments = {d.id: d for entry in catalog.models.values() for d in entry.deployments}
        state = GaugeMetricFamily("gateway_circuit_state",
                                  "1 for the current state of each deployment's circuit",
                                  labels=["provider", "upstream_model", "state"])
        cooling = GaugeMetricFamily("gateway_provider_keys_cooling",
                                    "Provider keys resting (429 or 401/403) for a deployment",
                                    labels=["provider", "upstream_model"])
        readable = 1
        for d in deployments.values():
            provider = catalog.providers.get(d.provider)
            peek = health.peek(provider, d) if provider is not None else None
            if peek is None:
                readable = 0
                continue
            for name in STATES:
                state.add_metric([d.provider, d.model, name], int(peek.circuit == name))
            cooling.add_metric([d.provider, d.model],
                               sum(1 for waits in peek.key_waits if max(waits) > 0))
        keys = GaugeMetricFamily("gateway_provider_keys", "API keys configured per provider",
                                 labels=["provider"])
        for name, provider in catalog.providers.items():
            keys.add_metric([name], len(provider.api_keys))
        ok = GaugeMetricFamily("gateway_health_state_readable",
                               "1 if every deployment's circuit and key cooldowns could be read")
        ok.add_metric([], readable)
        yield from (state, cooling, keys, ok)
