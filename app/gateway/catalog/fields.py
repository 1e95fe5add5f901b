"""Validation helpers of the gateway config, and its resilience settings.

Every error names the field, e.g. "models[0].circuit_breaker.failure_rate: must be ...".

    resilience:                        # optional, top level; these are the defaults
      circuit_breaker: {window_seconds: 60, min_requests: 5, failure_rate: 0.5,
                        cooldown_seconds: 30, enabled: true}
      rate_limit_cooldown_seconds: [10, 30, 60, 300]   # consecutive upstream 429s on one key
      auth_cooldown_seconds: 3600      # a key the upstream rejected (401/403)
      retry_backoff_seconds: [0.05, 0.5]   # jittered wait before retrying a deployment

A model may override any field of the circuit breaker with its own `circuit_breaker` mapping.
"""
import math
from dataclasses import dataclass, fields, replace


class ConfigError(ValueError):
    """The gateway config is invalid; the message names the field."""


@dataclass(frozen=True)
class CircuitSettings:
    """A deployment whose retryable failures over the last window_seconds reach failure_rate
    (with at least min_requests outcomes) is skipped for cooldown_seconds, then half-open."""
    window_seconds: float = 60.0
    min_requests: int = 5
    failure_rate: float = 0.5
    cooldown_seconds: float = 30.0
    enabled: bool = True


@dataclass(frozen=True)
class Resilience:
    circuit: CircuitSettings = CircuitSettings()
    rate_limit_cooldowns: tuple = (10.0, 30.0, 60.0, 300.0)
    auth_cooldown_seconds: float = 3600.0
    backoff: tuple = (0.05, 0.5)  # (first wait, longest wait) in seconds


def expect(value, kind, where):
    if not isinstance(value, kind):
        wanted = {dict: "a mapping", list: "a list"}[kind]
        raise ConfigError(f"{where}: must be {wanted}, got {type(value).__name__}")


def number(value, where, minimum=0.0, strict=True):
    """A finite number > minimum (strict) or >= minimum."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (value > minimum if strict else value >= minimum))
    if not ok:
        relation = ">" if strict else ">="
        kind = "positive number" if (strict and minimum == 0) else f"number {relation} {minimum}"
        raise ConfigError(f"{where}: must be a {kind}, got {value!r}")
    return float(value)


def positive_int(spec, name, where):
    value = spec.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{where}.{name}: must be a positive integer")
    return value


def non_negative_int(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: must be an integer >= 0, got {value!r}")
    return value


def boolean(spec, name, where, default=False):
    """spec[name] when it is true or false; default when absent."""
    value = spec.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{name}: must be true or false, got {value!r}")
    return value


def unknown_fields(spec, allowed, where):
    unknown = set(spec) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; "
                          f"allowed: {sorted(allowed)}")


def parse_circuit(spec, where, base):
    """base with the fields of `spec` (a mapping, or false to turn the breaker off)."""
    if spec is False:
        return replace(base, enabled=False)
    expect(spec, dict, where)
    unknown_fields(spec, [f.name for f in fields(CircuitSettings)], where)
    values = {}
    for name in ("window_seconds", "cooldown_seconds"):
        if name in spec:
            values[name] = number(spec[name], f"{where}.{name}")
    if "min_requests" in spec:
        values["min_requests"] = non_negative_int(spec["min_requests"], f"{where}.min_requests")
        if values["min_requests"] < 1:
            raise ConfigError(f"{where}.min_requests: must be a positive integer")
    if "failure_rate" in spec:
        rate = number(spec["failure_rate"], f"{where}.failure_rate")
        if rate > 1:
            raise ConfigError(f"{where}.failure_rate: must be in (0, 1], got {rate!r}")
        values["failure_rate"] = rate
    if "enabled" in spec:
        if not isinstance(spec["enabled"], bool):
            raise ConfigError(f"{where}.enabled: must be true or false")
        values["enabled"] = spec["enabled"]
    return replace(base, **values)


def parse_resilience(spec):
    where = "resilience"
    if spec is None:
        return Resilience()
    expect(spec, dict, where)
    unknown_fields(spec, ("circuit_breaker", "rate_limit_cooldown_seconds",
                          "auth_cooldown_seconds", "retry_backoff_seconds"), where)
    out = Resilience()
    if "circuit_breaker" in spec:
        out = replace(out, circuit=parse_circuit(spec["circuit_breaker"],
                                                 f"{where}.circuit_breaker", out.circuit))
    if "rate_limit_cooldown_seconds" in spec:
        out = replace(out, rate_limit_cooldowns=_seconds_list(
            spec["rate_limit_cooldown_seconds"], f"{where}.rate_limit_cooldown_seconds"))
    if "auth_cooldown_seconds" in spec:
        out = replace(out, auth_cooldown_seconds=number(spec["auth_cooldown_seconds"],
                                                        f"{where}.auth_cooldown_seconds"))
    if "retry_backoff_seconds" in spec:
        backoff = _seconds_list(spec["retry_backoff_seconds"], f"{where}.retry_backoff_seconds",
                                strict=False)
        if len(backoff) != 2 or backoff[0] > backoff[1]:
            raise ConfigError(f"{where}.retry_backoff_seconds: must be [shortest, longest]")
        out = replace(out, backoff=backoff)
    return out


def _seconds_list(value, where, strict=True):
    expect(value, list, where)
    if not value:
        raise ConfigError(f"{where}: must not be empty")
    return tuple(number(v, f"{where}[{i}]", strict=strict) for i, v in enumerate(value))
