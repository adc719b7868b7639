-- One admission, all or nothing: check every rate limit and every budget; only if all pass,
-- reserve the cost in every budget (with a lease), and take a slot in every rate limit.
-- Replies: {0, i...} budgets to seed first | {1, 0, '', states} admitted |
--          {2, i, detail, states} rate i refused | {3, i, spent, reserved} budget i refused.

local miss = missing()
if #miss > 0 then
  table.insert(miss, 1, 0)
  return miss
end

-- A call retried after its reply was lost finds its own reservation (the lease id is unique
-- to one admission): it was admitted.
local mine
if #budgets > 0 then
  mine = redis.call('ZSCORE', budgets[1].leases, A.cost .. ':' .. A.lease)
elseif #rates > 0 then
  local r = rates[1]
  mine = redis.call('ZSCORE', r.key, (r.kind == 'tpm' and (A.tokens .. ':') or '') .. A.lease)
end
if mine then return rate_states({1, 0, ''}) end

for _, r in ipairs(rates) do purge(r) end
local want = tonumber(A.tokens)
for i, r in ipairs(rates) do
  local detail = nil
  if r.kind == 'rpm' then
    if redis.call('ZCARD', r.key) >= r.limit then
      detail = redis.call('ZRANGE', r.key, 0, 0, 'WITHSCORES')[2] or 'never' -- a limit of 0
    end
  elseif r.kind == 'tpm' then
    local used = tonumber(redis.call('GET', r.total) or '0')
    if want > r.limit then
      detail = 'never'
    elseif used + want > r.limit then
      -- when will enough of the window's tokens have left it?
      local need, freed = used + want - r.limit, 0
      detail = ''
      local entries = redis.call('ZRANGE', r.key, 0, -1, 'WITHSCORES')
      for j = 1, #entries, 2 do
        freed = freed + amount_of(entries[j])
        if freed >= need then
          detail = entries[j + 1]
          break
        end
      end
    end
  elseif redis.call('ZCARD', r.key) >= r.limit then
    detail = ''
  end
  if detail then return rate_states({2, i, detail}) end
end

local refused = nil
for i, b in ipairs(budgets) do
  local spent, reserved = load(b)
  if not refused and not fits(spent, reserved, A.cost, b.cap) then
    refused = {3, i, spent, reserved}
  end
end
if refused then
  for _, b in ipairs(budgets) do refresh(b) end
  return refused
end

local member = A.cost .. ':' .. A.lease
for _, b in ipairs(budgets) do
  redis.call('HINCRBY', b.hash, 'r', A.cost)
  redis.call('ZADD', b.leases, A.deadline, member)
  refresh(b)
end
for _, r in ipairs(rates) do
  if r.kind == 'rpm' then
    redis.call('ZADD', r.key, A.now, A.lease)
    touch_rate(r)
  elseif r.kind == 'tpm' then
    redis.call('ZADD', r.key, A.now, A.tokens .. ':' .. A.lease)
    redis.call('INCRBY', r.total, A.tokens)
    touch_rate(r)
  else
    redis.call('ZADD', r.key, A.deadline, A.lease)
    if redis.call('TTL', r.key) < tonumber(A.slot_ttl) then redis.call('EXPIRE', r.key, A.slot_ttl) end
  end
end
return rate_states({1, 0, ''})
