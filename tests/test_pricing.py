"""Prices per model and the cost of one request, in exact Decimal dollars."""
from decimal import Decimal

import pytest

from app.gateway.catalog.loader import ConfigError
from app.gateway.pricing import BUILTIN_PRICES, Price, Usage, builtin_price

D = Decimal


def price(inp, out, cached=None, write=None):
    return Price(D(inp), D(out), None if cached is None else D(cached),
                 None if write is None else D(write))


@pytest.mark.parametrize("p, usage, expected", [
    # 1M fresh input tokens at $2.50 and 1M output tokens at $10
    (price("2.50", "10"), Usage(input_tokens=1_000_000, output_tokens=1_000_000), "12.5"),
    # input_tokens is the whole prompt: 700 fresh + 200 cached + 100 cache-write
    (price("2.50", "10", "1.25", "3.75"),
     Usage(input_tokens=1000, output_tokens=500, cached_tokens=200, cache_write_tokens=100),
     "0.007375"),  # (700*2.5 + 200*1.25 + 100*3.75 + 500*10) / 1e6
    # cached and cache-write default to the input price: everything at $2 except output
    (price("2", "8"),
     Usage(input_tokens=1000, output_tokens=100, cached_tokens=400, cache_write_tokens=100),
     "0.0028"),  # (1000*2 + 100*8) / 1e6
    # cached price set, cache-write defaults to input
    (price("3", "15", "0.30"),
     Usage(input_tokens=10_000, output_tokens=0, cached_tokens=9_000, cache_write_tokens=1_000),
     "0.0057"),  # (0*3 + 9000*0.3 + 1000*3) / 1e6
    (price("0.15", "0.60", "0.075"), Usage(input_tokens=1, output_tokens=1), "0.00000075"),
    (price("0.15", "0.60"), Usage(), "0"),
    (Price(), Usage(input_tokens=123, output_tokens=456), "0"),
])
def test_cost_is_exact(p, usage, expected):
    cost = p.cost(usage)
    assert isinstance(cost, Decimal)
    assert cost == D(expected)


def test_cached_tokens_are_cheaper_than_fresh_ones():
    p = price("2", "8", "0.5")
    fresh = p.cost(Usage(input_tokens=1000))
    cached = p.cost(Usage(input_tokens=1000, cached_tokens=1000))
    assert fresh == D("0.002")
    assert cached == D("0.0005")


@pytest.mark.parametrize("model, expected", [
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # longest prefix wins, not gpt-4o
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("claude-haiku-4-5", "claude-haiku-4-5"),
])
def test_builtin_price_matches_dated_snapshots(model, expected):
    assert builtin_price(model) == BUILTIN_PRICES[expected]


def test_builtin_price_of_snapshot_is_the_mini_price_not_the_big_one():
    p = builtin_price("gpt-4o-mini-2024-07-18")
    assert (p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok) == (
        D("0.15"), D("0.60"), D("0.075"))


@pytest.mark.parametrize("model", ["llama-3-70b", "gpt-4omni", "echo", "", "gpt-4"])
def test_builtin_price_of_unknown_model_is_zero(model):
    p = builtin_price(model)
    assert p.cost(Usage(input_tokens=10**6, output_tokens=10**6, cached_tokens=10)) == 0


@pytest.mark.parametrize("spec, expected", [
    ({"input_per_mtok": 0.15, "output_per_mtok": 0.6},
     price("0.15", "0.6")),
    ({"input_per_mtok": "2.5", "output_per_mtok": 10, "cached_input_per_mtok": 1.25,
      "cache_write_per_mtok": 3.75},
     price("2.5", "10", "1.25", "3.75")),
    ({}, Price()),
])
def test_price_from_mapping(spec, expected):
    assert Price.from_mapping(spec, "models[0].price", ConfigError) == expected


@pytest.mark.parametrize("spec, field", [
    ({"input_per_mtok": -1}, "models[0].price.input_per_mtok"),
    ({"output_per_mtok": "cheap"}, "models[0].price.output_per_mtok"),
    ({"cached_input_per_mtok": True}, "models[0].price.cached_input_per_mtok"),
    ({"cache_write_per_mtok": [1]}, "models[0].price.cache_write_per_mtok"),
    ({"input_price": 1}, "input_price"),
])
def test_price_from_mapping_rejects_bad_values(spec, field):
    with pytest.raises(ConfigError) as info:
        Price.from_mapping(spec, "models[0].price", ConfigError)
    assert field in str(info.value)
