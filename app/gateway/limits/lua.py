"""The Lua scripts of the Redis limit store: one call admits a request in every scope (or in
none), one settles it."""

# ARGV: request_id, stale age (s), most units of a lease (0: none; leases.py), then 8 values per
# ask: prefix, rpm, tpm, tokens, max_parallel, budget max (nano), reserve (nano), period id; -1
# means no such limit. Time is Redis's own clock, so every instance shares one minute. Every ask
# is checked before anything changes: a request is admitted by all its scopes or by none.
# A budget window's hash holds `spent`, `reserved` (the sum of open reservations) and `r:<id>`
# per open reservation; `<hash>:open` orders them by time, so a reservation left by a dead
# worker is found and dropped after the stale age without scanning the others (admission stays
# O(log n) with a thousand requests in flight).
# Admitted: {'ok', minute, reset ms, (requests, tokens, budget) left per ask…, roomy, lease…}.
# roomy is 1 when every scope has room for another request like this one with this one still
# held (a free parallel slot, its tokens, its reservation): its settle may then wait for the
# worker's next admission (redis_store.py) without refusing anyone a sequential client could
# send. lease… is the lease's units (0: no lease), then per ask its tokens and budget (nano):
# when a LEASE_SHARE-th of every scope's room holds LEASE_MIN requests like this one, the
# request takes a lease instead of its own units — that share of the room: n requests and n
# parallel slots (`L<id>:1`…`L<id>:n`), tokens and a budget reservation `r:L<id>` — and the
# worker admits its next requests from it (leases.py).
LEASE_SHARE = 16
LEASE_MIN = 4  # fewer units than this: no lease, each request is admitted here
ACQUIRE = """
local LEASE_SHARE, LEASE_MIN = LEASE_SHARE_, LEASE_MIN_
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local reset_ms = (minute + 1) * 60000 - now
local stale = now - tonumber(ARGV[2]) * 1000
local rid = ARGV[1]
local asks = {}
local i = 4
while i <= #ARGV do
  asks[#asks + 1] = {prefix = ARGV[i], rpm = tonumber(ARGV[i + 1]), tpm = tonumber(ARGV[i + 2]),
    tokens = tonumber(ARGV[i + 3]), par = tonumber(ARGV[i + 4]), bmax = tonumber(ARGV[i + 5]),
    reserve = tonumber(ARGV[i + 6]), period = ARGV[i + 7]}
  i = i + 8
end
for n, a in ipairs(asks) do
  if a.rpm >= 0 then
    a.rkey = a.prefix .. ':r:' .. minute
    a.rused = tonumber(redis.call('GET', a.rkey) or '0')
    if a.rused + 1 > a.rpm then return {'rpm', n, reset_ms} end
  end
  if a.tpm >= 0 then
    a.tkey = a.prefix .. ':t:' .. minute
    a.tused = tonumber(redis.call('GET', a.tkey) or '0')
    if a.tused + a.tokens > a.tpm then return {'tpm', n, reset_ms} end
  end
  if a.par >= 0 then
    a.pkey = a.prefix .. ':p'
    redis.call('ZREMRANGEBYSCORE', a.pkey, '-inf', stale)
    a.pcount = redis.call('ZCARD', a.pkey)
    if a.pcount + 1 > a.par then return {'parallel', n, 1000} end
  end
  if a.bmax >= 0 then
    a.bkey = a.prefix .. ':b:' .. a.period
    local spent = redis.call('HGET', a.bkey, 'spent')
    if not spent then return {'seed', n, 0} end
    a.okey = a.bkey .. ':open'
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', a.okey, '-inf', stale)) do
      local held = tonumber(redis.call('HGET', a.bkey, 'r:' .. old) or '0')
      redis.call('HINCRBY', a.bkey, 'reserved', -held)
      redis.call('HDEL', a.bkey, 'r:' .. old)
      redis.call('ZREM', a.okey, old)
    end
    local reserved = math.max(0, tonumber(redis.call('HGET', a.bkey, 'reserved') or '0'))
    a.bleft = a.bmax - tonumber(spent) - reserved
    if a.reserve > a.bleft then return {'budget', n, 0, a.bleft} end
  end
end
local lease = tonumber(ARGV[3])
for _, a in ipairs(asks) do
  if lease < LEASE_MIN then break end
  if a.rpm >= 0 then lease = math.min(lease, math.floor((a.rpm - a.rused) / LEASE_SHARE)) end
  if a.par >= 0 then lease = math.min(lease, math.floor((a.par - a.pcount) / LEASE_SHARE)) end
  a.ltokens = a.tokens
  if a.tpm >= 0 then a.ltokens = math.floor((a.tpm - a.tused) / LEASE_SHARE) end
  a.lbudget = a.reserve
  if a.bmax >= 0 then a.lbudget = math.floor(a.bleft / LEASE_SHARE) end
  if a.ltokens < a.tokens * LEASE_MIN or a.lbudget < a.reserve * LEASE_MIN then lease = 0 end
end
if lease < LEASE_MIN then lease = 0 end
local out = {'ok', minute, reset_ms}
local roomy = 1
local members = {rid}
if lease > 0 then
  rid = 'L' .. rid
  members = {}
  for k = 1, lease do members[k] = rid .. ':' .. k end
end
for _, a in ipairs(asks) do
  local rleft, tleft, bleft = 0, 0, 0
  local tokens, reserve = a.tokens, a.reserve
  if lease > 0 then tokens, reserve = a.ltokens, a.lbudget end
  if a.rkey then
    rleft = a.rpm - redis.call('INCRBY', a.rkey, math.max(lease, 1))
    redis.call('PEXPIRE', a.rkey, 120000)
  end
  if a.tkey then
    tleft = a.tpm - redis.call('INCRBY', a.tkey, tokens)
    redis.call('PEXPIRE', a.tkey, 120000)
    if tleft < a.tokens then roomy = 0 end
  end
  if a.pkey then
    for _, member in ipairs(members) do redis.call('ZADD', a.pkey, now, member) end
    redis.call('PEXPIRE', a.pkey, tonumber(ARGV[2]) * 1000)
    if a.par - a.pcount - #members < 1 then roomy = 0 end
  end
  if a.bkey then
    redis.call('HSET', a.bkey, 'r:' .. rid, reserve)
    redis.call('HINCRBY', a.bkey, 'reserved', reserve)
    redis.call('ZADD', a.okey, now, rid)
    local ttl = redis.call('PTTL', a.bkey)
    if ttl > 0 then redis.call('PEXPIRE', a.okey, ttl) end
    bleft = a.bleft - reserve
    if bleft < a.reserve then roomy = 0 end
  end
  out[#out + 1] = rleft
  out[#out + 1] = tleft
  out[#out + 1] = bleft
end
out[#out + 1] = roomy
out[#out + 1] = lease
if lease > 0 then
  for _, a in ipairs(asks) do
    out[#out + 1] = a.ltokens
    out[#out + 1] = a.lbudget
  end
end
return out
""".replace("LEASE_SHARE_", str(LEASE_SHARE)).replace("LEASE_MIN_", str(LEASE_MIN))

