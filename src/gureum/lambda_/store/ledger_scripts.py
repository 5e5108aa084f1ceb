"""The Redis ledger's Lua scripts: each decision of `domain.concurrency`, made atomically in Redis.

Redis runs a script alone, so a script reads and writes a scope's counts with no other process in
between: that is what makes the limits hold across processes. The keys of one scope (account,
region) share the prefix P = `<prefix>{<account>/<region>}:` (one hash slot):

    P reserved       hash  function id -> reserved concurrency
    P provisioned    hash  function id -> Σ provisioned concurrency
    P inflight       hash  function id -> executions running (every pool)
    P pinflight      hash  function id -> of those, on provisioned environments
    P agg            hash  reserved_total, unreserved_provisioned, unreserved_on_demand
    P leases         zset  "<id>|<pool>|<function id>" scored by its expiry (Redis TIME, ms)
    P ids            int   the scope's lease ids
    P rates          hash  "f:<function id>", "@account" -> bucket "capacity tokens updated"
    P scaling        hash  function id -> token bucket (the scaling rate of new environments)

A lease whose expiry passed (its process died, or stopped renewing) is swept by the next script
of its scope and its counts given back: the counts repair themselves. `agg` is kept incrementally
on the hot path and recomputed from the hashes whenever reservations, provisioned totals or a
sweep change them. Expiries use the server's TIME (one clock for every host); the rates use the
caller's clock, as the in-process ledger does.

The decisions mirror `choose_pool`, `invocation_rate` and `TokenBucket.take`; the contract suite
(`tests/lambda_/contract/test_ledger_port.py`) holds both ledgers to one behaviour.
"""

from __future__ import annotations

# Shared functions, prepended to every script.
_COMMON = r"""
local P = KEYS[1]

local function num(value)
  if value then return tonumber(value) end
  return 0
end

local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function recompute()
  local reserved = {}
  local total = 0
  local rows = redis.call('HGETALL', P .. 'reserved')
  for i = 1, #rows, 2 do
    reserved[rows[i]] = true
    total = total + tonumber(rows[i + 1])
  end
  local unreserved_provisioned = 0
  rows = redis.call('HGETALL', P .. 'provisioned')
  for i = 1, #rows, 2 do
    if not reserved[rows[i]] then
      unreserved_provisioned = unreserved_provisioned + tonumber(rows[i + 1])
    end
  end
  local on_demand = 0
  rows = redis.call('HGETALL', P .. 'inflight')
  for i = 1, #rows, 2 do
    if not reserved[rows[i]] then
      on_demand = on_demand + tonumber(rows[i + 1])
        - num(redis.call('HGET', P .. 'pinflight', rows[i]))
    end
  end
  redis.call('HSET', P .. 'agg', 'reserved_total', total,
    'unreserved_provisioned', unreserved_provisioned, 'unreserved_on_demand', on_demand)
end

local function count_down(fid, pool)
  if redis.call('HINCRBY', P .. 'inflight', fid, -1) <= 0 then
    redis.call('HDEL', P .. 'inflight', fid)
  end
  if pool == 'provisioned' then
    if redis.call('HINCRBY', P .. 'pinflight', fid, -1) <= 0 then
      redis.call('HDEL', P .. 'pinflight', fid)
    end
  end
end

local function parse(member)
  return string.match(member, '^(%d+)|(%a+)|(.*)$')
end

local function sweep(now_ms)
  local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now_ms, 'LIMIT', 0, 1000)
  if #expired == 0 then return 0 end
  for _, member in ipairs(expired) do
    redis.call('ZREM', P .. 'leases', member)
    local _, pool, fid = parse(member)
    count_down(fid, pool)
  end
  recompute()
  return #expired
end

-- TokenBucket.take: refilled continuously, never above capacity, never by a clock going back.
local function take(key, field, capacity, period, now)
  local raw = redis.call('HGET', key, field)
  local cap, tokens, updated
  if raw then
    cap, tokens, updated = string.match(raw, '^(%S+) (%S+) (%S+)$')
    cap, tokens, updated = tonumber(cap), tonumber(tokens), tonumber(updated)
  end
  if not raw or cap ~= capacity then
    tokens, updated = capacity, now
  end
  local refill = 1e18
  if period > 0 then refill = (now - updated) * capacity / period end
  if refill < 0 then refill = 0 end
  tokens = math.min(capacity, tokens + refill)
  local allowed = tokens >= 1
  if allowed then tokens = tokens - 1 end
  return allowed, string.format('%.17g %.17g %.17g', capacity, tokens, now)
end

local function grant(fid, pool, ttl_ms)
  local id = redis.call('INCR', P .. 'ids')
  redis.call('ZADD', P .. 'leases', clock_ms() + ttl_ms, id .. '|' .. pool .. '|' .. fid)
  redis.call('HINCRBY', P .. 'inflight', fid, 1)
  if pool == 'provisioned' then
    redis.call('HINCRBY', P .. 'pinflight', fid, 1)
  elseif pool == 'unreserved' then
    redis.call('HINCRBY', P .. 'agg', 'unreserved_on_demand', 1)
  end
  return {id, pool}
end
"""

