-- (b) One random seeded task.
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  C.init(args)
end

function request()
  local task_id = C.random_task()
  return wrk.format("GET", "/api/v1/tasks/" .. task_id, C.headers)
end
