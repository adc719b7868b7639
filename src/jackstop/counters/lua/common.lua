-- Shared head of the admit, settle and spent scripts (jackstop.counters.redis prepends it).
--
-- Money is integer nano-USD. It is stored by Redis as 64-bit integers and changed only with
-- HINCRBY, whose arguments are passed through as decimal strings, so Lua (whose numbers are
-- doubles, exact only to 2^53) never adds two amounts itself; `fits` compares a sum with a cap
-- in two halves that are each exact. Times and bucket starts come from the caller as strings.
--
-- ARGV: now, deadline, cutoff (now - 60), bucket (current hour start), seeding ('1'/'0'),
--       number of budgets, number of rates, lease id (unique to one admission), cost, tokens,
--       reserved cost, reserved tokens, in-flight TTL; then per budget: cap, first live bucket ('' unless
--       rolling), TTL (0: none), force ('1': count even without a lease); per rate: kind, limit.
-- KEYS: per budget: hash (s spent, r reserved, h<bucket>, lo), lease zset; per rate: its
--       window zset, and for tpm also its token-total key.

local A = {
  now = ARGV[1], deadline = ARGV[2], cutoff = ARGV[3], bucket = ARGV[4], seeding = ARGV[5] == '1',
  lease = ARGV[8], cost = ARGV[9], tokens = ARGV[10], res_cost = ARGV[11], res_tokens = ARGV[12],
  slot_ttl = ARGV[13],
}
local budgets, rates = {}, {}
do
  local k, a = 1, 14
  for i = 1, tonumber(ARGV[6]) do
    budgets[i] = {hash = KEYS[k], leases = KEYS[k + 1], cap = ARGV[a], first = ARGV[a + 1],
                  ttl = tonumber(ARGV[a + 2]), force = ARGV[a + 3] == '1'}
    k, a = k + 2, a + 4
  end
  for i = 1, tonumber(ARGV[7]) do
    local r = {kind = ARGV[a], limit = tonumber(ARGV[a + 1]), key = KEYS[k]}
    k, a = k + 1, a + 2
    if r.kind == 'tpm' then
      r.total = KEYS[k]
      k = k + 1
    end
    rates[i] = r
  end
end

local RATE_TTL = 120 -- seconds a rate window's keys outlive their last write

local function neg(s)
  if s == '0' then return '0' end
  if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end
  return '-' .. s
end

-- s = hi * 10^9 + lo; each half of a 64-bit integer is exact as a double.
local function halves(s)
  local sign = 1
  if string.sub(s, 1, 1) == '-' then
    sign, s = -1, string.sub(s, 2)
  end
  local n = #s
  if n <= 9 then return 0, sign * tonumber(s) end
  return sign * tonumber(string.sub(s, 1, n - 9)), sign * tonumber(string.sub(s, n - 8))
end

local function normal(hi, lo)
  return hi + math.floor(lo / 1e9), lo % 1e9
end

-- a + b + c <= cap, exactly, for decimal integer strings
local function fits(a, b, c, cap)
  local ah, al = halves(a)
  local bh, bl = halves(b)
  local ch, cl = halves(c)
  local hi, lo = normal(ah + bh + ch, al + bl + cl)
  local kh, kl = normal(halves(cap))
  return hi < kh or (hi == kh and lo <= kl)
end

-- Budgets whose counter is not in Redis yet; the caller seeds them from the ledger and retries.
local function missing()
  local out = {}
  if A.seeding then
    for i, b in ipairs(budgets) do
      if redis.call('EXISTS', b.hash) == 0 then out[#out + 1] = i end
    end
  end
  return out
end

-- Count settled spend now (rolling windows: in the current hourly bucket too).
local function add(b, amount)
  redis.call('HINCRBY', b.hash, 's', amount)
  if b.first ~= '' then
    redis.call('HINCRBY', b.hash, 'h' .. A.bucket, amount)
    local lo = redis.call('HGET', b.hash, 'lo')
    if not lo or tonumber(lo) > tonumber(A.bucket) then redis.call('HSET', b.hash, 'lo', A.bucket) end
  end
end

-- Settle leases that ended unsettled at their full cost, drop rolling buckets that left the
-- window; then return (spent, reserved).
local function load(b)
  local gone = redis.call('ZRANGEBYSCORE', b.leases, '-inf', A.now)
  if #gone > 0 then
    for _, member in ipairs(gone) do
      local amount = string.match(member, '^(%d+):')
      redis.call('HINCRBY', b.hash, 'r', neg(amount))
      add(b, amount)
    end
    redis.call('ZREMRANGEBYSCORE', b.leases, '-inf', A.now)
  end
  if b.first ~= '' then
    local lo = redis.call('HGET', b.hash, 'lo')
    if lo and tonumber(lo) < tonumber(b.first) then
      local first, oldest = tonumber(b.first), nil
      local all = redis.call('HGETALL', b.hash)
      for i = 1, #all, 2 do
        local field = all[i]
        if string.sub(field, 1, 1) == 'h' then
          local start = tonumber(string.sub(field, 2))
          if start < first then
            redis.call('HDEL', b.hash, field)
            redis.call('HINCRBY', b.hash, 's', neg(all[i + 1]))
          elseif not oldest or start < oldest then
            oldest = start
          end
        end
      end
      if oldest then
        redis.call('HSET', b.hash, 'lo', string.format('%.0f', oldest))
      else
        redis.call('HDEL', b.hash, 'lo')
      end
    end
  end
  local v = redis.call('HMGET', b.hash, 's', 'r')
  return v[1] or '0', v[2] or '0'
end

local function refresh(b)
  if b.ttl > 0 then
    redis.call('EXPIRE', b.hash, b.ttl)
    redis.call('EXPIRE', b.leases, b.ttl)
  end
end

local function touch_rate(r)
  redis.call('EXPIRE', r.key, RATE_TTL)
  if r.total then redis.call('EXPIRE', r.total, RATE_TTL) end
end

-- Members of a tpm window are "tokens:lease id"; of a lease zset "cost:lease id".
local function amount_of(member)
  return tonumber(string.match(member, '^(%d+):'))
end

-- Forget rate-window entries that left the minute, and in-flight slots whose lease ended.
local function purge(r)
  if r.kind == 'rpm' then
    redis.call('ZREMRANGEBYSCORE', r.key, '-inf', A.cutoff)
  elseif r.kind == 'tpm' then
    local gone = redis.call('ZRANGEBYSCORE', r.key, '-inf', A.cutoff)
    if #gone > 0 then
      local freed = 0
      for _, member in ipairs(gone) do freed = freed + amount_of(member) end
      redis.call('ZREMRANGEBYSCORE', r.key, '-inf', A.cutoff)
      if redis.call('ZCARD', r.key) == 0 then
        redis.call('DEL', r.total)
      else
        redis.call('DECRBY', r.total, freed)
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', r.key, '-inf', A.now)
  end
end

-- Appends each rate's (used, oldest entry time or '') to `out`.
local function rate_states(out)
  for _, r in ipairs(rates) do
    local used, oldest = '0', ''
    if r.kind == 'tpm' then
      used = redis.call('GET', r.total) or '0'
    else
      used = tostring(redis.call('ZCARD', r.key))
    end
    if r.kind ~= 'concurrency' then
      local head = redis.call('ZRANGE', r.key, 0, 0, 'WITHSCORES')
      if #head > 0 then oldest = head[2] end
    end
    out[#out + 1] = used
    out[#out + 1] = oldest
  end
  return out
end
