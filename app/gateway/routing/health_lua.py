"""The Lua scripts of the Redis health store (health_stores.py): a check, an outcome, and a batch
of plain successes, each one atomic call on Redis's clock. Key cooldowns live in
`<prefix>:key:<provider>:<index>` (401/403: the key itself) and `…:<index>:m:<model>` (429: the key
for one upstream model)."""

CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, dep, provider = ARGV[1], ARGV[2], ARGV[3]
local nkeys, probe_ttl, model = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local out = {'closed', 0}
local free, shortest = 0, -1
for i = 0, nkeys - 1 do
  local key = prefix .. ':key:' .. provider .. ':' .. i
  local u = math.max(tonumber(redis.call('HGET', key, 'until') or '0'),
                     tonumber(redis.call('HGET', key .. ':m:' .. model, 'until') or '0'))
  local wait = math.max(u - now, 0)
  if wait == 0 then free = free + 1 elseif shortest < 0 or wait < shortest then shortest = wait end
  out[#out + 1] = wait
end
if nkeys > 0 and free == 0 then
  out[1], out[2] = 'keys', shortest
  return out
end
local cb = prefix .. ':cb:' .. dep
local state = redis.call('HMGET', cb, 'until', 'probe')
if state[1] then
  local untl = tonumber(state[1])
  if now < untl then
    out[1], out[2] = 'open', untl - now
    return out
  end
  if state[2] and now - tonumber(state[2]) < probe_ttl then
    out[1], out[2] = 'open', probe_ttl - (now - tonumber(state[2]))
    return out
  end
  redis.call('HSET', cb, 'probe', now)
  out[1] = 'probe'
end
return out
"""

RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, dep, outcome, probe, enabled = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local window, min_req = tonumber(ARGV[6]), tonumber(ARGV[7])
local rate, cooldown = tonumber(ARGV[8]), tonumber(ARGV[9])
local member, provider, key, kevent = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local explicit, auth, model = tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16]
local event, kwait = '', -1
local cb = prefix .. ':cb:' .. dep
local keep = cooldown + 3600000
if enabled == '1' then
  if probe == '1' then
    if outcome == '1' then
      redis.call('DEL', cb, cb .. ':all', cb .. ':bad')
      event = 'closed'
    elseif outcome == '0' then
      redis.call('HSET', cb, 'until', now + cooldown)
      redis.call('HDEL', cb, 'probe')
      redis.call('PEXPIRE', cb, keep)
      event = 'reopened'
    else
      redis.call('HDEL', cb, 'probe')
    end
  elseif outcome ~= '-' then
    local all, bad = cb .. ':all', cb .. ':bad'
    redis.call('ZADD', all, now, member)
    if outcome == '0' then redis.call('ZADD', bad, now, member) end
    redis.call('ZREMRANGEBYSCORE', all, '-inf', now - window)
    redis.call('ZREMRANGEBYSCORE', bad, '-inf', now - window)
    redis.call('PEXPIRE', all, window)
    redis.call('PEXPIRE', bad, window)
    if outcome == '0' and redis.call('HEXISTS', cb, 'until') == 0 then
      local total, failed = redis.call('ZCARD', all), redis.call('ZCARD', bad)
      if total >= min_req and failed >= rate * total then
        redis.call('HSET', cb, 'until', now + cooldown)
        redis.call('HDEL', cb, 'probe')
        redis.call('PEXPIRE', cb, keep)
        redis.call('DEL', all, bad)
        event = 'opened'
      end
    end
  end
end
if key ~= '' and kevent ~= '' then
  local kk = prefix .. ':key:' .. provider .. ':' .. key
  if kevent ~= 'auth' then kk = kk .. ':m:' .. model end
  if kevent == 'ok' then
    redis.call('HDEL', kk, 'strikes')
  else
    if kevent == 'auth' then
      kwait = auth
    else
      local strikes = redis.call('HINCRBY', kk, 'strikes', 1)
      kwait = explicit
      if kwait < 0 then kwait = tonumber(ARGV[16 + math.min(strikes, #ARGV - 16)]) end
    end
    redis.call('HSET', kk, 'until', now + kwait)
    redis.call('PEXPIRE', kk, kwait + 600000)
  end
end
return {event, kwait}
"""


RECORD_SUCCESSES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, i = ARGV[1], 3
for g = 1, tonumber(ARGV[2]) do
  local all = prefix .. ':cb:' .. ARGV[i] .. ':all'
  local window, count = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  local entries = {}
  for m = 1, count do
    entries[2 * m - 1], entries[2 * m] = now, ARGV[i]
    i = i + 1
  end
  redis.call('ZADD', all, unpack(entries))
  redis.call('ZREMRANGEBYSCORE', all, '-inf', now - window)
  redis.call('PEXPIRE', all, window)
end
for k = i, #ARGV do redis.call('HDEL', prefix .. ':key:' .. ARGV[k], 'strikes') end
return 0
"""
