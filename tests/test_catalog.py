"""The model catalog: parsing, ${VAR} expansion, skipped providers, errors naming the field,
and the built-in default."""
import logging
from decimal import Decimal

import pytest

from app.gateway.catalog.loader import (
    ANTHROPIC_DEFAULT_MODELS,
    OPENAI_DEFAULT_MODELS,
    ConfigError,
    Deployment,
    load_catalog,
    parse_catalog,
)
from app.gateway.pricing import BUILTIN_PRICES, Price
from app.vendors.manager import VendorManager

VENDORS = VendorManager.vendors()

YAML = """
providers:
  openai:     {vendor: openai,    api_keys: ["${OPENAI_API_KEY}"]}
  anthropic:  {vendor: anthropic, api_keys: ["${ANTHROPIC_API_KEY}"], base_url: "${ANTH_URL}"}
  local-vllm: {vendor: openai, base_url: "http://127.0.0.1:8000/v1", api_keys: ["none"],
               timeout_seconds: 30}
  mock:       {vendor: mock, delay_ms: 5}
models:
  - name: gpt-4o-mini
    deployments: [{provider: openai, model: gpt-4o-mini}]
    price: {input_per_mtok: 0.15, output_per_mtok: 0.60, cached_input_per_mtok: 0.075}
  - name: claude-sonnet
    deployments: [{provider: anthropic, model: claude-sonnet-4-5}]
  - name: llama
    deployments: [{provider: local-vllm, model: meta/llama-3}]
    max_output_tokens: 4096
  - name: mock-echo
    deployments: [{provider: mock, model: echo}]
"""

ENV = {"OPENAI_API_KEY": "sk-openai", "ANTHROPIC_API_KEY": "sk-ant",
       "ANTH_URL": "https://anthropic.example"}


@pytest.fixture
def catalog_log(caplog):
    # Alembic's fileConfig (run by `flask db upgrade` in other tests) disables existing loggers.
    logger = logging.getLogger("app.gateway.catalog.loader")
    disabled = logger.disabled
    logger.disabled = False
    caplog.set_level(logging.WARNING, logger="app.gateway.catalog.loader")
    yield caplog
    logger.disabled = disabled


