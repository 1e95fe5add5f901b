"""The model catalog: providers (upstream accounts) and models (what clients ask for).

Loaded from the GATEWAY_CONFIG YAML (or a mapping with the same shape), with ${VAR} expanded from
the environment. Errors name the bad field, e.g. "models[1].deployments[0].provider: unknown
provider 'foo'". A provider whose keys all expand to empty is skipped with a warning.
"""
import logging
import os
import re
from dataclasses import dataclass, field

import yaml

from .pricing import Price, builtin_max_output, builtin_price

log = logging.getLogger(__name__)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
VENDORS_WITH_KEYS = ("openai", "anthropic")


class ConfigError(ValueError):
    """The gateway config is invalid; the message names the field."""


@dataclass(frozen=True)
class Provider:
    name: str
    vendor: str
    base_url: str | None = None
    api_keys: tuple = ()
    timeout_seconds: float = 600.0
    connect_timeout_seconds: float = 10.0
    options: dict = field(default_factory=dict)  # vendor-specific extras (e.g. the mock's delays)


@dataclass(frozen=True)
class Deployment:
    provider: str
    model: str


@dataclass(frozen=True)
class ModelEntry:
    name: str
    deployments: tuple
    price: Price
    max_output_tokens: int | None = None  # the model's limit: translated max_tokens are clamped
    default_max_tokens: int = 4096  # sent to Anthropic-format vendors when the client gave none


@dataclass(frozen=True)
class Catalog:
    providers: dict
    models: dict


def expand_env(value, env):
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


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
            raise ConfigError(f"GATEWAY_CONFIG: {source} is not valid YAML: {exc}") from exc
    return parse_catalog(expand_env(raw, env), known_vendors)


def parse_catalog(raw, known_vendors):
    _expect(raw, dict, "config")
    providers, skipped = {}, set()
    raw_providers = raw.get("providers")
    _expect(raw_providers, dict, "providers")
    for name, spec in raw_providers.items():
        provider = _parse_provider(name, spec, known_vendors)
        if provider is None:
            skipped.add(name)
        else:
            providers[name] = provider
    models = {}
    raw_models = raw.get("models")
    _expect(raw_models, list, "models")
    for i, spec in enumerate(raw_models):
        entry = _parse_model(f"models[{i}]", spec, providers, skipped)
        if entry is None:
            continue
        if entry.name in models:
            raise ConfigError(f"models[{i}].name: duplicate model name {entry.name!r}")
        models[entry.name] = entry
    return Catalog(providers=providers, models=models)


def _parse_provider(name, spec, known_vendors):
    where = f"providers.{name}"
    _expect(spec, dict, where)
    vendor = spec.get("vendor")
    if vendor not in known_vendors:
        raise ConfigError(f"{where}.vendor: must be one of {sorted(known_vendors)}, got {vendor!r}")
    keys = spec.get("api_keys", [])
    _expect(keys, list, f"{where}.api_keys")
    keys = tuple(str(k) for k in keys if str(k).strip())
    if vendor in VENDORS_WITH_KEYS and not keys:
        log.warning("gateway config: provider %r has no API key set; skipping it", name)
        return None
    base_url = spec.get("base_url")
    if base_url is not None and not (isinstance(base_url, str) and base_url.startswith("http")):
        raise ConfigError(f"{where}.base_url: must be an http(s) URL, got {base_url!r}")
    known = {"vendor", "api_keys", "base_url", "timeout_seconds", "connect_timeout_seconds"}
    return Provider(
        name=name, vendor=vendor, base_url=base_url or None, api_keys=keys,
        timeout_seconds=_number(spec.get("timeout_seconds", 600), f"{where}.timeout_seconds"),
        connect_timeout_seconds=_number(spec.get("connect_timeout_seconds", 10),
                                        f"{where}.connect_timeout_seconds"),
        options={k: v for k, v in spec.items() if k not in known},
    )


def _parse_model(where, spec, providers, skipped):
    _expect(spec, dict, where)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string")
    raw_deployments = spec.get("deployments")
    _expect(raw_deployments, list, f"{where}.deployments")
    deployments = []
    for j, dep in enumerate(raw_deployments):
        dwhere = f"{where}.deployments[{j}]"
        _expect(dep, dict, dwhere)
        provider = dep.get("provider")
        if provider in skipped:
            continue
        if provider not in providers:
            raise ConfigError(f"{dwhere}.provider: unknown provider {provider!r}")
        model = dep.get("model")
        if not isinstance(model, str) or not model:
            raise ConfigError(f"{dwhere}.model: must be a non-empty string")
        deployments.append(Deployment(provider=provider, model=model))
    if not deployments:
        if raw_deployments:
            log.warning("gateway config: model %r has no usable deployment; skipping it", name)
            return None
        raise ConfigError(f"{where}.deployments: must list at least one deployment")
    price_spec = spec.get("price")
    if price_spec is None:
        price = builtin_price(deployments[0].model)
    else:
        _expect(price_spec, dict, f"{where}.price")
        price = Price.from_mapping(price_spec, f"{where}.price", ConfigError)
    max_out = _positive_int(spec, "max_output_tokens", where)
    if max_out is None:
        max_out = builtin_max_output(deployments[0].model)
    default_max = _positive_int(spec, "default_max_tokens", where) or min(max_out or 4096, 8192)
    return ModelEntry(name=name, deployments=tuple(deployments), price=price,
                      max_output_tokens=max_out, default_max_tokens=default_max)


def _positive_int(spec, name, where):
    value = spec.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{where}.{name}: must be a positive integer")
    return value


def _expect(value, kind, where):
    if not isinstance(value, kind):
        wanted = {dict: "a mapping", list: "a list"}[kind]
        raise ConfigError(f"{where}: must be {wanted}, got {type(value).__name__}")


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{where}: must be a positive number, got {value!r}")
    return float(value)


OPENAI_DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
                         "o4-mini", "text-embedding-3-small", "text-embedding-3-large")
ANTHROPIC_DEFAULT_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1")


def default_config(env):
    """Mock models always; OpenAI/Anthropic models when their keys are in the environment."""
    providers = {"mock": {"vendor": "mock"}}
    models = [{"name": "mock-echo", "deployments": [{"provider": "mock", "model": "echo"}],
               "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.60}}]
    for vendor, key_var, url_var, names in (
        ("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", OPENAI_DEFAULT_MODELS),
        ("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ANTHROPIC_DEFAULT_MODELS),
    ):
        if env.get(key_var):
            providers[vendor] = {"vendor": vendor, "api_keys": [env[key_var]],
                                 "base_url": env.get(url_var) or None}
            models += [{"name": name, "deployments": [{"provider": vendor, "model": name}]}
                       for name in names]
    return {"providers": providers, "models": models}
