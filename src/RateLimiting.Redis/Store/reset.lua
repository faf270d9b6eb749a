-- Clears a partition: its entries, its totals and its penalty block, then tells every instance
-- (PUBLISH reaches every node of a cluster) that a partition of the policy was reset, so that
-- their over-limit caches forget what they remember of that policy.
-- KEYS: entries, totals, block state. ARGV: the channel, the policy name.
-- Returns { the number of keys that existed }.
local removed = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return { removed }
