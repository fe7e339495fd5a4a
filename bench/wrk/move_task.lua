-- (d) Move a random seeded task to a random column of its project, at position 0..100.
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  C.init(args)
end

function request()
  local task_id, project = C.random_task()
  local columns = project.columns
  local body = string.format('{"column_id":%d,"position":%d}',
                             columns[math.random(#columns)], math.random(0, 100))
  return wrk.format("POST", "/api/v1/tasks/" .. task_id .. "/move", C.json_headers, body)
end
