"""Which deployment serves a request: the plan and its order (router, balancer), retries and
fallbacks (attempts), and deployment health — circuit breakers and provider-key cooldowns
(health, health_stores, health_batch)."""
