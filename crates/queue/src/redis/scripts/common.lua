-- Shared by every queue script (prepended to each). ARGV[1] is the key prefix.
--
-- Layout: one stream per stage (`<p>stream:<stage>`) read by the consumer group `engines`;
-- `<p>task:<id>` holds a task's job, stage and current stream entry ('' while it backs off);
-- `<p>job:<id>` lists a job's tasks; `<p>delayed:<stage>` holds retries by due time (ms);
-- `<p>dead` is the dead-letter stream.
--
-- A lease is the pending entry's idle time: a claim sets it to `max_idle - lease_ms`, so the
-- entry becomes reclaimable (XAUTOCLAIM with min-idle `max_idle`) exactly when the lease ends,
-- whatever lease each worker asked for. The clock is the Redis server's.
local prefix = ARGV[1]
local group = 'engines'

local function stream_key(stage) return prefix .. 'stream:' .. stage end
local function delayed_key(stage) return prefix .. 'delayed:' .. stage end
local function task_key(task) return prefix .. 'task:' .. task end
local function job_key(job) return prefix .. 'job:' .. job end
local dead_key = prefix .. 'dead'

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Groups vanish with a Redis that lost its data; recreating them here keeps workers going.
local function ensure_group(stage)
  redis.pcall('XGROUP', 'CREATE', stream_key(stage), group, '0', 'MKSTREAM')
end

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

local function add_entry(task, job, stage)
  local entry = redis.call('XADD', stream_key(stage), '*', 'task', task, 'job', job)
  redis.call('HSET', task_key(task), 'entry', entry)
  return entry
end

local function drop_entry(stage, entry)
  if entry and entry ~= '' then
    redis.call('XACK', stream_key(stage), group, entry)
    redis.call('XDEL', stream_key(stage), entry)
  end
end

local function forget_task(task, job)
  redis.call('DEL', task_key(task))
  if job then redis.call('SREM', job_key(job), task) end
end

-- Retries whose backoff has passed go onto their stream.
local function promote_due(stage, now)
  local due = redis.call('ZRANGEBYSCORE', delayed_key(stage), '-inf', now)
  for _, task in ipairs(due) do
    redis.call('ZREM', delayed_key(stage), task)
    local job = redis.call('HGET', task_key(task), 'job')
    if job then add_entry(task, job, stage) end
  end
end

-- Owner and delivery count of a pending entry, or nil.
local function pending(stage, entry)
  local rows = redis.call('XPENDING', stream_key(stage), group, entry, entry, 1)
  if #rows == 0 then return nil, nil end
  return rows[1][2], tonumber(rows[1][4])
end

-- Stage and entry of the lease (task, worker, deliveries) if it is still the current one.
local function current_lease(task, worker, deliveries)
  local fields = redis.call('HMGET', task_key(task), 'stage', 'entry')
  local stage, entry = fields[1], fields[2]
  if not stage or not entry or entry == '' then return nil, nil end
  local owner, count = pending(stage, entry)
  if owner == worker and count == deliveries then return stage, entry end
  return nil, nil
end

local function set_lease(stage, entry, worker, lease_ms, max_idle)
  local idle = max_idle - lease_ms
  if idle < 0 then idle = 0 end
  redis.call('XCLAIM', stream_key(stage), group, worker, 0, entry, 'IDLE', idle, 'JUSTID')
end

-- Expired leases that used up their deliveries move to the dead-letter stream.
local function dead_letter_exhausted(stage, max_idle, max_deliveries)
  local rows = redis.call('XPENDING', stream_key(stage), group, 'IDLE', max_idle, '-', '+', 100)
  for _, row in ipairs(rows) do
    local entry, count = row[1], tonumber(row[4])
    if count >= max_deliveries then
      local found = redis.call('XRANGE', stream_key(stage), entry, entry)
      if #found > 0 then
        local task, job = field(found[1][2], 'task'), field(found[1][2], 'job')
        redis.call('XADD', dead_key, '*', 'task', task, 'job', job, 'stage', stage,
          'deliveries', count)
        forget_task(task, job)
      end
      drop_entry(stage, entry)
    end
  end
end
