-- Every decision queued for one master, in arrival order, each decided as decide-one.lua decides
-- it. Runs with allow-cross-slot-keys: the decisions' keys are of many slots, all served by this
-- node, and passed as arguments, not KEYS; KEYS[1] is one of them, which the client routes by.
-- ARGV     six per decision: entries, totals, permit limit, window (microseconds), cost,
--          now (microseconds, or empty for the Redis server's clock, read once for the batch).
-- Returns  four integers per decision, as decide-one.lua does, or { -1, 0, 0, 0 } for a decision
--          whose keys this node does not serve now (its slot moved, or is migrating and the keys
--          are not all here): such a decision read nothing and wrote nothing, and is decided alone.
-- Both keys are asked for with pcall before anything is written: an error raised later, after
-- earlier decisions were written, would lose their verdicts.
local function failed(reply)
  return type(reply) == 'table' and reply.err ~= nil
end

local replies = {}
local server_now
for i = 1, #ARGV, 6 do
  local entries, totals = ARGV[i], ARGV[i + 1]
  local state = redis.pcall('HMGET', totals, 'u', 's', 'o')
  local verdict
  if failed(state) or failed(redis.pcall('EXISTS', entries)) then
    verdict = { -1, 0, 0, 0 }
  else
    local now_text = ARGV[i + 5]
    if now_text == '' then
      server_now = server_now or server_now_text()
      now_text = server_now
    end
    verdict = decide(entries, totals, tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), now_text, state)
  end
  for j = 1, 4 do
    replies[#replies + 1] = verdict[j]
  end
end
return replies
