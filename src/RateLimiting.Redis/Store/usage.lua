-- A partition's usage, read without writing (the no-writes flag): decisions are unchanged by it.
-- KEYS[1] entries, KEYS[2] its block state, KEYS[3] its temporary limit. ARGV: now (as
-- decide-one.lua has it), then a (permit limit, window) pair per window, windows ascending.
-- Returns  per window, the cost counted in it (what a decision at this time would count) and the
--          time until its oldest counted entry leaves it (microseconds, 0 when empty); then the
--          time left of a penalty block (microseconds, 0 when none), the temporary limit of the
--          longest window (0 when none) and its time left (microseconds).
local count = (#ARGV - 1) / 2
local now = tonumber(now_of(ARGV[1]))
if count > 1 then
  -- As decide does with several windows: a partition's time never runs backwards.
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
  if newest and tonumber(newest) > now then now = tonumber(newest) end
end
local longest = tonumber(ARGV[2 * count + 1])
local list = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now - longest), '+inf', 'WITHSCORES')
local reply = {}
for i = 1, count do
  local window = tonumber(ARGV[2 * i + 1])
  local used, first = 0, nil
  for j = 1, #list, 2 do
    local score = tonumber(list[j + 1])
    if score > now - window then
      first = first or score
      local _, cost = parse(list[j])
      used = used + cost
    end
  end
  reply[#reply + 1] = used
  reply[#reply + 1] = first and first + window - now or 0
end
local block = redis.call('GET', KEYS[2])
local left = 0
if block and string.byte(block, 1) == 66 then left = math.max(0, tonumber(string.sub(block, 2)) - now) end
reply[#reply + 1] = left
local limit, ends = temporary_limit(KEYS[3], now)
reply[#reply + 1] = limit or 0
reply[#reply + 1] = limit and ends - now or 0
return reply
