-- (spent, reserved) of each budget, after counting leases that ended unsettled.
-- Replies: {0, i...} budgets to seed first | {1, spent, reserved, spent, reserved, ...}.

local miss = missing()
if #miss > 0 then
  table.insert(miss, 1, 0)
  return miss
end

local out = {1}
for _, b in ipairs(budgets) do
  local spent, reserved = load(b)
  out[#out + 1] = spent
  out[#out + 1] = reserved
  refresh(b)
end
return out
