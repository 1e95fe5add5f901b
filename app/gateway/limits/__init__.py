"""Rate limits and budgets: the limiter, what it counts with (tickets), the stores that keep its
counters (Redis with its Lua scripts and deferred replies, memory), and budget periods."""
