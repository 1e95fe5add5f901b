"""Virtual keys: generation, hashing, and authentication with a short-TTL per-worker cache."""
import fnmatch
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from ..errors import AuthenticationFailed
from ..models import utcnow

KEY_PREFIX = "sk-gw-"
DISPLAY_CHARS = 12  # "sk-gw-" + 6 characters of the secret, enough to tell keys apart


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
    """lookup(key_hash) -> Principal | None reads the database; results are cached for ttl
    seconds, so a revoke takes effect within the TTL in every worker (at once in this one)."""

    def __init__(self, lookup, master_key=None, ttl=30.0, clock=time.monotonic):
        self._lookup = lookup
        self._master_hash = hash_key(master_key) if master_key else None
        self._ttl = ttl
        self._clock = clock
        self._cache = {}
        self._loading = {}  # key hash -> lock held by the request looking it up
        self._lock = threading.Lock()

    def authenticate(self, secret):
        if not secret:
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key'.",
                code="missing_api_key")
        key_hash = hash_key(secret)
        if self._master_hash and hmac.compare_digest(key_hash, self._master_hash):
            return MASTER
        cached = self._cache.get(key_hash)
        if cached and cached[0] > self._clock():
            return self._check(cached[1])
        return self._check(self._load(key_hash))

    def _load(self, key_hash):
        """Look a key up once however many requests miss the cache at the same moment (when its
        entry expires under load, hundreds would otherwise query the database together)."""
        with self._lock:
            loading = self._loading.setdefault(key_hash, threading.Lock())
        with loading:
            cached = self._cache.get(key_hash)
            if cached and cached[0] > self._clock():
                return cached[1]  # another request loaded it while this one waited
            try:
                principal = self._lookup(key_hash)
                if principal is not None:
                    with self._lock:
                        self._cache[key_hash] = (self._clock() + self._ttl, principal)
                return principal
            finally:
                with self._lock:
                    self._loading.pop(key_hash, None)

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
            else:
                self._cache.pop(key_hash, None)
