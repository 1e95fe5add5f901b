"""Rate limits and budgets: the limiter, the stores that keep its counters (Redis, memory),
deferred Redis replies, and budget periods."""
