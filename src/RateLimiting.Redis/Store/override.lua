-- Sets or clears a partition's temporary limit for its longest window, then tells every instance,
-- as reset.lua does, so that over-limit caches forget rejections made under the previous limit.
-- KEYS: totals, the temporary limit (…:o). ARGV: now (as decide-one.lua has it), the limit (0
-- clears it), its duration (microseconds), the channel, the policy name.
-- Returns { 1 } when a limit was set or cleared, { 0 } when there was none to clear.
local limit = tonumber(ARGV[2])
local changed
if limit == 0 then
  changed = redis.call('DEL', KEYS[2])
else
  local now, duration = tonumber(now_of(ARGV[1])), tonumber(ARGV[3])
  redis.call('SET', KEYS[2], limit .. ':' .. string.format('%d', now + duration), 'PX', math.ceil(duration / 1000))
  -- Decisions read the limit only where the totals are flagged, or absent (then written flagged).
  flag_totals(KEYS[1])
  changed = 1
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return { changed }