# ARGV: request_id, minute, then 5 values per ask: prefix, tokens delta or 'x', 1/0 parallel,
# period id or '', cost (nano). Applied once per request: a settle whose reply was lost (Redis
# cut after it ran) is sent again by redis_replies.py, and a marker `<first prefix>:settled:<id>`
# (kept SETTLED_MS) makes that second run a no-op instead of counting the spend twice.
SETTLED_MS = 120_000
RELEASE = """
local rid = ARGV[1]
local minute = ARGV[2]
if not redis.call('SET', ARGV[3] .. ':settled:' .. rid, '1', 'NX', 'PX', SETTLED_MS) then
  return 0
end
local i = 3
while i <= #ARGV do
  local prefix = ARGV[i]
  if ARGV[i + 1] ~= 'x' then
    local key = prefix .. ':t:' .. minute
    if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, tonumber(ARGV[i + 1])) end
  end
  if ARGV[i + 2] == '1' then redis.call('ZREM', prefix .. ':p', rid) end
  if ARGV[i + 3] ~= '' then
    local key = prefix .. ':b:' .. ARGV[i + 3]
    local held = redis.call('HGET', key, 'r:' .. rid)
    if held then
      redis.call('HDEL', key, 'r:' .. rid)
      redis.call('HINCRBY', key, 'reserved', -tonumber(held))
      redis.call('ZREM', key .. ':open', rid)
    end
    if redis.call('HEXISTS', key, 'spent') == 1 then
      redis.call('HINCRBY', key, 'spent', tonumber(ARGV[i + 4]))
    end
  end
  i = i + 5
end
return 1
""".replace("SETTLED_MS", str(SETTLED_MS))

