-- ARGV: prefix, stage... → the group's last-delivered id per stage, where a blocking XREAD
-- starts so that it wakes for exactly the messages no worker has been handed yet.
local out = {}
for i = 2, #ARGV do
  local stage = ARGV[i]
  ensure_group(stage)
  local last = '0-0'
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream_key(stage))) do
    if field(info, 'name') == group then last = field(info, 'last-delivered-id') end
  end
  table.insert(out, last)
end
return out
