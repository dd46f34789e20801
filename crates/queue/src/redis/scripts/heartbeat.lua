-- ARGV: prefix, task, worker, deliveries, extend_ms, max_idle → 1 when the lease was extended.
local stage, entry = current_lease(ARGV[2], ARGV[3], tonumber(ARGV[4]))
if not stage then return 0 end
set_lease(stage, entry, ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[6]))
return 1
