"""What a key, user or project has spent: the seed of a budget window's counter."""
from . import usage

_FILTERS = {"key": "api_key_id", "user": "user_id", "project": "project_id"}


def spent_since(scope_name, start):
    """Cost logged for a scope ("key:12", "user:3", "project:5") since start (None: ever)."""
    kind, ident = scope_name.split(":", 1)
    return usage.spent(start, **{_FILTERS[kind]: int(ident)})
