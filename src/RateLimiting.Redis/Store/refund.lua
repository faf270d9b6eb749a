-- Takes one admission back. KEYS[1] entries, KEYS[2] totals.
-- ARGV: the admission's sequence number, its cost, then the windows as decide-one.lua has them.
-- Returns { 1 } when it was taken back, { 0 } when it had left the window already.
return { refund(KEYS[1], KEYS[2], ARGV, 1, (#ARGV - 2) / 2) }
