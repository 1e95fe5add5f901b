"""Schemathesis against the served OpenAPI spec (/apispec_1.json) with an admin key.

Schemathesis' own engine (what `schemathesis run` drives; its pytest plugin does not run under
pytest 9) sends every operation the examples, coverage (boundary and spec-invalid values) and
fuzzing phases, positive and negative data, with all its checks: no 5xx, documented statuses,
content types, headers and bodies, spec-valid data accepted, spec-invalid data refused, 405 with
`Allow` on undocumented methods, 401 without the key. The gateway runs on a real socket with the
spec's example model names served by the loopback mock upstream, so example-based cases reach
validation, translation and the vendor. A fixed seed and a bounded number of examples keep it
deterministic and within CI's time.

Two allowances. Per operation: spec-valid data may get a 400 where the answer depends on the
database or the clock, which a schema cannot say — an id naming no user or project, `expires_at`
in the past, a key already revoked, an admin demoting or deactivating itself, `since` after
`until`, a log explorer `cursor` that no page gave. Those operations document these 400s;
every other check stays on for them. And the stateful check use_after_free is off: DELETE
/admin/users/{id} deactivates a user, who stays readable (and can be reactivated) by design, as
its spec says.
"""
import contextlib
import logging
import os
from collections import Counter

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from app.repositories import keys as key_repo
from app.repositories import users as user_repo
from tests.conftest import serving
from tests.fuzz_helpers import Tally, spec_config

# An exploratory run: SPEC_EXAMPLES=200 SPEC_SEED=<n> (CI uses the fixed values below)
SEED = int(os.environ.get("SPEC_SEED", 20260101))
MAX_EXAMPLES = int(os.environ.get("SPEC_EXAMPLES", 15))
STATEFUL_400 = [  # (method, path) whose spec-valid requests may meet the 400s above
    ("POST", "/admin/keys"), ("PATCH", "/admin/keys/{key_id}"),
    ("POST", "/admin/keys/{key_id}/rotate"), ("PATCH", "/admin/users/{user_id}"),
    ("DELETE", "/admin/users/{user_id}"), ("POST", "/admin/projects"),
    ("PATCH", "/admin/projects/{project_id}"), ("POST", "/admin/projects/{project_id}/members"),
    ("GET", "/admin/usage"), ("GET", "/v1/usage"),
    ("GET", "/admin/logs"),  # a `cursor` string the API never gave; `to` a date at year 9999
]
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' default


def schemathesis_config(key):
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "workers": 1,
        "auth": {"openapi": {"bearer": {"bearer": key}, "x-api-key": {"api_key": key}}},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "checks": {"use_after_free": {"enabled": False}},
        "operations": [{
            "include-method": method, "include-path": path,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
        } for method, path in STATEFUL_400],
    })


def run(schema):
    """(failures as readable lines, Counter of scenarios per phase) of one engine run."""
    failures, phases = [], Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            phases[event.phase.name] += 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE:
                        interaction = event.recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        failures.append(
                            f"{event.label} {check.name}: {check.failure_info.failure.title}\n"
                            f"  {check.failure_info.code_sample}\n"
                            f"  -> {response.status_code if response else None} "
                            f"{(response.content or b'')[:300] if response else ''}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"engine error: {event!r}")
    return failures, phases


@contextlib.contextmanager
def sparing(own, decoy):
    """The run's own key and user stay as they are: a call aimed at them (revoke, rotate, limit,
    deactivate) goes to a decoy of the same kind instead, whatever the phase."""
    def before_call(context, case, kwargs):
        for name in ("key_id", "user_id", "project_id"):
            value = _as_int((case.path_parameters or {}).get(name))
            if value is not None and value == own.get(name):
                case.path_parameters[name] = decoy[name]

    schemathesis.hook(before_call)
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def _as_int(value):
    """What the route's <int:…> converter makes of a path value ("1", "01", 1 → 1)."""
    try:
        return int(str(value))
    except ValueError:
        return None


def user_and_key(app, email, role):
    """(user id, key id, key secret) of a new user with one key."""
    with app.app_context():
        user = user_repo.create(email, role=role)
        key, secret = key_repo.create(user)
        return user.id, key.id, secret


def test_the_api_matches_its_spec(app_factory, upstream):
    app = app_factory(GATEWAY_CONFIG=spec_config(upstream), AUTH_FAILURES_PER_MINUTE=0)
    user_id, key_id, key = user_and_key(app, "admin@example.com", "admin")
    decoy_user, decoy_key, _ = user_and_key(app, "decoy@example.com", "member")
    tally = Tally(app)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serving(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/apispec_1.json",
                                               config=schemathesis_config(key))
        with sparing({"user_id": user_id, "key_id": key_id},
                     {"user_id": decoy_user, "key_id": decoy_key}):
            failures, phases = run(schema)
    print(f"\nschemathesis: {dict(tally.counts)}, scenarios per phase {dict(phases)}")
    assert not tally.server_errors, tally.server_errors
    assert not failures, "\n".join(failures[:20])
    assert tally.counts["requests"] > 1000 and {"EXAMPLES", "COVERAGE", "FUZZING"} <= set(phases)