def write(tmp_path, text, name="gateway.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_is_parsed_with_env_expansion(tmp_path):
    catalog = load_catalog(str(write(tmp_path, YAML)), VENDORS, env=ENV)
    assert set(catalog.providers) == {"openai", "anthropic", "local-vllm", "mock"}
    openai = catalog.providers["openai"]
    assert (openai.vendor, openai.api_keys, openai.base_url) == ("openai", ("sk-openai",), None)
    anthropic = catalog.providers["anthropic"]
    assert anthropic.api_keys == ("sk-ant",)
    assert anthropic.base_url == "https://anthropic.example"
    vllm = catalog.providers["local-vllm"]
    assert vllm.base_url == "http://127.0.0.1:8000/v1"
    assert vllm.timeout_seconds == 30.0
    assert catalog.providers["mock"].options == {"delay_ms": 5}

    assert list(catalog.models) == ["gpt-4o-mini", "claude-sonnet", "llama", "mock-echo"]
    mini = catalog.models["gpt-4o-mini"]
    assert mini.deployments == (Deployment("openai", "gpt-4o-mini"),)
    assert mini.price == Price(Decimal("0.15"), Decimal("0.60"), Decimal("0.075"))
    assert catalog.models["llama"].max_output_tokens == 4096
    assert catalog.models["llama"].deployments == (Deployment("local-vllm", "meta/llama-3"),)


def test_path_object_works_too(tmp_path):
    catalog = load_catalog(write(tmp_path, YAML), VENDORS, env=ENV)
    assert "mock-echo" in catalog.models


def test_mapping_is_parsed_like_yaml():
    raw = {
        "providers": {"p": {"vendor": "openai", "api_keys": ["k1", "k2"],
                            "base_url": "https://up.example/v1"},
                      "m": {"vendor": "mock"}},
        "models": [{"name": "a", "deployments": [{"provider": "p", "model": "a-up"},
                                                 {"provider": "m", "model": "echo"}],
                    "price": {"input_per_mtok": 1, "output_per_mtok": 2}}],
    }
    for catalog in (parse_catalog(raw, VENDORS), load_catalog(raw, VENDORS, env={})):
        assert catalog.providers["p"].api_keys == ("k1", "k2")
        assert catalog.models["a"].deployments == (Deployment("p", "a-up"),
                                                   Deployment("m", "echo"))
        assert catalog.models["a"].price == Price(Decimal(1), Decimal(2))


@pytest.mark.parametrize("value, env, expected", [
    ("${K}", {"K": "secret"}, "secret"),
    ("pre-${K}-post", {"K": "x"}, "pre-x-post"),
    ("${A}${B}", {"A": "1", "B": "2"}, "12"),
    ("$K", {"K": "x"}, "$K"),  # only the braced form expands
    ("plain", {}, "plain"),
])
def test_env_expansion_in_api_keys(value, env, expected):
    raw = {"providers": {"p": {"vendor": "openai", "api_keys": [value]}},
           "models": [{"name": "m", "deployments": [{"provider": "p", "model": "x"}]}]}
    assert load_catalog(raw, VENDORS, env=env).providers["p"].api_keys == (expected,)


def test_env_comes_from_the_given_dict_not_os_environ(monkeypatch, catalog_log):
    monkeypatch.setenv("OPENAI_API_KEY", "from-os-environ")
    raw = {"providers": {"openai": {"vendor": "openai", "api_keys": ["${OPENAI_API_KEY}"]},
                         "mock": {"vendor": "mock"}},
           "models": [{"name": "m", "deployments": [{"provider": "mock", "model": "echo"}]}]}
    assert "openai" not in load_catalog(raw, VENDORS, env={}).providers
    assert load_catalog(raw, VENDORS).providers["openai"].api_keys == ("from-os-environ",)


def test_provider_with_empty_keys_is_skipped_with_its_models(tmp_path, catalog_log):
    catalog = load_catalog(str(write(tmp_path, YAML)), VENDORS, env={"OPENAI_API_KEY": "sk-o"})
    assert "anthropic" not in catalog.providers
    assert "claude-sonnet" not in catalog.models
    assert set(catalog.models) == {"gpt-4o-mini", "llama", "mock-echo"}
    messages = [r.getMessage() for r in catalog_log.records if r.levelno == logging.WARNING]
    assert any("anthropic" in m and "skipping" in m for m in messages)
    assert any("claude-sonnet" in m and "skipping" in m for m in messages)


def test_model_keeps_its_deployments_on_providers_that_are_set(catalog_log):
    raw = {"providers": {"openai": {"vendor": "openai", "api_keys": ["${NOPE}", "  "]},
                         "mock": {"vendor": "mock"}},
           "models": [{"name": "m", "deployments": [{"provider": "openai", "model": "gpt-4o"},
                                                    {"provider": "mock", "model": "echo"}]}]}
    catalog = load_catalog(raw, VENDORS, env={})
    assert catalog.models["m"].deployments == (Deployment("mock", "echo"),)
    # the price comes from the first usable deployment (the mock's echo: no built-in price)
    assert catalog.models["m"].price == Price()


def test_mock_provider_needs_no_key():
    raw = {"providers": {"mock": {"vendor": "mock"}},
           "models": [{"name": "mock-echo",
                       "deployments": [{"provider": "mock", "model": "echo"}]}]}
    assert load_catalog(raw, VENDORS, env={}).providers["mock"].api_keys == ()


def _valid():
    return {"providers": {"p": {"vendor": "openai", "api_keys": ["k"]}},
            "models": [{"name": "a", "deployments": [{"provider": "p", "model": "a"}]}]}


def _with(path_and_value):
    """_valid() with one change: ("providers.p.vendor", "x") style paths, lists by index."""
    raw = _valid()
    for path, value in path_and_value:
        *parents, last = path
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value
    return raw


INVALID = [
    ("unknown vendor", _with([(("providers", "p", "vendor"), "azure")]), "providers.p.vendor"),
    ("missing vendor", _with([(("providers", "p"), {"api_keys": ["k"]})]), "providers.p.vendor"),
    ("unknown provider", _with([(("models", 0, "deployments", 0, "provider"), "nope")]),
     "models[0].deployments[0].provider"),
    ("missing model name", _with([(("models", 0), {"deployments": [{"provider": "p",
                                                                    "model": "a"}]})]),
     "models[0].name"),
    ("empty model name", _with([(("models", 0, "name"), " ")]), "models[0].name"),
    ("models not a list", _with([(("models",), {"a": {}})]), "models"),
    ("providers not a mapping", _with([(("providers",), ["p"])]), "providers"),
    ("duplicate model name",
     _with([(("models",), [{"name": "a", "deployments": [{"provider": "p", "model": "a"}]},
                           {"name": "a", "deployments": [{"provider": "p", "model": "b"}]}])]),
     "models[1].name"),
    ("bad base_url", _with([(("providers", "p", "base_url"), "api.openai.com/v1")]),
     "providers.p.base_url"),
    ("api_keys not a list", _with([(("providers", "p", "api_keys"), "k")]),
     "providers.p.api_keys"),
    ("negative timeout", _with([(("providers", "p", "timeout_seconds"), -1)]),
     "providers.p.timeout_seconds"),
    ("no deployments", _with([(("models", 0, "deployments"), [])]), "models[0].deployments"),
    ("deployment without model", _with([(("models", 0, "deployments", 0), {"provider": "p"})]),
     "models[0].deployments[0].model"),
    ("negative price", _with([(("models", 0, "price"), {"input_per_mtok": -0.5})]),
     "models[0].price.input_per_mtok"),
    ("non-numeric price", _with([(("models", 0, "price"), {"output_per_mtok": "cheap"})]),
     "models[0].price.output_per_mtok"),
    ("unknown price field", _with([(("models", 0, "price"), {"input_price": 1})]),
     "models[0].price"),
    ("bad max_output_tokens", _with([(("models", 0, "max_output_tokens"), 0)]),
     "models[0].max_output_tokens"),
]


@pytest.mark.parametrize("raw, field", [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_config_names_the_bad_field(raw, field):
    with pytest.raises(ConfigError) as info:
        load_catalog(raw, VENDORS, env={})
    message = str(info.value)
    assert message.startswith(field + ":") or message.startswith(field + "."), message


def test_nan_price_in_yaml_is_a_config_error(tmp_path):
    path = write(tmp_path, """
providers: {mock: {vendor: mock}}
models:
  - name: mock-echo
    deployments: [{provider: mock, model: echo}]
    price: {input_per_mtok: .nan, output_per_mtok: 1}
""")
    with pytest.raises(ConfigError, match=r"^models\[0\]\.price\.input_per_mtok"):
        load_catalog(str(path), VENDORS, env={})


def test_unknown_price_field_is_named():
    with pytest.raises(ConfigError, match="input_price"):
        load_catalog(_with([(("models", 0, "price"), {"input_price": 1})]), VENDORS, env={})


def test_unreadable_file_is_a_config_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_catalog(str(missing), VENDORS, env={})
    assert "GATEWAY_CONFIG" in str(info.value)
    assert str(missing) in str(info.value)


def test_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="GATEWAY_CONFIG"):
        load_catalog(str(tmp_path), VENDORS, env={})


def test_invalid_yaml_is_a_config_error(tmp_path):
    path = write(tmp_path, "providers: {mock: {vendor: mock}\nmodels: [\n")
    with pytest.raises(ConfigError) as info:
        load_catalog(str(path), VENDORS, env={})
    assert "not valid YAML" in str(info.value)
    assert str(path) in str(info.value)


def test_empty_yaml_file_is_a_config_error_naming_providers(tmp_path):
    with pytest.raises(ConfigError, match="^providers"):
        load_catalog(str(write(tmp_path, "")), VENDORS, env={})


def test_default_config_without_keys_serves_only_the_mock(catalog_log):
    catalog = load_catalog(None, VENDORS, env={})
    assert set(catalog.providers) == {"mock"}
    assert set(catalog.models) == {"mock-echo"}
    assert catalog.models["mock-echo"].deployments == (Deployment("mock", "echo"),)


def test_default_config_with_openai_key_and_base_url():
    env = {"OPENAI_API_KEY": "sk-real", "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1"}
    catalog = load_catalog(None, VENDORS, env=env)
    assert set(catalog.providers) == {"mock", "openai"}
    openai = catalog.providers["openai"]
    assert openai.api_keys == ("sk-real",)
    assert openai.base_url == "http://127.0.0.1:9999/v1"
    assert set(catalog.models) == {"mock-echo", *OPENAI_DEFAULT_MODELS}
    assert "gpt-4o-mini" in catalog.models
    assert catalog.models["gpt-4o-mini"].deployments == (Deployment("openai", "gpt-4o-mini"),)
    assert not any(name.startswith("claude") for name in catalog.models)


def test_default_config_with_anthropic_key():
    catalog = load_catalog(None, VENDORS, env={"ANTHROPIC_API_KEY": "sk-ant"})
    assert set(catalog.providers) == {"mock", "anthropic"}
    assert catalog.providers["anthropic"].base_url is None
    assert set(catalog.models) == {"mock-echo", *ANTHROPIC_DEFAULT_MODELS}
    assert catalog.models["claude-sonnet-4-5"].deployments == (
        Deployment("anthropic", "claude-sonnet-4-5"),)


def test_default_config_with_both_keys():
    catalog = load_catalog(None, VENDORS, env={"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b"})
    assert set(catalog.models) == {"mock-echo", *OPENAI_DEFAULT_MODELS,
                                   *ANTHROPIC_DEFAULT_MODELS}


@pytest.mark.parametrize("model", [*OPENAI_DEFAULT_MODELS, *ANTHROPIC_DEFAULT_MODELS])
def test_default_models_have_builtin_prices(model):
    catalog = load_catalog(None, VENDORS, env={"OPENAI_API_KEY": "a", "ANTHROPIC_API_KEY": "b"})
    assert catalog.models[model].price == BUILTIN_PRICES[model]
    assert catalog.models[model].price.input_per_mtok > 0


def test_builtin_price_of_the_upstream_snapshot_is_used_when_no_price_is_given():
    raw = {"providers": {"p": {"vendor": "openai", "api_keys": ["k"]}},
           "models": [{"name": "cheap", "deployments": [{"provider": "p",
                                                         "model": "gpt-4o-mini-2024-07-18"}]},
                      {"name": "priced", "deployments": [{"provider": "p", "model": "gpt-4o"}],
                       "price": {"input_per_mtok": 1, "output_per_mtok": 1}}]}
    catalog = load_catalog(raw, VENDORS, env={})
    assert catalog.models["cheap"].price == BUILTIN_PRICES["gpt-4o-mini"]
    assert catalog.models["priced"].price == Price(Decimal(1), Decimal(1))


def test_the_shipped_example_config_loads(monkeypatch):
    """gateway.example.yaml, as the README points users to it, is a valid config."""
    from pathlib import Path

    from app.vendors.manager import VendorManager

    env = {"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2", "VLLM_API_KEY": "k3"}
    path = Path(__file__).resolve().parent.parent / "gateway.example.yaml"
    catalog = load_catalog(str(path), VendorManager.vendors(), env=env)
    assert {"gpt-4o-mini", "claude-sonnet", "local-llama", "mock-echo"} <= set(catalog.models)
    assert catalog.models["claude-sonnet"].fallbacks == ("gpt-4o-mini",)


def test_retry_after_settings_of_a_provider():
    catalog = load_catalog({"providers": {"p": {"vendor": "openai", "api_keys": ["k"],
                                                "honor_retry_after": False,
                                                "max_retry_after_seconds": 30}},
                            "models": [{"name": "m", "deployments": [{"provider": "p",
                                                                      "model": "x"}]}]},
                           VendorManager.vendors())
    assert (catalog.providers["p"].honor_retry_after,
            catalog.providers["p"].max_retry_after_seconds) == (False, 30.0)
    with pytest.raises(ConfigError, match=r"providers\.p\.honor_retry_after"):
        load_catalog({"providers": {"p": {"vendor": "openai", "api_keys": ["k"],
                                          "honor_retry_after": "yes"}}, "models": []},
                     VendorManager.vendors())
