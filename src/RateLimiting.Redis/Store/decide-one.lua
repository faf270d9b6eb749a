-- One decision. KEYS[1] entries, KEYS[2] totals (one hash tag, so one slot).
-- ARGV: now (microseconds, or 0 for the Redis server's clock, so that application instances
-- never need to agree on the time), cost, then a (permit limit, window) pair per window.
-- Returns the decision's six integers.
return decide(KEYS[1], KEYS[2], ARGV, 1, (#ARGV - 2) / 2)
