"""Virtual keys: generation, hashing, and authentication with a short-TTL per-worker cache that
rides out a database outage and slows down guessing."""
import fnmatch
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from ..errors import AuthenticationFailed, RateLimited, ServiceUnavailable
from ..models import utcnow
from .breaker import DATABASE_FAILURES, Breaker

KEY_PREFIX = "sk-gw-"
DISPLAY_CHARS = 12  # "sk-gw-" + 6 characters of the secret, enough to tell keys apart
MAX_UNKNOWN = 10_000  # unknown key hashes remembered per worker
MAX_ADDRESSES = 10_000  # client addresses whose failed authentications are counted per worker


def hash_key(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key():
    """A new secret (256 bits of entropy), its sha256 hash and its display prefix."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret), secret[:DISPLAY_CHARS]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a virtual key with its owner and limits, or the master key."""
    key_id: int | None
    user_id: int | None
    project_id: int | None
    role: str
    models: tuple | None = None  # allowlist of names or glob patterns; None = all
    expires_at: object = None
    revoked: bool = False
    active: bool = True
    scopes: tuple = ()  # limits.Scope of the key, its user and its project
    key_prefix: str | None = None  # the key's display prefix ("sk-gw-Ab3dEf"), never the secret

    @property
    def is_admin(self):
        return self.role == "admin"

    def may_use(self, model):
        """Allowed by the key's allowlist and by every scope's (user, project)."""
        allowlists = [self.models] + [s.models for s in self.scopes]
        return all(patterns is None or any(fnmatch.fnmatchcase(model, p) for p in patterns)
                   for patterns in allowlists)


MASTER = Principal(key_id=None, user_id=None, project_id=None, role="admin")


class Authenticator:
    """lookup(key_hash, known) -> Principal | None reads the database (known: this worker has a
    last good lookup of the key, so the read may give up sooner); results are cached for ttl
    seconds, so a revoke takes effect within the TTL in every worker (at once in this one).

    - Database down (breaker: one probe per interval, the rest decide at once): a key this worker
      has looked up before keeps working from its last good lookup; any other key gets 503.
    - An unknown key is remembered as unknown for negative_ttl seconds (no database trip).
    - An address whose unknown keys failed `failures_per_minute` times in the last minute gets
      429 for keys this worker has never seen valid, without a database trip (keys already
      known are never slowed down)."""

    def __init__(self, lookup, master_key=None, ttl=30.0, clock=time.monotonic, *,
                 breaker=None, negative_ttl=60.0, failures_per_minute=30):
        self._lookup = lookup
        self._master_hash = hash_key(master_key) if master_key else None
        self._ttl = ttl
        self._clock = clock
        self._cache = {}  # key hash -> (fresh until, Principal): kept past its TTL as the last
        self._unknown = OrderedDict()  # key hash -> unknown until             good lookup
        self._negative_ttl = negative_ttl
        self._loading = {}  # key hash -> lock held by the request looking it up
        self._lock = threading.Lock()
        self.breaker = breaker or Breaker("The database", DATABASE_FAILURES, clock=clock)
        self.throttle = FailedAuthThrottle(failures_per_minute, clock=clock)

    def authenticate(self, secret, address=None):
        if not secret:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.",
                code="missing_api_key")
        return self.authenticate_hash(hash_key(secret), address)

    def authenticate_hash(self, key_hash, address=None):
        """authenticate() for a key known by its sha256 hash (the dashboard's session holds the
        hash of the key it was opened with, never the key)."""
        if self._master_hash and hmac.compare_digest(key_hash, self._master_hash):
            return MASTER
        cached = self._cache.get(key_hash)
        now = self._clock()
        if cached and cached[0] > now:
            return self._check(cached[1])
        if cached is None:
            unknown_until = self._unknown.get(key_hash)
            if unknown_until is not None and unknown_until > now:
                self.throttle.failed(address)
                raise AuthenticationFailed("Invalid API key.")
            self.throttle.check(address)
        principal = self._load(key_hash)
        if principal is None:
            self.throttle.failed(address)
        return self._check(principal)

    def _load(self, key_hash):
        """Look a key up once however many requests miss the cache at the same moment (when its
        entry expires under load, hundreds would otherwise query the database together). While
        the database is down, nobody waits for the probe: the last good lookup, or 503."""
        if self.breaker.down:
            cached = self._cache.get(key_hash)
            if not self.breaker.allow():
                return self._last_good(cached)
            if cached is not None:  # probe in the background; this request goes on at once
                threading.Thread(target=self._probe, args=(key_hash, cached), daemon=True,
                                 name="database-probe").start()
                return cached[1]
            return self._read(key_hash, cached, probing=True)
        with self._lock:
            loading = self._loading.setdefault(key_hash, threading.Lock())
        with loading:
            cached = self._cache.get(key_hash)
            if cached and cached[0] > self._clock():
                return cached[1]  # another request loaded it while this one waited
            try:
                return self._read(key_hash, cached)
            finally:
                with self._lock:
                    self._loading.pop(key_hash, None)

    def _read(self, key_hash, cached, probing=False):
        if not probing and not self.breaker.allow():
            return self._last_good(cached)
        try:
            principal = self._lookup(key_hash, known=cached is not None)
        except DATABASE_FAILURES as exc:
            self.breaker.failed(exc)
            return self._last_good(cached)
        self.breaker.succeeded()
        with self._lock:
            if principal is not None:
                self._cache[key_hash] = (self._clock() + self._ttl, principal)
            else:
                self._cache.pop(key_hash, None)
                self._unknown[key_hash] = self._clock() + self._negative_ttl
                self._unknown.move_to_end(key_hash)
                while len(self._unknown) > MAX_UNKNOWN:
                    self._unknown.popitem(last=False)
        return principal

    def _probe(self, key_hash, cached):
        try:
            self._read(key_hash, cached, probing=True)
        except Exception:
            pass  # the breaker has recorded it

    def _last_good(self, cached):
        """The database cannot be asked now: the key's last good lookup, or 503."""
        if cached is not None:
            return cached[1]
        retry = max(1, math.ceil(self.breaker.retry_seconds))
        raise ServiceUnavailable("This API key cannot be checked right now (the database is "
                                 f"unavailable); retry in {retry} s.", code="auth_unavailable",
                                 headers={"retry-after": str(retry)})

    @staticmethod
    def _check(principal):
        if principal is None:
            raise AuthenticationFailed("Invalid API key.")
        if principal.revoked:
            raise AuthenticationFailed("This API key has been revoked.", code="revoked_api_key")
        if not principal.active:
            raise AuthenticationFailed("The owner of this API key is deactivated.",
                                       code="inactive_user")
        if principal.expires_at is not None and principal.expires_at <= utcnow():
            raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
        return principal

    def invalidate(self, key_hash=None):
        with self._lock:
            if key_hash is None:
                self._cache.clear()
                self._unknown.clear()
            else:
                self._cache.pop(key_hash, None)
                self._unknown.pop(key_hash, None)


class FailedAuthThrottle:
    """Failed authentications (unknown keys) per client address over the last minute."""

    def __init__(self, limit=30, window=60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures = OrderedDict()  # address -> deque of failure times
        self._lock = threading.Lock()

    def check(self, address):
        """429 when address has failed `limit` times within the window."""
        if not self.limit or address is None:
            return
        times = self._failures.get(address)
        if times is None:
            return
        now = self._clock()
        with self._lock:
            while times and times[0] <= now - self.window:
                times.popleft()
        if len(times) >= self.limit:
            retry = max(1, math.ceil(times[0] + self.window - now))
            raise RateLimited(f"Too many requests with invalid API keys from {address}; retry "
                              f"in {retry} s.", code="too_many_failed_authentications",
                              headers={"retry-after": str(retry)})

    def failed(self, address):
        if not self.limit or address is None:
            return
        with self._lock:
            times = self._failures.pop(address, None) or deque(maxlen=self.limit)
            times.append(self._clock())
            self._failures[address] = times  # most recent last
            while len(self._failures) > MAX_ADDRESSES:
                self._failures.popitem(last=False)
