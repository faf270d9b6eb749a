-- One decision. KEYS[1] entries, KEYS[2] totals (one hash tag, so one slot), and KEYS[3] the
-- partition's block state when its policy blocks. The temporary limit beside them (…:o, of the same
-- hash tag) is read by name, and only where the totals are flagged.
-- ARGV: now (microseconds, or 0 for the Redis server's clock, so that application instances
-- never need to agree on the time), cost, then a (permit limit, window) pair per window, then with
-- KEYS[3] the block's three arguments (decide_blocking).
-- Returns the decision's seven integers.
if KEYS[3] then
  return decide_blocking(KEYS[1], KEYS[2], KEYS[3], ARGV, 1, (#ARGV - 5) / 2)
end
return decide(KEYS[1], KEYS[2], ARGV, 1, (#ARGV - 2) / 2)
