-- ARGV: prefix, task, job, stage, delay_ms. Idempotent: a task with a message keeps it.
local task, job, stage, delay = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', task_key(task)) == 1 then return 0 end
ensure_group(stage)
redis.call('HSET', task_key(task), 'job', job, 'stage', stage, 'entry', '')
redis.call('SADD', job_key(job), task)
if delay > 0 then
  redis.call('ZADD', delayed_key(stage), now_ms() + delay, task)
else
  add_entry(task, job, stage)
end
return 1
