-- Start budget counters from the ledger, only where no gateway has started them yet, so two
-- gateways seeding at once count the ledger once.
-- KEYS: budget hashes. ARGV: per key: spent, bucket ('' unless rolling), TTL (0: none).
-- Reply: how many counters this call started.

local started = 0
for i, key in ipairs(KEYS) do
  local a = (i - 1) * 3
  local spent, bucket, ttl = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 's', spent, 'r', '0')
    if bucket ~= '' then redis.call('HSET', key, 'h' .. bucket, spent, 'lo', bucket) end
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    started = started + 1
  end
end
return started