# What a worker gives back of a lease (leases.py): once when it ends (what no request took, and
# what the finished ones did not use) and once more after its last request settles, if requests
# were still running. ARGV: lease id, return number, minute, number of asks, then 7 values per
# ask: prefix, requests back, tokens back or 'x', 1/0 parallel, period id or '', reservation
# kept (nano; 0 drops it), spent (nano); then the parallel slots to free. Applied once, as
# RELEASE (a marker per lease and return number).
LEASE_RETURN = """
local lid, minute, count = ARGV[1], ARGV[3], tonumber(ARGV[4])
if not redis.call('SET', ARGV[5] .. ':settled:' .. lid .. ':' .. ARGV[2], '1', 'NX', 'PX',
                  SETTLED_MS) then
  return 0
end
local first = 5 + count * 7
for i = 5, first - 1, 7 do
  local prefix = ARGV[i]
  local key = prefix .. ':r:' .. minute
  if ARGV[i + 1] ~= '0' and redis.call('EXISTS', key) == 1 then
    redis.call('DECRBY', key, tonumber(ARGV[i + 1]))
  end
  key = prefix .. ':t:' .. minute
  if ARGV[i + 2] ~= 'x' and redis.call('EXISTS', key) == 1 then
    redis.call('DECRBY', key, tonumber(ARGV[i + 2]))
  end
  if ARGV[i + 3] == '1' and first <= #ARGV then
    redis.call('ZREM', prefix .. ':p', unpack(ARGV, first))
  end
  if ARGV[i + 4] ~= '' then
    key = prefix .. ':b:' .. ARGV[i + 4]
    local held = redis.call('HGET', key, 'r:' .. lid)
    if held then
      local keep = tonumber(ARGV[i + 5])
      if keep > 0 then
        redis.call('HSET', key, 'r:' .. lid, keep)
      else
        redis.call('HDEL', key, 'r:' .. lid)
        redis.call('ZREM', key .. ':open', lid)
      end
      redis.call('HINCRBY', key, 'reserved', keep - tonumber(held))
    end
    if redis.call('HEXISTS', key, 'spent') == 1 then
      redis.call('HINCRBY', key, 'spent', tonumber(ARGV[i + 6]))
    end
  end
end
return 1
""".replace("SETTLED_MS", str(SETTLED_MS))

# The lease of open parallel slots and budget reservations, renewed by the worker holding them
# (RedisStore's keeper, every lease / 3): ARGV lease (ms), then pairs of (sorted set, member).
# XX: a slot released meanwhile is not brought back. A slot whose worker died (or could not
# reach Redis to release it) is dropped by the next ACQUIRE once its lease is over.
REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('ZADD', ARGV[i], 'XX', now, ARGV[i + 1])
  local ttl = redis.call('PTTL', ARGV[i])
  if ttl >= 0 and ttl < lease then redis.call('PEXPIRE', ARGV[i], lease) end
end
return 1
"""

# Spending counted in this process while Redis was down (REDIS_DOWN_BUDGETS=local), added to
# the budget windows Redis holds: ARGV pairs of (budget hash, nano-dollars).
ADD_SPENT = """
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', ARGV[i], 'spent') == 1 then
    redis.call('HINCRBY', ARGV[i], 'spent', tonumber(ARGV[i + 1]))
  end
end
return 1
"""
