"""The Lua scripts of the Redis limit store: one call admits a request in every scope (or in
none), one settles it."""

# ARGV: request_id, stale age (s), then 8 values per ask: prefix, rpm, tpm, tokens,
# max_parallel, budget max (nano), reserve (nano), period id; -1 means no such limit. Time is
# Redis's own clock, so every instance shares one minute. Every ask is checked before anything
# changes: a request is admitted by all its scopes or by none.
# A budget window's hash holds `spent`, `reserved` (the sum of open reservations) and `r:<id>`
# per open reservation; `<hash>:open` orders them by time, so a reservation left by a dead
# worker is found and dropped after the stale age without scanning the others (admission stays
# O(log n) with a thousand requests in flight).
# Admitted: {'ok', minute, reset ms, (requests, tokens, budget) left per ask…, roomy}; roomy is 1
# when every scope has room for another request like this one with this one still held (a free
# parallel slot, its tokens, its reservation): its settle may then wait for the worker's next
# admission (redis_store.py) without refusing anyone a sequential client could send.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local reset_ms = (minute + 1) * 60000 - now
local stale = now - tonumber(ARGV[2]) * 1000
local rid = ARGV[1]
local asks = {}
local i = 3
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
local out = {'ok', minute, reset_ms}
local roomy = 1
for _, a in ipairs(asks) do
  local rleft, tleft, bleft = 0, 0, 0
  if a.rkey then
    rleft = a.rpm - redis.call('INCR', a.rkey)
    redis.call('PEXPIRE', a.rkey, 120000)
  end
  if a.tkey then
    tleft = a.tpm - redis.call('INCRBY', a.tkey, a.tokens)
    redis.call('PEXPIRE', a.tkey, 120000)
    if tleft < a.tokens then roomy = 0 end
  end
  if a.pkey then
    redis.call('ZADD', a.pkey, now, rid)
    redis.call('PEXPIRE', a.pkey, tonumber(ARGV[2]) * 1000)
    if a.par - a.pcount - 1 < 1 then roomy = 0 end
  end
  if a.bkey then
    redis.call('HSET', a.bkey, 'r:' .. rid, a.reserve)
    redis.call('HINCRBY', a.bkey, 'reserved', a.reserve)
    redis.call('ZADD', a.okey, now, rid)
    local ttl = redis.call('PTTL', a.bkey)
    if ttl > 0 then redis.call('PEXPIRE', a.okey, ttl) end
    bleft = a.bleft - a.reserve
    if bleft < a.reserve then roomy = 0 end
  end
  out[#out + 1] = rleft
  out[#out + 1] = tleft
  out[#out + 1] = bleft
end
out[#out + 1] = roomy
return out
"""

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
