-- One partition's sliding-window decision over one or more windows, atomic because Redis runs a
-- script alone, on one slot because both keys share a hash tag. The scripts Redis runs are these
-- functions followed by decide-one.lua (one decision), decide-batch.lua (every decision queued for
-- one master) or refund.lua (taking one admission back).
--
-- entries  sorted set of admitted requests: score = admission time (microseconds),
--          member = "<seq>" for cost 1 or "<seq>:<cost>". It holds the longest window only, so
--          memory grows with the requests admitted in that window, whatever their cost, and
--          whatever the number of windows.
-- totals   hash, which exists only while the sorted set does. For the longest window:
--          u = total cost, o = score of the oldest entry; s = last member sequence number.
--          With several windows also w = the shorter windows' lengths, which tells whether the
--          next fields describe these windows (a reload may change them), n = score of the newest
--          entry, and u1, o1, u2, o2, ... for each shorter window, shortest first: its total cost
--          and the score of its oldest counted entry ('' when it counts none).
-- Arguments, from argv[at]: now (microseconds, as text; '0' for the Redis server's clock), cost
--          (0 = peek), then one (permit limit, window in microseconds) pair per window, windows
--          ascending: the last is the longest.
-- Returns  { reason (0 allowed, 1 quota exceeded, 2 cost exceeds limit),
--            reported window (0-based: the one with the least remaining, the longer on a tie),
--            cost used in it after this decision, retry after (microseconds: until every window
--            has room), time until its oldest entry leaves (microseconds),
--            sequence number of the admission (0 when nothing was recorded) }
--
-- Cost: every redis.call costs about a microsecond of dispatch, and every Lua number passed to
-- Redis is printed with "%.17g" (slow); a one-window admission makes five calls (HMGET, PTTL,
-- ZADD, HSET, and TIME unless the caller gives the time) and passes the time as the text it came
-- in. Writes are what replicas replay, so the TTLs are extended only when less than a window is
-- left, by a quarter window more.
local server_now
local function now_of(text)
  if text ~= '0' then return text end
  if not server_now then
    local time = redis.call('TIME')
    server_now = time[1] .. string.rep('0', 6 - #time[2]) .. time[2]
  end
  return server_now
end

-- An entry's sequence number and cost.
local function parse(member)
  local sep = string.find(member, ':', 1, true)
  if sep then
    return tonumber(string.sub(member, 1, sep - 1)), tonumber(string.sub(member, sep + 1))
  end
  return tonumber(member), 1
end

local function member_of(seq, cost)
  if cost == 1 then return seq end
  return seq .. ':' .. cost
end

local function score_or_nil(value)
  if not value or value == '' then return nil end
  return value
end

-- The totals' fields a decision reads, in order: u s o w, then n u1 o1 u2 o2 ... with several
-- windows. Spelled out for one and two windows: building the list costs more than the read.
local function read_state(totals, count)
  if count == 1 then return redis.call('HMGET', totals, 'u', 's', 'o', 'w') end
  if count == 2 then return redis.call('HMGET', totals, 'u', 's', 'o', 'w', 'n', 'u1', 'o1') end
  local fields = { 'u', 's', 'o', 'w', 'n' }
  for i = 1, count - 1 do
    fields[#fields + 1] = 'u' .. i
    fields[#fields + 1] = 'o' .. i
  end
  return redis.call('HMGET', totals, unpack(fields))
end

-- The shorter windows' lengths as the caller sent them: '' with one window.
local function signature_of(argv, at, count)
  if count == 1 then return '' end
  if count == 2 then return argv[at + 3] end
  local lengths = {}
  for i = 1, count - 1 do
    lengths[i] = argv[at + 2 * i + 1]
  end
  return table.concat(lengths, ',')
end

-- Walks the entries from score `from` on, in batches: calls visit(score, cost) for each until it returns true.
local function walk(entries, from, visit)
  local offset = 0
  while true do
    local batch = redis.call('ZRANGEBYSCORE', entries, from, '+inf', 'WITHSCORES', 'LIMIT', offset, 64)
    for i = 1, #batch, 2 do
      local _, cost = parse(batch[i])
      if visit(tonumber(batch[i + 1]), cost, batch[i + 1]) then return end
    end
    if #batch < 128 then return end
    offset = offset + 64
  end
end

local function decide(entries, totals, argv, at, count)
  local now_text = now_of(argv[at])
  local now = tonumber(now_text)
  local cost = tonumber(argv[at + 1])
  local limits, windows, smallest = {}, {}, nil
  for i = 1, count do
    limits[i], windows[i] = tonumber(argv[at + 2 * i]), tonumber(argv[at + 2 * i + 1])
    if not smallest or limits[i] < smallest then smallest = limits[i] end
  end
  local limit, window = limits[count], windows[count]

  local state = read_state(totals, count)
  local used, seq, oldest = tonumber(state[1]), tonumber(state[2]), score_or_nil(state[3])
  local signature = signature_of(argv, at, count)
  -- The hash exists, with a TTL: it may be written without an admission.
  local exists = used ~= nil
  -- Whether the longest window's totals no longer describe the entries and must be written.
  local trimmed = false
  -- Whether the totals were rebuilt: the hash is then new and has no TTL yet.
  local rebuilt = false
  -- Whether the shorter windows' or the window list's fields changed and must be written.
  local dirty = exists and count == 1 and score_or_nil(state[4]) ~= nil

  -- The shorter windows, read before the longest window's expired entries are removed.
  local shorter_used, shorter_oldest = {}, {}
  -- The entries, read once when the totals cannot be used as they are.
  local all
  if count > 1 then
    -- Whether the fields describe these windows: not on first use, after a reload changed the
    -- windows, or when the totals were lost; they are then counted from the entries.
    local valid = exists and score_or_nil(state[4]) == signature and tonumber(state[6]) ~= nil
    local newest
    if valid then
      newest = score_or_nil(state[5])
    else
      all = redis.call('ZRANGE', entries, 0, -1, 'WITHSCORES')
      newest = all[#all]
    end
    -- A partition's time never runs backwards (a failover to a master whose clock is behind),
    -- so that every entry is counted from its own score on.
    if newest and tonumber(newest) > now then now, now_text = tonumber(newest), newest end
    for i = 1, count - 1 do
      local expired_at_or_before = now - windows[i]
      local window_used, window_oldest
      if all then
        window_used, dirty = 0, exists
        for j = 1, #all, 2 do
          if tonumber(all[j + 1]) > expired_at_or_before then
            local _, member_cost = parse(all[j])
            window_oldest = window_oldest or all[j + 1]
            window_used = window_used + member_cost
          end
        end
      else
        window_used, window_oldest = tonumber(state[4 + 2 * i]), score_or_nil(state[5 + 2 * i])
        if window_oldest and tonumber(window_oldest) <= expired_at_or_before then
          dirty = true
          if newest and tonumber(newest) <= expired_at_or_before then
            -- Everything it counted has left it, the newest entry included: nothing to read.
            window_oldest = nil
          else
            local next_oldest
            walk(entries, window_oldest, function(score, member_cost, text)
              if score > expired_at_or_before then
                next_oldest = text
                return true
              end
              window_used = window_used - member_cost
            end)
            window_oldest = next_oldest
          end
        end
      end
      if not window_oldest then window_used = 0 end
      shorter_used[i], shorter_oldest[i] = window_used, window_oldest
    end
  end

  local expired_at_or_before = now - window
  if used == nil then
    -- First use, or the totals were lost (eviction): rebuild them from the entries themselves.
    -- Nothing is written unless this request is admitted.
    used, seq, oldest, rebuilt = 0, 0, nil, true
    all = all or redis.call('ZRANGE', entries, 0, -1, 'WITHSCORES')
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
      local first = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
      oldest = first[2]
    end
    if oldest and tonumber(oldest) <= expired_at_or_before then
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', entries, '-inf', expired_at_or_before)) do
        local _, member_cost = parse(member)
        used = used - member_cost
      end
      redis.call('ZREMRANGEBYSCORE', entries, '-inf', expired_at_or_before)
      local first = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
      oldest = first[2]
      trimmed = true
    end
    if not oldest then
      -- No entries (expired, or lost): nothing is in any window.
      used = 0
      for i = 1, count - 1 do
        shorter_used[i], shorter_oldest[i] = 0, nil
      end
    end
  end

  -- Every window as one list, shortest first.
  local all_used, all_oldest = shorter_used, shorter_oldest
  all_used[count], all_oldest[count] = used, oldest

  local function save()
    if not all_oldest[count] then
      -- The window is empty: the entries are gone, and so go the totals.
      redis.call('DEL', totals)
      return
    end
    if count == 1 then
      redis.call('HSET', totals, 'u', all_used[1], 's', seq, 'o', all_oldest[1])
      if score_or_nil(state[4]) then
        -- Several windows before a reload: their fields no longer describe anything.
        redis.call('HDEL', totals, 'w')
      end
      return
    end
    if count == 2 then
      redis.call('HSET', totals, 'u', all_used[2], 's', seq, 'o', all_oldest[2], 'w', signature, 'n', now_text, 'u1', all_used[1], 'o1', all_oldest[1] or '')
      return
    end
    local values = { 'u', all_used[count], 's', seq, 'o', all_oldest[count], 'w', signature, 'n', now_text }
    for i = 1, count - 1 do
      values[#values + 1] = 'u' .. i
      values[#values + 1] = all_used[i]
      values[#values + 1] = 'o' .. i
      values[#values + 1] = all_oldest[i] or ''
    end
    redis.call('HSET', totals, unpack(values))
  end

  local function report(reason, retry_after, admission)
    local at_least
    for i = 1, count do
      if not at_least or limits[i] - all_used[i] <= limits[at_least] - all_used[at_least] then at_least = i end
    end
    local reset_after = 0
    if all_oldest[at_least] then reset_after = tonumber(all_oldest[at_least]) + windows[at_least] - now end
    return { reason, at_least - 1, all_used[at_least], retry_after, reset_after, admission }
  end

  if cost > smallest then
    if trimmed or dirty then save() end
    return report(2, 0, 0)
  end

  local fits = true
  for i = 1, count do
    if all_used[i] + cost > limits[i] then fits = false end
  end

  if fits then
    if cost == 0 then
      if trimmed or dirty then save() end
      return report(0, 0, 0)
    end
    seq = seq + 1
    local was_empty = not oldest
    redis.call('ZADD', entries, now_text, member_of(seq, cost))
    for i = 1, count do
      all_used[i] = all_used[i] + cost
      all_oldest[i] = all_oldest[i] or now_text
    end
    save()
    -- Both keys must outlive the newest entry by a window.
    local ttl = math.ceil(window / 1000)
    if rebuilt or was_empty or redis.call('PTTL', entries) < ttl then
      local extended = ttl + math.ceil(ttl / 4)
      redis.call('PEXPIRE', entries, extended)
      redis.call('PEXPIRE', totals, extended)
    end
    return report(0, 0, seq)
  end

  if trimmed or dirty then save() end

  -- Rejected, recording nothing: the request fits once enough of each full window's oldest
  -- entries have left it, and entries only leave.
  local retry_after = 0
  for i = 1, count do
    local needed = all_used[i] + cost - limits[i]
    if needed > 0 and all_oldest[i] then
      walk(entries, all_oldest[i], function(score, member_cost)
        needed = needed - member_cost
        if needed <= 0 then
          retry_after = math.max(retry_after, score + windows[i] - now)
          return true
        end
      end)
    end
  end
  return report(1, retry_after, 0)
end

-- Takes one admission back: its entry leaves the window, and every total counting it drops it.
-- Arguments, from argv[at]: the admission's sequence number, its cost, then the windows as for
-- decide. Returns 1 when it was taken back, 0 when it had left the window already.
local function refund(entries, totals, argv, at, count)
  local cost = tonumber(argv[at + 1])
  local score = redis.call('ZSCORE', entries, member_of(argv[at], cost))
  if not score then return 0 end
  redis.call('ZREM', entries, member_of(argv[at], cost))
  local state = read_state(totals, count)
  if not tonumber(state[1]) then
    -- The totals were lost: the next decision rebuilds them from the entries.
    return 1
  end

  local removed = tonumber(score)
  local first = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
  if not first[2] then
    redis.call('DEL', totals)
    return 1
  end
  local values = { 'u', tonumber(state[1]) - cost, 'o', first[2] }
  local known = score_or_nil(state[4])
  if known and known ~= signature_of(argv, at, count) then
    -- The shorter windows' fields describe other windows than this request's (a reload came
    -- between the decision and its refund), and they may count this entry: the next decision
    -- with several windows counts them afresh from the entries.
    redis.call('HDEL', totals, 'w')
  elseif count > 1 and known then
    for i = 1, count - 1 do
      local window_oldest = score_or_nil(state[5 + 2 * i])
      if window_oldest and removed >= tonumber(window_oldest) then
        local next_oldest = redis.call('ZRANGEBYSCORE', entries, window_oldest, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
        values[#values + 1] = 'u' .. i
        values[#values + 1] = tonumber(state[4 + 2 * i]) - cost
        values[#values + 1] = 'o' .. i
        values[#values + 1] = next_oldest[2] or ''
      end
    end
  end
  redis.call('HSET', totals, unpack(values))
  return 1
end
