"""Virtual keys: generation, hashing, the authenticator's cache and its verdicts."""
import hashlib
import re
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from app.errors import AuthenticationFailed
from app.gateway.auth import MASTER, Authenticator, Principal, generate_key, hash_key
from app.models import utcnow

URLSAFE = set(string.ascii_letters + string.digits + "-_")


def test_generate_key_shape():
    secret, key_hash, prefix = generate_key()
    assert secret.startswith("sk-gw-")
    assert len(secret) == len("sk-gw-") + 43  # 32 random bytes, url-safe base64
    assert set(secret[len("sk-gw-"):]) <= URLSAFE
    assert key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", key_hash)
    assert key_hash == hash_key(secret)
    assert prefix == secret[:12] and len(prefix) == 12
    assert secret not in key_hash


def test_generated_keys_differ():
    keys = [generate_key() for _ in range(50)]
    assert len({k[0] for k in keys}) == 50
    assert len({k[1] for k in keys}) == 50


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Lookup:
    """lookup(key_hash) stand-in backed by a dict, counting its calls."""

    def __init__(self, principals=None):
        self.principals = dict(principals or {})
        self.calls = []

    def __call__(self, key_hash):
        self.calls.append(key_hash)
        return self.principals.get(key_hash)


def member(**kwargs):
    return Principal(key_id=1, user_id=2, project_id=None, role="member", **kwargs)


SECRET = "sk-gw-test-secret"
HASH = hash_key(SECRET)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def lookup():
    return Lookup({HASH: member()})


@pytest.fixture
def auth(lookup, clock):
    return Authenticator(lookup, master_key="master-secret", ttl=30.0, clock=clock)


def test_valid_key_returns_its_principal(auth):
    principal = auth.authenticate(SECRET)
    assert principal == member()
    assert not principal.is_admin


def test_cache_hit_within_ttl_does_not_look_up_again(auth, lookup, clock):
    auth.authenticate(SECRET)
    clock.now += 29.9
    auth.authenticate(SECRET)
    auth.authenticate(SECRET)
    assert lookup.calls == [HASH]


def test_after_ttl_the_key_is_looked_up_again(auth, lookup, clock):
    auth.authenticate(SECRET)
    clock.now += 30.1
    auth.authenticate(SECRET)
    assert lookup.calls == [HASH, HASH]


def test_concurrent_misses_look_the_key_up_once(clock):
    """When a key's entry expires under load, one request reads the database; the others wait
    for its answer instead of querying together."""
    started, release = threading.Event(), threading.Event()

    class SlowLookup(Lookup):
        def __call__(self, key_hash):
            started.set()
            release.wait(5)
            return super().__call__(key_hash)

    lookup = SlowLookup({HASH: member()})
    auth = Authenticator(lookup, ttl=30.0, clock=clock)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = [pool.submit(auth.authenticate, SECRET) for _ in range(20)]
        assert started.wait(5)
        time.sleep(0.1)  # let the other 19 reach the lookup lock
        release.set()
        principals = [a.result(5) for a in answers]
    assert principals == [member()] * 20
    assert lookup.calls == [HASH]


def test_a_bad_key_is_looked_up_each_time(clock):
    lookup = Lookup({})
    auth = Authenticator(lookup, ttl=30.0, clock=clock)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate("sk-gw-unknown")
    assert len(lookup.calls) == 2


def test_a_revoke_is_seen_after_the_ttl(auth, lookup, clock):
    auth.authenticate(SECRET)
    lookup.principals[HASH] = member(revoked=True)
    auth.authenticate(SECRET)  # still cached
    clock.now += 31
    with pytest.raises(AuthenticationFailed) as info:
        auth.authenticate(SECRET)
    assert info.value.code == "revoked_api_key"


def test_invalidate_forces_a_lookup(auth, lookup):
    auth.authenticate(SECRET)
    lookup.principals[HASH] = member(revoked=True)
    auth.invalidate(HASH)
    with pytest.raises(AuthenticationFailed) as info:
        auth.authenticate(SECRET)
    assert info.value.code == "revoked_api_key"
    assert lookup.calls == [HASH, HASH]


