-- ARGV: prefix, worker, lease_ms, max_idle, max_deliveries, stage... → {task, job, stage,
-- deliveries} or nil. Expired leases are reclaimed (XAUTOCLAIM) before new messages are read
-- (XREADGROUP), so the oldest work goes first.
local worker, lease_ms = ARGV[2], tonumber(ARGV[3])
local max_idle, max_deliveries = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
for i = 6, #ARGV do
  local stage = ARGV[i]
  ensure_group(stage)
  promote_due(stage, now)
  dead_letter_exhausted(stage, max_idle, max_deliveries)
  -- XAUTOCLAIM scans at most 10 × COUNT pending entries per call: follow its cursor.
  local cursor = '0-0'
  repeat
    local result = redis.call('XAUTOCLAIM', stream_key(stage), group, worker, max_idle, cursor,
      'COUNT', 1)
    cursor = result[1]
    local claimed = result[2][1]
    if claimed and claimed[2] then
      local entry, fields = claimed[1], claimed[2]
      set_lease(stage, entry, worker, lease_ms, max_idle)
      local _, count = pending(stage, entry)
      return {field(fields, 'task'), field(fields, 'job'), stage, tostring(count)}
    end
  until cursor == '0-0'
end
for i = 6, #ARGV do
  local stage = ARGV[i]
  local result = redis.call('XREADGROUP', 'GROUP', group, worker, 'COUNT', 1, 'STREAMS',
    stream_key(stage), '>')
  if result then
    local entry, fields = result[1][2][1][1], result[1][2][1][2]
    set_lease(stage, entry, worker, lease_ms, max_idle)
    return {field(fields, 'task'), field(fields, 'job'), stage, '1'}
  end
end
return nil
