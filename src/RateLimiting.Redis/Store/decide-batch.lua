-- Every decision queued for one master, in arrival order, each decided as decide-one.lua decides
-- it. Runs with allow-cross-slot-keys: the decisions' keys are of many slots, all served by this
-- node, and passed as arguments, not KEYS.
-- ARGV     per decision: entries, totals, and the block state when its policy blocks (a key name,
--          never a number), the number of its arguments, then its arguments as decide-one.lua has
--          them (the server's clock is read once for the batch).
-- Returns  seven integers per decision, as decide-one.lua does, or { -1, 0, 0, 0, 0, 0, 0 } for a
--          decision whose keys this node does not serve now (its slot moved, or is migrating and
--          the keys are not all here): such a decision read nothing and wrote nothing, and is
--          decided alone.
-- Every key is asked for with pcall before anything is written: an error raised later, after
-- earlier decisions were written, would lose their verdicts.
local replies = {}
local i = 1
while i <= #ARGV do
  local entries, totals = ARGV[i], ARGV[i + 1]
  local width, block = tonumber(ARGV[i + 2]), nil
  local first = i + 3
  if not width then
    block, width, first = ARGV[i + 2], tonumber(ARGV[i + 3]), i + 4
  end
  local present = block and redis.pcall('EXISTS', entries, totals, block) or redis.pcall('EXISTS', entries, totals)
  local verdict
  if type(present) == 'table' and present.err ~= nil then
    verdict = { -1, 0, 0, 0, 0, 0, 0 }
  elseif block then
    verdict = decide_blocking(entries, totals, block, ARGV, first, (width - 5) / 2)
  else
    verdict = decide(entries, totals, ARGV, first, (width - 2) / 2)
  end
  for j = 1, 7 do
    replies[#replies + 1] = verdict[j]
  end
  i = first + width
end
return replies
