-- ARGV: prefix, max_idle, max_deliveries, stage... → flat {task, job, stage, deliveries, ...}.
for i = 4, #ARGV do
  ensure_group(ARGV[i])
  dead_letter_exhausted(ARGV[i], tonumber(ARGV[2]), tonumber(ARGV[3]))
end
local out = {}
for _, row in ipairs(redis.call('XRANGE', dead_key, '-', '+')) do
  local fields = row[2]
  for _, name in ipairs({'task', 'job', 'stage', 'deliveries'}) do
    table.insert(out, field(fields, name))
  end
end
redis.call('DEL', dead_key)
return out
