"""Virtual keys: generation, hashing, the authenticator's cache and its verdicts."""
import hashlib
import re
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app.errors import AuthenticationFailed, RateLimited, ServiceUnavailable
from app.gateway.auth import MASTER, Authenticator, Principal, generate_key, hash_key
from app.gateway.breaker import DATABASE_FAILURES, Breaker
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

    def __call__(self, key_hash, known=False):
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
        def __call__(self, key_hash, known=False):
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


def test_an_unknown_key_is_looked_up_once_per_negative_ttl(clock):
    lookup = Lookup({})
    auth = Authenticator(lookup, ttl=30.0, clock=clock, negative_ttl=10.0)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate("sk-gw-unknown")
    assert len(lookup.calls) == 1
    clock.now += 10.1
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("sk-gw-unknown")
    assert len(lookup.calls) == 2


def test_a_key_created_after_it_was_tried_works_once_invalidated(clock):
    lookup = Lookup({})
    auth = Authenticator(lookup, ttl=30.0, clock=clock)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(SECRET)
    lookup.principals[HASH] = member()
    auth.invalidate(HASH)  # what the admin API does when it creates or rotates a key
    assert auth.authenticate(SECRET) == member()


def test_repeated_failures_from_one_address_are_refused_without_a_lookup(clock):
    lookup = Lookup({HASH: member()})
    auth = Authenticator(lookup, ttl=30.0, clock=clock, failures_per_minute=5)
    auth.authenticate(SECRET, "10.0.0.1")  # a key known good in this worker
    for i in range(5):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(f"sk-gw-guess-{i}", "10.0.0.1")
    calls = len(lookup.calls)
    with pytest.raises(RateLimited) as info:
        auth.authenticate("sk-gw-guess-next", "10.0.0.1")
    assert info.value.code == "too_many_failed_authentications"
    assert 1 <= int(info.value.headers["retry-after"]) <= 60
    assert len(lookup.calls) == calls  # no database trip for it
    with pytest.raises(AuthenticationFailed):  # another address is not slowed down
        auth.authenticate("sk-gw-guess-next", "10.0.0.2")
    clock.now += 31  # the good key's cache entry expired: it is still looked up, not refused
    assert auth.authenticate(SECRET, "10.0.0.1") == member()
    clock.now += 30  # a minute after the failures, the address may try again
    with pytest.raises(AuthenticationFailed):
        auth.authenticate("sk-gw-guess-later", "10.0.0.1")


class FlakyLookup(Lookup):
    """Raises like a database that refuses connections while `down`."""

    def __init__(self, principals=None):
        super().__init__(principals)
        self.down = False

    def __call__(self, key_hash, known=False):
        if self.down:
            self.calls.append(key_hash)
            raise OperationalError("SELECT …", {}, ConnectionRefusedError("refused"))
        return super().__call__(key_hash)


def test_with_the_database_down_known_keys_work_and_unknown_keys_get_503(clock):
    lookup = FlakyLookup({HASH: member()})
    auth = Authenticator(lookup, ttl=30.0, clock=clock,
                         breaker=Breaker("db", DATABASE_FAILURES, retry_seconds=2, clock=clock))
    auth.authenticate(SECRET)
    lookup.down, lookup.calls = True, []
    clock.now += 31  # the cache entry expired during the outage
    assert auth.authenticate(SECRET) == member()  # its last good lookup
    for other in ("sk-gw-other-1", "sk-gw-other-2"):
        with pytest.raises(ServiceUnavailable) as info:
            auth.authenticate(other)
        assert info.value.status == 503 and info.value.headers["retry-after"] == "2"
    assert auth.authenticate(SECRET) == member()
    assert len(lookup.calls) == 1  # the breaker: one try, then no waits until the next probe
    clock.now += 2.1
    lookup.down = False
    with pytest.raises(AuthenticationFailed):  # the probe: the database answers again
        auth.authenticate("sk-gw-other-1")
    assert auth.authenticate(SECRET) == member()


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