def test_invalidate_all(auth, lookup):
    other = "sk-gw-other"
    lookup.principals[hash_key(other)] = member()
    auth.authenticate(SECRET)
    auth.authenticate(other)
    auth.invalidate()
    auth.authenticate(SECRET)
    auth.authenticate(other)
    assert len(lookup.calls) == 4


def test_invalidate_of_another_key_keeps_the_cache(auth, lookup):
    auth.authenticate(SECRET)
    auth.invalidate(hash_key("sk-gw-someone-else"))
    auth.authenticate(SECRET)
    assert lookup.calls == [HASH]


@pytest.mark.parametrize("principal, code", [
    (None, "invalid_api_key"),
    (member(revoked=True), "revoked_api_key"),
    (member(expires_at=utcnow() - timedelta(seconds=1)), "expired_api_key"),
    (member(active=False), "inactive_user"),
])
def test_rejected_keys(clock, principal, code):
    auth = Authenticator(Lookup({HASH: principal}), clock=clock)
    with pytest.raises(AuthenticationFailed) as info:
        auth.authenticate(SECRET)
    assert info.value.code == code
    assert info.value.status == 401


def test_key_expiring_in_the_future_is_accepted(clock):
    principal = member(expires_at=utcnow() + timedelta(days=1))
    auth = Authenticator(Lookup({HASH: principal}), clock=clock)
    assert auth.authenticate(SECRET) == principal


def test_unknown_keys_are_not_cached(auth, lookup):
    for _ in range(2):
        with pytest.raises(AuthenticationFailed) as info:
            auth.authenticate("sk-gw-unknown")
        assert info.value.code == "invalid_api_key"
    assert lookup.calls == [hash_key("sk-gw-unknown")] * 2
    # a key created after the first failed attempt works at once
    lookup.principals[hash_key("sk-gw-unknown")] = member()
    assert auth.authenticate("sk-gw-unknown") == member()


@pytest.mark.parametrize("secret", [None, ""])
def test_missing_key(auth, lookup, secret):
    with pytest.raises(AuthenticationFailed) as info:
        auth.authenticate(secret)
    assert info.value.code == "missing_api_key"
    assert info.value.status == 401
    assert lookup.calls == []


def test_master_key_is_the_admin_principal(auth, lookup):
    principal = auth.authenticate("master-secret")
    assert principal is MASTER
    assert principal.is_admin
    assert principal.may_use("anything")
    assert lookup.calls == []


def test_without_master_key_nothing_is_admin_by_default(clock):
    lookup = Lookup()
    auth = Authenticator(lookup, master_key=None, clock=clock)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("master-secret")
    assert lookup.calls == [hash_key("master-secret")]


def test_a_near_miss_of_the_master_key_is_not_admin(auth):
    with pytest.raises(AuthenticationFailed) as info:
        auth.authenticate("master-secreT")
    assert info.value.code == "invalid_api_key"


@pytest.mark.parametrize("allow, model, expected", [
    (None, "gpt-4o", True),
    (None, "claude-sonnet-4-5", True),
    (("gpt-4o",), "gpt-4o", True),
    (("gpt-4o",), "gpt-4o-mini", False),
    (("gpt-4o*",), "gpt-4o-mini", True),
    (("gpt-4o*",), "gpt-4.1", False),
    (("claude-*", "mock-echo"), "claude-haiku-4-5", True),
    (("claude-*", "mock-echo"), "mock-echo", True),
    (("claude-*", "mock-echo"), "mock-echo-2", False),
    (("gpt-4?-mini",), "gpt-4o-mini", True),
    (("gpt-4o",), "GPT-4o", False),  # case-sensitive
    ((), "gpt-4o", False),
])
def test_may_use(allow, model, expected):
    assert member(models=allow).may_use(model) is expected
