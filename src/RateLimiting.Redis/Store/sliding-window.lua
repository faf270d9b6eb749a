-- One sliding-window decision, atomic because Redis runs a script alone, on one slot because
-- both keys share a hash tag.
--
-- KEYS[1]  sorted set of admitted requests: score = admission time (microseconds),
--          member = "<seq>" for cost 1 or "<seq>:<cost>", so memory grows with the number of
--          admitted requests, not with their cost.
-- KEYS[2]  hash: u = total cost in the window, s = last member sequence number.
-- ARGV[1]  permit limit    ARGV[2] window (microseconds)    ARGV[3] cost (0 = peek)
-- ARGV[4]  now (microseconds) from the caller's clock, or "" to use the Redis server's clock, so
--          that application instances never need to agree on the time.
-- Returns  { reason (0 allowed, 1 quota exceeded, 2 cost exceeds limit),
--            cost used in the window after this decision,
--            retry after (microseconds), time until the oldest entry leaves (microseconds) }
local entries, totals = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = ARGV[4] and tonumber(ARGV[4])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

local function parse(member)
  local sep = string.find(member, ':', 1, true)
  if sep then
    return tonumber(string.sub(member, 1, sep - 1)), tonumber(string.sub(member, sep + 1))
  end
  return tonumber(member), 1
end

local expired_at_or_before = now - window
local stored_used = redis.call('HGET', totals, 'u')
local used = tonumber(stored_used)
local expired = redis.call('ZRANGEBYSCORE', entries, '-inf', expired_at_or_before)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', entries, '-inf', expired_at_or_before)
end

-- Set when the totals are rebuilt: the highest sequence number still in use.
local rebuilt_seq = nil
if used == nil then
  -- First use, or the totals were lost (eviction): rebuild them from the entries themselves,
  -- writing nothing unless this request is admitted (a write here would lack a TTL).
  used = 0
  rebuilt_seq = 0
  for _, member in ipairs(redis.call('ZRANGE', entries, 0, -1)) do
    local seq, member_cost = parse(member)
    used = used + member_cost
    if seq > rebuilt_seq then rebuilt_seq = seq end
  end
elseif #expired > 0 then
  for _, member in ipairs(expired) do
    local _, member_cost = parse(member)
    used = used - member_cost
  end
  redis.call('HSET', totals, 'u', used)
end

local function until_oldest_leaves()
  local oldest = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
  if #oldest == 0 then return 0 end
  return tonumber(oldest[2]) + window - now
end

if cost > limit then
  return { 2, used, 0, until_oldest_leaves() }
end

if used + cost <= limit then
  if cost > 0 then
    local seq
    if rebuilt_seq then
      seq = rebuilt_seq + 1
      redis.call('HSET', totals, 's', seq)
    else
      seq = redis.call('HINCRBY', totals, 's', 1)
    end
    local member = tostring(seq)
    if cost ~= 1 then member = member .. ':' .. cost end
    redis.call('ZADD', entries, now, member)
    used = used + cost
    redis.call('HSET', totals, 'u', used)
    local ttl = math.ceil(window / 1000)
    redis.call('PEXPIRE', entries, ttl)
    redis.call('PEXPIRE', totals, ttl)
  end
  return { 0, used, 0, until_oldest_leaves() }
end

-- Rejected, recording nothing: the request fits once enough of the oldest entries have left.
local needed = used + cost - limit
local retry_after = 0
local offset = 0
while needed > 0 do
  local batch = redis.call('ZRANGE', entries, offset, offset + 63, 'WITHSCORES')
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local _, member_cost = parse(batch[i])
    needed = needed - member_cost
    if needed <= 0 then
      retry_after = tonumber(batch[i + 1]) + window - now
      break
    end
  end
  offset = offset + 64
end
return { 1, used, retry_after, until_oldest_leaves() }
