"""Prices per model and the cost of one request's usage, in Decimal dollars."""
from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Usage:
    """Token counts of one request. input_tokens is the whole prompt, cached_tokens included."""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens. Cached/cache-write default to the input price."""
    input_per_mtok: Decimal = ZERO
    output_per_mtok: Decimal = ZERO
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    FIELDS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")

    @classmethod
    def from_mapping(cls, spec, where, error_cls):
        unknown = set(spec) - set(cls.FIELDS)
        if unknown:
            raise error_cls(f"{where}: unknown field(s) {sorted(unknown)}; "
                            f"allowed: {list(cls.FIELDS)}")
        values = {}
        for name in cls.FIELDS:
            value = spec.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise error_cls(f"{where}.{name}: must be a number, got {value!r}")
            try:
                values[name] = Decimal(str(value))
            except ArithmeticError:
                raise error_cls(f"{where}.{name}: must be a number, got {value!r}") from None
            if not values[name].is_finite() or values[name] < 0:
                raise error_cls(f"{where}.{name}: must be a finite number >= 0, got {value!r}")
        return cls(**values)

    def cost(self, usage):
        cached_price = _or(self.cached_input_per_mtok, self.input_per_mtok)
        write_price = _or(self.cache_write_per_mtok, self.input_per_mtok)
        fresh = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
        total = (fresh * self.input_per_mtok + usage.cached_tokens * cached_price
                 + usage.cache_write_tokens * write_price
                 + usage.output_tokens * self.output_per_mtok)
        return total / MILLION


def _or(value, default):
    return default if value is None else value


def _p(inp, out, cached=None, write=None):
    d = lambda v: None if v is None else Decimal(str(v))  # noqa: E731
    return Price(d(inp), d(out), d(cached), d(write))


# Public list prices (USD per million tokens) of well-known models; the config overrides them.
BUILTIN_PRICES = {
    "gpt-4o": _p(2.50, 10.00, 1.25),
    "gpt-4o-mini": _p(0.15, 0.60, 0.075),
    "gpt-4.1": _p(2.00, 8.00, 0.50),
    "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
    "o4-mini": _p(1.10, 4.40, 0.275),
    "text-embedding-3-small": _p(0.02, 0),
    "text-embedding-3-large": _p(0.13, 0),
    "claude-opus-4-1": _p(15.00, 75.00, 1.50, 18.75),
    "claude-sonnet-4-5": _p(3.00, 15.00, 0.30, 3.75),
    "claude-haiku-4-5": _p(1.00, 5.00, 0.10, 1.25),
}


# Output-token limits of the same models, to clamp max_tokens when translating requests.
BUILTIN_MAX_OUTPUT = {
    "gpt-4o": 16384, "gpt-4o-mini": 16384, "gpt-4.1": 32768, "gpt-4.1-mini": 32768,
    "gpt-4.1-nano": 32768, "o4-mini": 100000, "claude-opus-4-1": 32000,
    "claude-sonnet-4-5": 64000, "claude-haiku-4-5": 64000,
}


def _lookup(table, upstream_model, default):
    """A table entry by exact name or by prefix for dated snapshots (longest prefix wins)."""
    if upstream_model in table:
        return table[upstream_model]
    for name in sorted(table, key=len, reverse=True):
        if upstream_model.startswith(name + "-"):
            return table[name]
    return default


def builtin_price(upstream_model):
    """The built-in price of a model; zero when unknown."""
    return _lookup(BUILTIN_PRICES, upstream_model, Price())


def builtin_max_output(upstream_model):
    return _lookup(BUILTIN_MAX_OUTPUT, upstream_model, None)
