-- One partition's sliding-window decision over one or more windows, atomic because Redis runs a
-- script alone, on one slot because both keys share a hash tag. The scripts Redis runs are these
-- functions followed by decide-one.lua (one decision), decide-batch.lua (every decision queued for
-- one master) or refund.lua (taking one admission back).
--
-- entries  sorted set of admitted requests: score = admission time (microseconds),
--          member = "<seq>" for cost 1 or "<seq>:<cost>". It holds the longest window only, so
--          memory grows with the requests admitted in that window, whatever their cost, and
--          whatever the number of windows.
-- totals   hash, which exists only while the sorted set does. With one window: u = its total cost,
--          o = score of the oldest entry, s = last member sequence number. With several windows
--          they and the shorter windows' state are one field (one field read and written costs
--          less than several): x = "<signature>|<u>|<s>|<o>|<newest>|<window>|<window>..." where
--          the signature names the shorter windows' lengths (when a reload changes the windows,
--          the totals are counted afresh from the entries), newest is the newest entry's score,
--          and each shorter window, shortest first, is "<total>,<complete>,<queue>": the queue holds
--          "<score>[:<cost>] " for its oldest counted entries, in order, all of them when complete
--          is 1. Entries leave a shorter window from its queue without a read; only a window with
--          more entries than a queue holds refills its queue from the sorted set now and then.
--          While a temporary limit may be set (so that decisions without one never read it):
--          v = 1 with one window, and x begins with "v" with several.
-- override string beside them (…:o, written by override.lua) with its own TTL: "<limit>:<until>",
--          an operator's temporary limit for the longest window until that score.
-- Arguments, from argv[at]: now (microseconds, as text; '0' for the Redis server's clock), cost
--          (0 = peek) plus MODE_UNIT times the mode, then one (permit limit, window in
--          microseconds) pair per window, windows ascending: the last is the longest. Modes:
--          0 decides; 1 checks (answers as a decision would, and records nothing); 2 charges
--          (records the cost whatever the windows hold: a cost the response decided).
-- Returns  { reason (0 allowed, 1 quota exceeded, 2 cost exceeds limit, 3 blocked: decide_blocking),
--            reported window (0-based: the one with the least remaining, the longer on a tie; for
--            reason 2 the one of the smallest limit),
--            cost used in it after this decision, retry after (microseconds: until every window
--            has room), time until its oldest entry leaves (microseconds),
--            sequence number of the admission (0 when nothing was recorded),
--            the longest window's temporary limit (0 when none) }
--
-- Cost: every redis.call costs about a microsecond of dispatch plus half a microsecond per element
-- of its reply. In Lua the dearest work is converting numbers and making strings: a number
-- concatenated costs 2,000 to 4,400 instructions (string.format less than half of that), tonumber
-- about 700, and every new string (a capture, a concatenation) its allocation and collection. So
-- an admission makes four calls (HMGET, ZADD, HSET, PTTL) whatever the number of windows, plus TIME
-- unless the caller gives the time; it passes the time as the text it came in and compares scores
-- as text where it can; and several windows' totals are one field, read with one pattern match
-- and written with one concatenation.
-- Writes are what replicas replay, so the TTLs are extended only when less than a window is left,
-- by a quarter window more.
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

-- The temporary limit of the longest window that an operator set (override.lua) at `key`, and
-- when it ends; nil when there is none or it ended by `now`.
local function temporary_limit(key, now)
  local value = redis.call('GET', key)
  if not value then return nil end
  local sep = string.find(value, ':', 1, true)
  local ends = tonumber(string.sub(value, sep + 1))
  if ends <= now then return nil end
  return tonumber(string.sub(value, 1, sep - 1)), ends
end

-- Whether score `a` is after score `b`, both decimal text without leading zeros: compared as text,
-- which is cheaper than converting them.
local function later(a, b)
  return #a > #b or (#a == #b and a > b)
end

local function member_of(seq, cost)
  if cost == 1 then return seq end
  return seq .. ':' .. cost
end

local function score_or_nil(value)
  if not value or value == '' then return nil end
  return value
end

-- The shorter windows' lengths as the caller sent them.
local function signature_of(argv, at, count)
  if count == 2 then return argv[at + 3] end
  local lengths = {}
  for i = 1, count - 1 do
    lengths[i] = argv[at + 2 * i + 1]
  end
  return table.concat(lengths, ',')
end

-- Walks the entries from score `from` on ('(' for after it), in batches: calls visit(score, cost)
-- for each until it returns true.
local function walk(entries, from, visit)
  local offset = 0
  while true do
    local batch = redis.call('ZRANGEBYSCORE', entries, from, '+inf', 'WITHSCORES', 'LIMIT', offset, 64)
    for i = 1, #batch, 2 do
      local _, cost = parse(batch[i])
      if visit(tonumber(batch[i + 1]), cost) then return end
    end
    if #batch < 128 then return end
    offset = offset + 64
  end
end

-- A shorter window's queue: at most QUEUE_MAX entries, more only when they share one score. A
-- queue never ends inside a group of entries with one score (a batch decides several requests of
-- a partition at one time): every entry after it is newer than its last, so that it is refilled
-- from just after the last entry that left.
local QUEUE_MAX = 16
local QUEUE_FETCH = QUEUE_MAX + 1
-- A queue has room while shorter than this: some QUEUE_MAX entries of 16-digit scores.
local QUEUE_BYTES = 18 * QUEUE_MAX

local function token_of(score, cost)
  if cost == 1 then return score .. ' ' end
  return score .. ':' .. cost .. ' '
end

-- Queues the entries of `list` (a WITHSCORES reply of `entries`) from index `first` on: returns
-- the queue, and whether it is complete: every entry from `first` on queued, and `more` saying
-- that none follows.
local function queue_of(entries, list, first, more)
  local n = (#list - first + 1) / 2
  local take = n
  if n > QUEUE_MAX then
    take = QUEUE_MAX
    -- Not inside a group of one score: stop before it, or take all of it when it fills the queue.
    local last = list[first + 2 * take - 1]
    if list[first + 2 * take + 1] == last then
      while take > 0 and list[first + 2 * take - 1] == last do take = take - 1 end
      if take == 0 then
        local group = redis.call('ZRANGEBYSCORE', entries, last, last, 'WITHSCORES')
        local parts = {}
        for i = 1, #group, 2 do
          local _, cost = parse(group[i])
          parts[#parts + 1] = token_of(last, cost)
        end
        return table.concat(parts), false
      end
    end
  end
  local parts = {}
  for i = first, first + 2 * take - 1, 2 do
    local _, cost = parse(list[i])
    parts[#parts + 1] = token_of(list[i + 1], cost)
  end
  return table.concat(parts), take == n and not more
end

-- The first queued entry's score, its cost and score as text, and where the next entry begins.
local function front_of(queue)
  local token_end = string.find(queue, ' ', 1, true)
  local text = string.sub(queue, 1, token_end - 1)
  local sep = string.find(text, ':', 1, true)
  if sep then
    local score_text = string.sub(text, 1, sep - 1)
    return tonumber(score_text), tonumber(string.sub(text, sep + 1)), score_text, token_end + 1
  end
  return tonumber(text), 1, text, token_end + 1
end

-- The first queued entry's score.
local function front_score(queue)
  return tonumber(string.match(queue, '^%d+'))
end

-- Several windows' totals, as field x describes them: returns the longest window's total, the
-- last sequence number, the oldest and the newest entry's scores (as text) and whether they are
-- flagged, and fills used, queue, complete and front (the first queued score) (arrays, shortest
-- window first); nil when x is missing or describes other windows.
local function read_packed(x, signature, count, used, queue, complete, front)
  if not x then return nil end
  if count == 2 then
    -- One match: fewer instructions than finds and copies. The signature is digits only.
    local flag, u, s, o, newest, total, full, queued, first = string.match(x, '^(v?)' .. signature .. '|(%d+)|(%d+)|(%d+)|(%d+)|(%d+),(%d),((%d*).*)')
    if u then used[1], complete[1], queue[1], front[1] = tonumber(total), full == '1', queued, tonumber(first) end
    return u, s, o, newest, flag == 'v'
  end
  local flag, known, u, s, o, newest, at = string.match(x, '^(v?)([^|]*)|(%d+)|(%d+)|(%d+)|(%d+)|()')
  if known ~= signature then return nil end
  for i = 1, count - 1 do
    local total, full, queued, first, next_at = string.match(x, '^(%d+),(%d),((%d*)[^|]*)|?()', at)
    if not total then return nil end
    used[i], queue[i], complete[i], front[i] = tonumber(total), queued, full == '1', tonumber(first)
    at = next_at
  end
  return u, s, o, newest, flag == 'v'
end

-- Numbers go through string.format: a number concatenated costs more than twice as much. With one
-- shorter window, the usual case, it is one concatenation: every string made costs its allocation
-- and its collection.
local function format_packed(flagged, signature, used, seq, oldest, newest, s_used, s_queue, s_complete)
  local flag = flagged and 'v' or ''
  if #s_queue == 1 then
    return flag .. signature .. '|' .. string.format('%d|%d', used, seq) .. '|' .. oldest .. '|' .. newest .. '|' .. string.format('%d', s_used[1]) .. (s_complete[1] and ',1,' or ',0,') .. s_queue[1]
  end
  local x = flag .. signature .. '|' .. string.format('%d|%d', used, seq) .. '|' .. oldest .. '|' .. newest
  for i = 1, #s_queue do
    x = x .. '|' .. string.format('%d', s_used[i]) .. (s_complete[i] and ',1,' or ',0,') .. s_queue[i]
  end
  return x
end

-- Moves shorter window i past the entries at or before `boundary`, which have left it: returns the
-- first score it then counts from its queue, nil when the queue is empty.
local function advance(entries, i, boundary, newest, used, queue, complete)
  local rest, left = queue[i], 0
  while rest ~= '' do
    local text, cost, next_at = string.match(rest, '^(%d+):?(%d*) ()')
    local score = tonumber(text)
    if score > boundary then
      queue[i] = rest
      return score
    end
    left = left + 1
    -- Usually one entry leaves per decision; when more do, perhaps all of them did.
    if left == 2 and tonumber(newest) <= boundary then
      used[i], queue[i], complete[i] = 0, '', true
      return nil
    end
    used[i], rest = used[i] - (cost == '' and 1 or tonumber(cost)), string.sub(rest, next_at)
    if rest == '' and not complete[i] then
      local list = redis.call('ZRANGEBYSCORE', entries, '(' .. text, '+inf', 'WITHSCORES', 'LIMIT', 0, QUEUE_FETCH)
      rest, complete[i] = queue_of(entries, list, 1, #list > 2 * QUEUE_MAX)
    end
  end
  queue[i] = rest
end

-- Shorter window i counted from every entry (a WITHSCORES reply), those after `boundary`.
local function count_shorter(entries, all, i, boundary, used, queue, complete)
  local total, first = 0, nil
  for j = 1, #all, 2 do
    if tonumber(all[j + 1]) > boundary then
      first = first or j
      local _, cost = parse(all[j])
      total = total + cost
    end
  end
  used[i] = total
  if first then
    queue[i], complete[i] = queue_of(entries, all, first, false)
  else
    queue[i], complete[i] = '', true
  end
end

-- Flags a partition's totals once its temporary limit is set (override.lua), so that decisions
-- look for it.
local function flag_totals(totals)
  local x = redis.call('HGET', totals, 'x')
  if x then
    if string.byte(x, 1) ~= 118 then redis.call('HSET', totals, 'x', 'v' .. x) end
  elseif redis.call('EXISTS', totals) == 1 then
    redis.call('HSET', totals, 'v', 1)
  end
end

-- Both keys must outlive the newest entry by a window: by a quarter window more, so that few
-- decisions extend them.
local function extend(entries, totals, window)
  local ttl = math.ceil(window / 1000)
  local extended = ttl + math.ceil(ttl / 4)
  redis.call('PEXPIRE', entries, extended)
  redis.call('PEXPIRE', totals, extended)
end

-- Above any cost (a 32-bit integer), below 2^53: the mode and the cost travel in one argument.
local MODE_UNIT = 4294967296
local CHECK, CHARGE = 1, 2

local function decide(entries, totals, argv, at, count)
  local now_text = now_of(argv[at])
  local now = tonumber(now_text)
  local cost = tonumber(argv[at + 1])
  local mode = math.floor(cost / MODE_UNIT)
  cost = cost - mode * MODE_UNIT
  local limits, windows = {}, {}
  for i = 1, count do
    limits[i], windows[i] = tonumber(argv[at + 2 * i]), tonumber(argv[at + 2 * i + 1])
  end

  -- The shorter windows (s_used, s_queue, s_complete), moved on before the longest window's
  -- expired entries are removed.
  local s_used, s_queue, s_complete = {}, {}, {}
  -- A shorter window's first queued score where it is known, for the report.
  local s_front
  local used, seq, oldest, flagged, signature, newest
  -- Fields that another policy of the partition wrote (before a reload), which go when the totals
  -- are saved.
  local stale
  if count == 1 then
    local state = redis.call('HMGET', totals, 'u', 's', 'o', 'x', 'v')
    -- With x, a policy of several windows wrote the totals last, and u, s and o are not current.
    stale, flagged = state[4], state[5]
    if not stale then used, seq, oldest = tonumber(state[1]), tonumber(state[2]), score_or_nil(state[3]) end
  else
    signature, s_front = signature_of(argv, at, count), {}
    used, seq, oldest, newest, flagged = read_packed(redis.call('HGET', totals, 'x') or nil, signature, count, s_used, s_queue, s_complete, s_front)
    used, seq = tonumber(used), tonumber(seq)
  end
  -- Whether the totals changed otherwise and must be saved whatever the decision.
  local dirty = false
  -- An operator's temporary limit, looked for only where the totals are flagged or absent: the
  -- totals then written are flagged, and the flag goes with the limit.
  local temporary
  if not used or flagged then
    temporary = temporary_limit(string.sub(totals, 1, -2) .. 'o', now)
    if temporary then
      limits[count] = temporary
    elseif flagged and count == 1 then
      redis.call('HDEL', totals, 'v')
    elseif flagged then
      dirty = true
    end
  end
  local smallest, smallest_at
  for i = 1, count do
    if not smallest or limits[i] < smallest then smallest, smallest_at = limits[i], i end
  end
  local limit, window = limits[count], windows[count]
  -- Whether the longest window's totals no longer describe the entries and must be written.
  local trimmed = false
  -- Whether the totals were counted afresh from the entries.
  local rebuilt = false

  local all
  if count > 1 then
    if not used then
      -- First use, a reload that changed the windows, or lost totals: counted from the entries,
      -- beside which a one-window policy's totals may be.
      all = redis.call('ZRANGE', entries, 0, -1, 'WITHSCORES')
      newest, stale = all[#all], #all > 0
    end
    -- A partition's time never runs backwards (a failover to a master whose clock is behind),
    -- so that every entry is counted from its own score on.
    if newest and later(newest, now_text) then now, now_text = tonumber(newest), newest end
    if all then
      s_front = {}
      for i = 1, count - 1 do count_shorter(entries, all, i, now - windows[i], s_used, s_queue, s_complete) end
    else
      for i = 1, count - 1 do
        if s_queue[i] ~= '' then
          local boundary = now - windows[i]
          if s_front[i] <= boundary then
            s_front[i] = advance(entries, i, boundary, newest, s_used, s_queue, s_complete)
            dirty = true
          end
        end
      end
    end
  end

  local expired_at_or_before = now - window
  if used == nil then
    -- First use, totals lost (eviction) or written for other windows: rebuilt from the entries.
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
        s_used[i], s_queue[i], s_complete[i], s_front[i] = 0, '', true, nil
      end
    end
  end
  s_used[count] = used

  local function save()
    if not oldest then
      -- The window is empty: the entries are gone, and so go the totals.
      redis.call('DEL', totals)
    elseif count == 1 then
      redis.call('HSET', totals, 'u', used, 's', seq, 'o', oldest)
      if stale then redis.call('HDEL', totals, 'x') end
    else
      redis.call('HSET', totals, 'x', format_packed(temporary ~= nil, signature, used, seq, oldest, newest, s_used, s_queue, s_complete))
      if stale then redis.call('HDEL', totals, 'u', 's', 'o', 'v') end
    end
    if count == 1 and oldest and temporary and not flagged then redis.call('HSET', totals, 'v', 1) end
  end

  -- Totals rebuilt from entries are saved whatever the decision (the expired entries are gone, and
  -- totals of other windows must go), in a hash that may be new.
  if rebuilt and all[1] then
    save()
    extend(entries, totals, window)
  end

  -- Reports `window`, else the window with the least remaining.
  local function report(reason, retry_after, admission, window)
    local at_least, least = count, limit - used
    for i = count - 1, 1, -1 do
      if limits[i] - s_used[i] < least then at_least, least = i, limits[i] - s_used[i] end
    end
    at_least = window or at_least
    local first
    if at_least == count then
      first = oldest and tonumber(oldest)
    elseif s_queue[at_least] ~= '' then
      first = s_front[at_least] or front_score(s_queue[at_least])
    end
    local reset_after = first and first + windows[at_least] - now or 0
    return { reason, at_least - 1, s_used[at_least], retry_after, reset_after, admission, temporary or 0 }
  end

  if cost > smallest and mode ~= CHARGE then
    if trimmed or dirty then save() end
    -- The window whose limit the cost exceeds is the one to report: its limit says why.
    return report(2, 0, 0, smallest_at)
  end

  local fits = used + cost <= limit
  for i = 1, count - 1 do
    if s_used[i] + cost > limits[i] then fits = false end
  end
  fits = fits or mode == CHARGE

  if fits then
    if cost == 0 or mode == CHECK then
      if trimmed or dirty then save() end
      return report(0, 0, 0)
    end
    seq = seq + 1
    local was_empty = not oldest
    redis.call('ZADD', entries, now_text, member_of(seq, cost))
    used, oldest = used + cost, oldest or now_text
    s_used[count] = used
    if count > 1 then
      -- Appended in one concatenation (see format_packed).
      local suffix = cost == 1 and ' ' or ':' .. cost .. ' '
      for i = 1, count - 1 do
        s_used[i] = s_used[i] + cost
        -- Queued while the queue holds every counted entry and has room, or the entry shares the
        -- newest entry's time (a queue never ends inside a group of one score).
        if s_complete[i] and (#s_queue[i] < QUEUE_BYTES or now_text == newest) then
          s_queue[i] = s_queue[i] .. now_text .. suffix
        else
          s_complete[i] = false
        end
      end
      newest = now_text
    end
    save()
    -- Rebuilt totals of existing entries were extended above; others were empty.
    if was_empty or redis.call('PTTL', entries) < math.ceil(window / 1000) then extend(entries, totals, window) end
    return report(0, 0, seq)
  end

  if trimmed or dirty then save() end

  -- Rejected, recording nothing: the request fits once enough of each full window's oldest
  -- entries have left it, and entries only leave.
  local retry_after = 0
  local function until_room(i, needed, from)
    walk(entries, from, function(score, member_cost)
      needed = needed - member_cost
      if needed <= 0 then
        retry_after = math.max(retry_after, score + windows[i] - now)
        return true
      end
    end)
  end
  if used + cost > limit then until_room(count, used + cost - limit, oldest) end
  for i = 1, count - 1 do
    local needed = s_used[i] + cost - limits[i]
    if needed > 0 then
      -- From the queue first: a short window's entries are usually all in it.
      local queue, text = s_queue[i], nil
      while queue ~= '' do
        local score, member_cost, score_text, rest = front_of(queue)
        needed, queue, text = needed - member_cost, string.sub(queue, rest), score_text
        if needed <= 0 then
          retry_after = math.max(retry_after, score + windows[i] - now)
          break
        end
      end
      if needed > 0 and text and not s_complete[i] then until_room(i, needed, '(' .. text) end
    end
  end
  return report(1, retry_after, 0)
end

-- decide, for a policy that blocks a partition rejected too often. `block` is its third key (same
-- hash tag), a string with a TTL: "B<until>" while the partition is blocked, else the scores of its
-- recent rejections for exceeding the quota, "<score> <score> ...". Arguments after the windows:
-- rejections that start a block, within how long (microseconds), and the block's length
-- (microseconds). While blocked, a request is rejected with reason 3, the reported window's cost
-- used equal to its limit, and retry after (and reset after) the block's remaining time; the
-- rejection that starts the block answers so too.
local function decide_blocking(entries, totals, block, argv, at, count)
  local b = at + 2 + 2 * count
  local after, within, duration = tonumber(argv[b]), tonumber(argv[b + 1]), tonumber(argv[b + 2])
  local now_text = now_of(argv[at])
  local now = tonumber(now_text)
  local state = redis.call('GET', block)
  local blocked = state and string.byte(state, 1) == 66
  if blocked then
    local left = tonumber(string.sub(state, 2)) - now
    if left > 0 then return { 3, count - 1, tonumber(argv[at + 2 * count]), left, left, 0, 0 } end
  end
  local verdict = decide(entries, totals, argv, at, count)
  if verdict[1] ~= 1 then return verdict end
  local recent = { now_text }
  if state and not blocked then
    for score in string.gmatch(state, '%d+') do
      if tonumber(score) > now - within then recent[#recent + 1] = score end
    end
  end
  if #recent >= after then
    redis.call('SET', block, 'B' .. string.format('%d', now + duration), 'PX', math.ceil(duration / 1000))
    local reported = verdict[2] + 1
    verdict[1], verdict[4], verdict[5] = 3, duration, duration
    verdict[3] = reported == count and verdict[7] > 0 and verdict[7] or tonumber(argv[at + 2 * reported])
  else
    redis.call('SET', block, table.concat(recent, ' '), 'PX', math.ceil(within / 1000))
  end
  return verdict
end

-- Takes one admission back: its entry leaves the window, and every total counting it drops it.
-- Arguments, from argv[at]: the admission's sequence number, its cost, then the windows as for
-- decide. Returns 1 when it was taken back, 0 when it had left the window already.
local function refund(entries, totals, argv, at, count)
  local cost = tonumber(argv[at + 1])
  local member = member_of(argv[at], cost)
  local score = redis.call('ZSCORE', entries, member)
  if not score then return 0 end
  redis.call('ZREM', entries, member)
  local first = redis.call('ZRANGE', entries, 0, 0, 'WITHSCORES')
  if not first[2] then
    redis.call('DEL', totals)
    return 1
  end
  if count == 1 then
    local state = redis.call('HMGET', totals, 'u', 'x')
    if state[1] and not state[2] then
      redis.call('HSET', totals, 'u', tonumber(state[1]) - cost, 'o', first[2])
    else
      -- Lost, or written for several windows (a reload came between the decision and its refund)
      -- and counting this entry: the next decision counts them afresh from the entries.
      redis.call('DEL', totals)
    end
    return 1
  end
  local s_used, s_queue, s_complete = {}, {}, {}
  local signature = signature_of(argv, at, count)
  local used, seq, _, newest, flagged = read_packed(redis.call('HGET', totals, 'x') or nil, signature, count, s_used, s_queue, s_complete, {})
  if not used then
    -- Lost, or written for other windows (see above).
    redis.call('DEL', totals)
    return 1
  end
  local token = token_of(score, cost)
  for i = 1, count - 1 do
    local from, to = string.find(' ' .. s_queue[i], ' ' .. token, 1, true)
    if from then
      -- Queued: it goes from the queue (one of a group of one score and cost is as good as another).
      s_queue[i] = string.sub(s_queue[i], 1, from - 1) .. string.sub(s_queue[i], to)
      s_used[i] = s_used[i] - cost
      if s_queue[i] == '' and not s_complete[i] then
        local list = redis.call('ZRANGEBYSCORE', entries, '(' .. score, '+inf', 'WITHSCORES', 'LIMIT', 0, QUEUE_FETCH)
        s_queue[i], s_complete[i] = queue_of(entries, list, 1, #list > 2 * QUEUE_MAX)
      end
    elseif not s_complete[i] and s_queue[i] ~= '' then
      -- After the queue's last entry, so counted; before its first, it had left the window.
      if tonumber(score) > tonumber(string.match(s_queue[i], '(%d+)[^ ]* $')) then s_used[i] = s_used[i] - cost end
    end
  end
  redis.call('HSET', totals, 'x', format_packed(flagged, signature, tonumber(used) - cost, seq, first[2], newest, s_used, s_queue, s_complete))
  return 1
end
