-- ARGV: prefix, stage... → flat {stage, waiting, ...} for stages with waiting messages: entries
-- not handed out yet (the stream minus its pending entries) plus retries backing off.
local out = {}
for i = 2, #ARGV do
  local stage = ARGV[i]
  ensure_group(stage)
  local pending_count = redis.call('XPENDING', stream_key(stage), group)[1]
  local waiting = redis.call('XLEN', stream_key(stage)) - pending_count
    + redis.call('ZCARD', delayed_key(stage))
  if waiting > 0 then
    table.insert(out, stage)
    table.insert(out, tostring(waiting))
  end
end
return out
