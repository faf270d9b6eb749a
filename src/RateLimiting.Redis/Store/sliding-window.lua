-- One sliding-window decision, atomic because Redis runs a script alone, on one slot because
-- both keys share a hash tag. The scripts Redis runs are this function followed by decide-one.lua
-- (one decision) or decide-batch.lua (every decision queued for one master).
--
-- entries  sorted set of admitted requests: score = admission time (microseconds),
--          member = "<seq>" for cost 1 or "<seq>:<cost>", so memory grows with the number of
--          admitted requests, not with their cost.
-- totals   hash: u = total cost in the window, s = last member sequence number,
--          o = score of the oldest entry. It exists only while the sorted set does.
-- limit    permit limit    window (microseconds)    cost (0 = peek)
-- now_text now (microseconds) as text, from the caller's clock or the Redis server's.
-- state    the totals' fields u, s and o, already read (HMGET).
-- Returns  { reason (0 allowed, 1 quota exceeded, 2 cost exceeds limit),
--            cost used in the window after this decision,
--            retry after (microseconds), time until the oldest entry leaves (microseconds) }
--
-- Cost: every redis.call costs about a microsecond of dispatch, and every Lua number passed to
-- Redis is printed with "%.17g" (slow); an admission makes five calls (TIME, HMGET, PTTL,
-- ZADD, HSET) and passes the time as the text it came in. Writes are what replicas replay, so
-- the TTLs are extended only when less than a window is left, by a quarter window more.
local function server_now_text()
  local time = redis.call('TIME')
  return time[1] .. string.rep('0', 6 - #time[2]) .. time[2]
end

-- An entry's sequence number and cost.
local function parse(member)
  local sep = string.find(member, ':', 1, true)
  if sep then
    return tonumber(string.sub(member, 1, sep - 1)), tonumber(string.sub(member, sep + 1))
  end
  return tonumber(member), 1
end

local function decide(entries, totals, limit, window, cost, now_text, state)
  local now = tonumber(now_text)
  local expired_at_or_before = now - window
  local used, seq, oldest = tonumber(state[1]), tonumber(state[2]), state[3]
  -- Whether the totals no longer describe the entries and must be written, admitted or not.
  local trimmed = false
  -- Whether the totals were rebuilt: the hash is then new and has no TTL yet.
  local rebuilt = false

  local function read_oldest()
    local first = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
    return first[2]
  end

  if used == nil then
    -- First use, or the totals were lost (eviction): rebuild them from the entries themselves.
    -- Nothing is written unless this request is admitted.
    used, seq, oldest, rebuilt = 0, 0, nil, true
    local all = redis.call('ZRANGE', entries, 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      local member_seq, member_cost = parse(all[i])
      if tonumber(all[i + 1]) > expired_at_or_before then
        oldest = oldest or all[i + 1]
        used = used + member_cost
      end
      if member_seq > seq then seq = member_seq end
    end
    if #all > 0 and oldest ~= all[2] then
      redis.call('ZREMRANGEBYSCORE', entries, '-inf', expired_at_or_before)
    end
  else
    if not oldest then
      -- Totals written before the oldest entry was kept with them.
      oldest = read_oldest()
    end
    if oldest and tonumber(oldest) <= expired_at_or_before then
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', entries, '-inf', expired_at_or_before)) do
        local _, member_cost = parse(member)
        used = used - member_cost
      end
      redis.call('ZREMRANGEBYSCORE', entries, '-inf', expired_at_or_before)
      oldest = read_oldest()
      trimmed = true
    end
    if not oldest then
      -- No entries (expired, or lost): nothing is in the window.
      used = 0
    end
  end

  local function until_oldest_leaves()
    if not oldest then return 0 end
    return tonumber(oldest) + window - now
  end

  local function save()
    if oldest then
      redis.call('HSET', totals, 'u', used, 's', seq, 'o', oldest)
    else
      -- The window is empty: the entries are gone, and so go the totals.
      redis.call('DEL', totals)
    end
  end

  if cost > limit then
    if trimmed then save() end
    return { 2, used, 0, until_oldest_leaves() }
  end

  if used + cost <= limit then
    if cost > 0 then
      seq = seq + 1
      local member = seq
      if cost ~= 1 then member = seq .. ':' .. cost end
      local was_empty = not oldest
      redis.call('ZADD', entries, now_text, member)
      used = used + cost
      if was_empty then oldest = now_text end
      save()
      -- Both keys must outlive the newest entry by a window.
      local ttl = math.ceil(window / 1000)
      if rebuilt or was_empty or redis.call('PTTL', entries) < ttl then
        local extended = ttl + math.ceil(ttl / 4)
        redis.call('PEXPIRE', entries, extended)
        redis.call('PEXPIRE', totals, extended)
      end
    elseif trimmed then
      save()
    end
    return { 0, used, 0, until_oldest_leaves() }
  end

  if trimmed then save() end

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
end
