-- One decision. KEYS[1] entries, KEYS[2] totals (one hash tag, so one slot).
-- ARGV[1] permit limit    ARGV[2] window (microseconds)    ARGV[3] cost (0 = peek)
-- ARGV[4] now (microseconds) from the caller's clock, or absent to use the Redis server's clock,
--         so that application instances never need to agree on the time.
-- Returns the decision's four integers.
local entries, totals = KEYS[1], KEYS[2]
return decide(entries, totals, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  ARGV[4] or server_now_text(), redis.call('HMGET', totals, 'u', 's', 'o'))
