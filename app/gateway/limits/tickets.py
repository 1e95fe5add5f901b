"""What the limiter works with: the limits of a scope, what one request asks of it, the ticket
of an admitted request (and its response headers), a store's verdict, and money in integer
nano-dollars."""
import math
from dataclasses import dataclass, field
from decimal import Decimal

NANO = Decimal(1_000_000_000)  # budgets are counted in integer nano-dollars


@dataclass(frozen=True)
class Scope:
    """The limits of one key, user or project; None means no limit."""
    name: str  # "key:12", "user:3", "project:5"
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    max_budget_usd: Decimal | None = None
    budget_period: str | None = None
    models: tuple | None = None
    label: str | None = field(default=None, compare=False)  # "key 'ci' (sk-gw-Ab3…)", for people

    @property
    def display(self):
        """How messages name the scope: its label, else its name."""
        return self.label or self.name

    @property
    def limited(self):
        return any(v is not None for v in (self.rpm, self.tpm, self.max_parallel,
                                            self.max_budget_usd))


@dataclass
class Ask:
    """What admitting one request needs from one scope."""
    scope: Scope
    tokens: int  # estimated input tokens, counted against TPM up front
    reserve: int  # worst-case cost in nano-dollars
    period_id: str = ""
    period_end: float | None = None  # epoch seconds


@dataclass
class Ticket:
    """An admitted request: what it holds, and the figures for the response headers."""
    request_id: str
    asks: list
    minute: int = 0
    remaining: list = field(default_factory=list)  # per ask: (requests, tokens, budget nano)
    reset_seconds: float = 60.0
    store: object = None  # the store that admitted it, and settles it
    roomy: bool = False  # every scope had room for another like it (lua.py): its settle may wait

    def headers(self):
        out = {}
        pairs = [(a, r) for a, r in zip(self.asks, self.remaining, strict=True)]
        for kind, limit_of, slot in (("requests", "rpm", 0), ("tokens", "tpm", 1)):
            limited = [(getattr(a.scope, limit_of), r[slot]) for a, r in pairs
                       if getattr(a.scope, limit_of) is not None]
            if limited:
                limit, remaining = min(limited, key=lambda lr: lr[1])
                out[f"x-ratelimit-limit-{kind}"] = str(limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(max(remaining, 0))
                out[f"x-ratelimit-reset-{kind}"] = f"{math.ceil(self.reset_seconds)}s"
        budgets = [r[2] for a, r in pairs if a.scope.max_budget_usd is not None]
        if budgets:
            out["x-gateway-budget-remaining-usd"] = usd(min(budgets))
        return out


def usd(nano):
    """Nano-dollars as dollars with 6 decimals, rounded half to even (as Decimal's format)."""
    micro, rest = divmod(max(int(nano), 0), 1000)
    if rest > 500 or (rest == 500 and micro % 2):
        micro += 1
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"


def to_nano(usd):
    return int((Decimal(usd) * NANO).to_integral_value())


def from_nano(nano):
    return Decimal(int(nano)) / NANO


@dataclass
class Verdict:
    kind: str  # ok | rpm | tpm | parallel | budget | seed
    index: int = 0  # which ask failed (or needs seeding)
    minute: int = 0
    remaining: list = field(default_factory=list)
    reset_seconds: float = 60.0
    budget_left: int = 0
    store: object = None  # the store that decided
    roomy: bool = False
