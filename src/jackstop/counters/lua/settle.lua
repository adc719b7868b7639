-- Turn one request's reservation into its actual cost, atomically.
-- A budget whose lease already ended was counted at the full cost then: it is left alone
-- (reply '' for it), so a late settle never counts a request twice.
-- Replies: {0, i...} budgets to seed first | {1, spent before settling or '' per budget}.

local miss = missing()
if #miss > 0 then
  table.insert(miss, 1, 0)
  return miss
end

local out = {1}
for _, b in ipairs(budgets) do
  local existed = redis.call('EXISTS', b.hash) == 1
  local mine = redis.call('ZREM', b.leases, A.res_cost .. ':' .. A.lease) == 1
  local before = load(b)
  if mine or b.force or not existed then -- a counter lost with Redis still gets this cost
    if mine then redis.call('HINCRBY', b.hash, 'r', neg(A.res_cost)) end
    add(b, A.cost)
    out[#out + 1] = before
  else
    out[#out + 1] = ''
  end
  refresh(b)
end

for _, r in ipairs(rates) do
  if r.kind == 'tpm' then
    local member = A.res_tokens .. ':' .. A.lease
    local at = redis.call('ZSCORE', r.key, member)
    if at and tonumber(at) > tonumber(A.cutoff) then -- still in the window: correct it
      redis.call('ZREM', r.key, member)
      redis.call('ZADD', r.key, at, A.tokens .. ':' .. A.lease)
      redis.call('INCRBY', r.total, tonumber(A.tokens) - tonumber(A.res_tokens))
      touch_rate(r)
    end
  elseif r.kind == 'concurrency' then
    redis.call('ZREM', r.key, A.lease)
  end
end
return out
