"""The built-in config used when GATEWAY_CONFIG is not set."""

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
