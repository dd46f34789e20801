-- ARGV: prefix, job. Drops every message of the job, leased or not.
local job = ARGV[2]
local tasks = redis.call('SMEMBERS', job_key(job))
for _, task in ipairs(tasks) do
  local fields = redis.call('HMGET', task_key(task), 'stage', 'entry')
  if fields[1] then
    drop_entry(fields[1], fields[2])
    redis.call('ZREM', delayed_key(fields[1]), task)
  end
  redis.call('DEL', task_key(task))
end
redis.call('DEL', job_key(job))
return #tasks
