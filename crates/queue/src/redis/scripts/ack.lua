-- ARGV: prefix, task, worker, deliveries. Only the current lease removes the message.
local task = ARGV[2]
local stage, entry = current_lease(task, ARGV[3], tonumber(ARGV[4]))
if not stage then return 0 end
drop_entry(stage, entry)
forget_task(task, redis.call('HGET', task_key(task), 'job'))
return 1
