-- ARGV: prefix, task, worker, deliveries, delay_ms. The message starts again as a new stream
-- entry, so its delivery count (which only counts dying workers) starts again too.
local task, delay = ARGV[2], tonumber(ARGV[5])
local stage, entry = current_lease(task, ARGV[3], tonumber(ARGV[4]))
if not stage then return 0 end
drop_entry(stage, entry)
redis.call('HSET', task_key(task), 'entry', '')
if delay > 0 then
  redis.call('ZADD', delayed_key(stage), now_ms() + delay, task)
else
  add_entry(task, redis.call('HGET', task_key(task), 'job'), stage)
end
return 1
