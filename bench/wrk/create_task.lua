-- (c) Create a task (at the end of the first column) in a random project.
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  C.init(args)
end

function request()
  local project = C.random_project()
  C.counter = C.counter + 1
  local body = string.format('{"title":"Bench task %d-%d"}', C.thread_id, C.counter)
  return wrk.format("POST", "/api/v1/projects/" .. project.id .. "/tasks", C.json_headers, body)
end
