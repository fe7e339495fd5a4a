-- (a) A page of 100 tasks (labels and assignees included) of a random project.
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  C.init(args)
end

function request()
  local project = C.random_project()
  return wrk.format("GET", "/api/v1/projects/" .. project.id .. "/tasks?limit=100", C.headers)
end