# KEYS: P, the "loaded" marker, the scopes set. ARGV: function id, now, rate period, account
# limit, TTL (ms), the scope's name.
# -> {lease id, pool} | {-1, throttle reason} | {-2} (the reservations are not loaded: restore)
ADMIT = (
    _COMMON
    + r"""
if redis.call('EXISTS', KEYS[2]) == 0 then return {-2} end
redis.call('SADD', KEYS[3], ARGV[6])
local fid, now, period = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local account, ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
sweep(clock_ms())
local reserved = redis.call('HGET', P .. 'reserved', fid)
if reserved then reserved = tonumber(reserved) else reserved = nil end
-- invocation_rate: 10 x the reservation, else 10 x the account; none for a reservation of 0.
if reserved ~= 0 then
  local capacity, reason = 10 * account, 'FunctionInvocationRateLimitExceeded'
  if reserved then
    capacity, reason = 10 * reserved, 'ReservedFunctionInvocationRateLimitExceeded'
  end
  local function_ok, function_bucket = take(P .. 'rates', 'f:' .. fid, capacity, period, now)
  local account_ok, account_bucket = take(P .. 'rates', '@account', 10 * account, period, now)
  if not function_ok then return {-1, reason} end
  if not account_ok then return {-1, 'FunctionInvocationRateLimitExceeded'} end
  redis.call('HSET', P .. 'rates', 'f:' .. fid, function_bucket, '@account', account_bucket)
end
-- choose_pool: the reservation less what is provisioned, else the unreserved pool.
if reserved then
  local on_demand = num(redis.call('HGET', P .. 'inflight', fid))
    - num(redis.call('HGET', P .. 'pinflight', fid))
  if on_demand < reserved - num(redis.call('HGET', P .. 'provisioned', fid)) then
    return grant(fid, 'reserved', ttl_ms)
  end
  return {-1, 'ReservedFunctionConcurrentInvocationLimitExceeded'}
end
local agg = redis.call('HMGET', P .. 'agg',
  'reserved_total', 'unreserved_provisioned', 'unreserved_on_demand')
if num(agg[3]) < account - num(agg[1]) - num(agg[2]) then
  return grant(fid, 'unreserved', ttl_ms)
end
return {-1, 'ConcurrentInvocationLimitExceeded'}
"""
)

# KEYS: P, the scopes set. ARGV: function id, TTL (ms), the scope's name. -> {lease id, pool}
ADMIT_PROVISIONED = (
    _COMMON
    + r"""
redis.call('SADD', KEYS[2], ARGV[3])
sweep(clock_ms())
return grant(ARGV[1], 'provisioned', tonumber(ARGV[2]))
"""
)

# KEYS: P. ARGV: the lease's member. -> 1 given back, 0 it had expired (and was swept) already
RELEASE = (
    _COMMON
    + r"""
if redis.call('ZREM', P .. 'leases', ARGV[1]) == 0 then return 0 end
local _, pool, fid = parse(ARGV[1])
count_down(fid, pool)
if pool ~= 'provisioned' and redis.call('HEXISTS', P .. 'reserved', fid) == 0 then
  redis.call('HINCRBY', P .. 'agg', 'unreserved_on_demand', -1)
end
return 1
"""
)

# KEYS: P, the scopes set. ARGV: which hash (reserved | provisioned), function id, value ('' none),
# the scope's name.
SET_LIMIT = (
    _COMMON
    + r"""
redis.call('SADD', KEYS[2], ARGV[4])
if ARGV[3] == '' then
  redis.call('HDEL', P .. ARGV[1], ARGV[2])
else
  redis.call('HSET', P .. ARGV[1], ARGV[2], ARGV[3])
end
recompute()
return 1
"""
)

# KEYS: P, the scopes set. ARGV: the scope's name, then (hash, function id, value) triples: what
# the durable store holds, written over what Redis has (after Redis lost its data).
RESTORE = (
    _COMMON
    + r"""
redis.call('SADD', KEYS[2], ARGV[1])
for i = 2, #ARGV, 3 do
  redis.call('HSET', P .. ARGV[i], ARGV[i + 1], ARGV[i + 2])
end
recompute()
return 1
"""
)

# KEYS: P. ARGV: function id, now, capacity, period. -> 1 allowed, 0 throttled
SCALE = (
    _COMMON
    + r"""
local allowed, bucket = take(P .. 'scaling', ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[2]))
redis.call('HSET', P .. 'scaling', ARGV[1], bucket)
if allowed then return 1 end
return 0
"""
)

# KEYS: P. ARGV: TTL (ms), then this process's lease members in the scope.
# -> {members that expired before renewal, inflight pairs, pinflight pairs, reserved pairs}
KEEP = (
    _COMMON
    + r"""
local now_ms = clock_ms()
sweep(now_ms)
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', P .. 'leases', ARGV[i]) then
    redis.call('ZADD', P .. 'leases', 'XX', now_ms + tonumber(ARGV[1]), ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return {lost, redis.call('HGETALL', P .. 'inflight'), redis.call('HGETALL', P .. 'pinflight'),
  redis.call('HGETALL', P .. 'reserved')}
"""
)
