"""The model catalog: providers (upstream accounts) and models (what clients ask for).

Loaded from the GATEWAY_CONFIG YAML (or a mapping with the same shape), with ${VAR} expanded from
the environment. Errors name the bad field, e.g. "models[1].deployments[0].provider: unknown
provider 'foo'". A provider whose keys all expand to empty is skipped with a warning.
Resilience settings (strategies, retries, fallbacks, cooldowns): see fields.py.
"""
import logging
import os
import re
from dataclasses import dataclass, field, replace

import yaml

from ..pricing import Price, builtin_max_output, builtin_price
from .defaults import ANTHROPIC_DEFAULT_MODELS, OPENAI_DEFAULT_MODELS, default_config
from .fields import (
    CircuitSettings,
    ConfigError,
    Resilience,
    boolean,
    expect,
    non_negative_int,
    number,
    parse_circuit,
    parse_resilience,
    positive_int,
    unknown_fields,
)

log = logging.getLogger(__name__)

__all__ = ["ANTHROPIC_DEFAULT_MODELS", "OPENAI_DEFAULT_MODELS", "Catalog", "ConfigError",
           "Deployment", "ModelEntry", "Provider", "load_catalog", "parse_catalog"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
VENDORS_WITH_KEYS = ("openai", "openai_responses", "anthropic")
STRATEGIES = ("weighted", "least-busy", "latency")
FIRST_BYTE_TIMEOUT = 120.0
IDLE_TIMEOUT = 300.0
ANSWER_TIMEOUT = 600.0


@dataclass(frozen=True)
class Provider:
    name: str
    vendor: str
    base_url: str | None = None
    api_keys: tuple = ()
    timeout_seconds: float | None = None  # the default of the two below when they are not set
    connect_timeout_seconds: float = 10.0
    first_byte_timeout_seconds: float | None = None  # until a stream's headers arrive
    idle_timeout_seconds: float | None = None  # longest silence between two chunks of a stream
    # A 429's retry-after (or retry-after-ms) sets how long the key rests for that model, at most
    # max_retry_after_seconds; when not honoured, the cooldown ladder decides.
    honor_retry_after: bool = True
    max_retry_after_seconds: float = 300.0
    web_search: bool = False  # this account may run the vendor's own web-search tool
    options: dict = field(default_factory=dict)  # vendor-specific extras (e.g. the mock's delays)

    @property
    def first_byte_timeout(self):
        return self.first_byte_timeout_seconds or self.timeout_seconds or FIRST_BYTE_TIMEOUT

    @property
    def idle_timeout(self):
        return self.idle_timeout_seconds or self.timeout_seconds or IDLE_TIMEOUT

    @property
    def answer_timeout(self):
        """A non-streamed answer's headers come when it is complete: its wait is the first-byte
        timeout only when one is set, else timeout_seconds (default 600 s)."""
        return self.first_byte_timeout_seconds or self.timeout_seconds or ANSWER_TIMEOUT


@dataclass(frozen=True)
class Deployment:
    provider: str
    model: str
    weight: float = 1.0  # share of the traffic under the weighted strategy
    priority: int = 0  # lower is preferred: every deployment of the best priority is tried first

    @property
    def id(self):
        """What health and statistics are kept under, and x-gateway-deployment."""
        return f"{self.provider}/{self.model}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    deployments: tuple
    price: Price
    max_output_tokens: int | None = None  # the model's limit: translated max_tokens are clamped
    default_max_tokens: int = 4096  # sent to Anthropic-format vendors when the client gave none
    strategy: str = "weighted"  # weighted | least-busy | latency
    fallbacks: tuple = ()  # other model names, tried after this model's deployments
    num_retries: int = 2  # attempts after the first, across deployments and fallbacks
    timeout_seconds: float | None = None  # deadline for an answer to start, retries included
    circuit: CircuitSettings = CircuitSettings()


@dataclass(frozen=True)
class Catalog:
    providers: dict
    models: dict
    resilience: Resilience = Resilience()


def expand_env(value, env):
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def _yaml_problem(exc):
    """PyYAML's multi-line message as one line: what is wrong, and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def load_catalog(source, known_vendors, env=None):
    """source: None (built-in default), a YAML path, or an already parsed mapping."""
    env = os.environ if env is None else env
    if source is None:
        raw = default_config(env)
    elif isinstance(source, dict):
        raw = source
    else:
        try:
            with open(source, encoding="utf-8") as fh:
                raw = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise ConfigError(f"GATEWAY_CONFIG: cannot read {source}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"GATEWAY_CONFIG: {source} is not valid YAML: "
                              f"{_yaml_problem(exc)}") from exc
    return parse_catalog(expand_env(raw, env), known_vendors)


def parse_catalog(raw, known_vendors):
    expect(raw, dict, "config")
    resilience = parse_resilience(raw.get("resilience"))
    providers, skipped = {}, set()
    raw_providers = raw.get("providers")
    expect(raw_providers, dict, "providers")
    for name, spec in raw_providers.items():
        provider = _parse_provider(name, spec, known_vendors)
        if provider is None:
            skipped.add(name)
        else:
            providers[name] = provider
    models, dropped, wheres = {}, set(), {}
    raw_models = raw.get("models")
    expect(raw_models, list, "models")
    for i, spec in enumerate(raw_models):
        entry = _parse_model(f"models[{i}]", spec, providers, skipped, resilience)
        if entry is None:
            dropped.add(spec.get("name"))
            continue
        if entry.name in models:
            raise ConfigError(f"models[{i}].name: duplicate model name {entry.name!r}")
        models[entry.name] = entry
        wheres[entry.name] = f"models[{i}]"
    for name, entry in list(models.items()):
        models[name] = _resolve_fallbacks(entry, wheres[name], models, dropped)
    return Catalog(providers=providers, models=models, resilience=resilience)


PROVIDER_FIELDS = {"vendor", "api_keys", "base_url", "timeout_seconds", "connect_timeout_seconds",
                   "first_byte_timeout_seconds", "idle_timeout_seconds", "honor_retry_after",
                   "max_retry_after_seconds", "web_search"}


def _parse_provider(name, spec, known_vendors):
    where = f"providers.{name}"
    expect(spec, dict, where)
    vendor = spec.get("vendor")
    if vendor not in known_vendors:
        raise ConfigError(f"{where}.vendor: must be one of {sorted(known_vendors)}, got {vendor!r}")
    keys = spec.get("api_keys", [])
    expect(keys, list, f"{where}.api_keys")
    keys = tuple(str(k) for k in keys if str(k).strip())
    if vendor in VENDORS_WITH_KEYS and not keys:
        log.warning("gateway config: provider %r has no API key set; skipping it", name)
        return None
    base_url = spec.get("base_url")
    if base_url is not None and not (isinstance(base_url, str) and base_url.startswith("http")):
        raise ConfigError(f"{where}.base_url: must be an http(s) URL, got {base_url!r}")
    timeouts = {k: number(spec[k], f"{where}.{k}") for k in
                ("timeout_seconds", "first_byte_timeout_seconds", "idle_timeout_seconds",
                 "max_retry_after_seconds")
                if spec.get(k) is not None}
    return Provider(
        name=name, vendor=vendor, base_url=base_url or None, api_keys=keys, **timeouts,
        connect_timeout_seconds=number(spec.get("connect_timeout_seconds", 10),
                                       f"{where}.connect_timeout_seconds"),
        honor_retry_after=boolean(spec, "honor_retry_after", where, default=True),
        web_search=boolean(spec, "web_search", where),
        options={k: v for k, v in spec.items() if k not in PROVIDER_FIELDS},
    )


MODEL_FIELDS = ("name", "deployments", "price", "max_output_tokens", "default_max_tokens",
                "strategy", "fallbacks", "num_retries", "timeout_seconds", "circuit_breaker")


def _parse_model(where, spec, providers, skipped, resilience):
    expect(spec, dict, where)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string")
    unknown_fields(spec, MODEL_FIELDS, where)
    raw_deployments = spec.get("deployments")
    expect(raw_deployments, list, f"{where}.deployments")
    deployments = []
    for j, dep in enumerate(raw_deployments):
        deployment = _parse_deployment(f"{where}.deployments[{j}]", dep, providers, skipped)
        if deployment is not None:
            deployments.append(deployment)
    if not deployments:
        if raw_deployments:
            log.warning("gateway config: model %r has no usable deployment; skipping it", name)
            return None
        raise ConfigError(f"{where}.deployments: must list at least one deployment")
    price_spec = spec.get("price")
    if price_spec is None:
        price = builtin_price(deployments[0].model)
    else:
        expect(price_spec, dict, f"{where}.price")
        price = Price.from_mapping(price_spec, f"{where}.price", ConfigError)
    max_out = positive_int(spec, "max_output_tokens", where)
    if max_out is None:
        max_out = builtin_max_output(deployments[0].model)
    default_max = positive_int(spec, "default_max_tokens", where) or min(max_out or 4096, 8192)
    strategy = spec.get("strategy", "weighted")
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}.strategy: must be one of {list(STRATEGIES)}, got {strategy!r}")
    fallbacks = spec.get("fallbacks", [])
    expect(fallbacks, list, f"{where}.fallbacks")
    for k, fallback in enumerate(fallbacks):
        if not isinstance(fallback, str) or not fallback:
            raise ConfigError(f"{where}.fallbacks[{k}]: must be a model name")
        if fallback == name:
            raise ConfigError(f"{where}.fallbacks[{k}]: a model cannot fall back to itself")
    timeout = spec.get("timeout_seconds")
    circuit = resilience.circuit
    if spec.get("circuit_breaker") is not None:
        circuit = parse_circuit(spec["circuit_breaker"], f"{where}.circuit_breaker", circuit)
    return ModelEntry(
        name=name, deployments=tuple(deployments), price=price, max_output_tokens=max_out,
        default_max_tokens=default_max, strategy=strategy, fallbacks=tuple(fallbacks),
        num_retries=non_negative_int(spec.get("num_retries", 2), f"{where}.num_retries"),
        timeout_seconds=None if timeout is None else number(timeout, f"{where}.timeout_seconds"),
        circuit=circuit)


def _parse_deployment(where, dep, providers, skipped):
    expect(dep, dict, where)
    unknown_fields(dep, ("provider", "model", "weight", "priority"), where)
    provider = dep.get("provider")
    if provider in skipped:
        return None
    if provider not in providers:
        raise ConfigError(f"{where}.provider: unknown provider {provider!r}")
    model = dep.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where}.model: must be a non-empty string")
    priority = dep.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(f"{where}.priority: must be an integer, got {priority!r}")
    return Deployment(provider=provider, model=model, priority=priority,
                      weight=number(dep.get("weight", 1), f"{where}.weight"))


def _resolve_fallbacks(entry, where, models, dropped):
    """Fallbacks must name models of the catalog; one left without deployments is dropped."""
    kept = []
    for k, fallback in enumerate(entry.fallbacks):
        if fallback in models:
            kept.append(fallback)
        elif fallback in dropped:
            log.warning("gateway config: model %r falls back to %r, which has no usable "
                        "deployment; ignoring that fallback", entry.name, fallback)
        else:
            raise ConfigError(f"{where}.fallbacks[{k}]: unknown model {fallback!r}")
    return replace(entry, fallbacks=tuple(kept))
