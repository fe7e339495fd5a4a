-- Baseline: GET / of bench/bare_app.py, with the same headers the API scenarios send.
local C = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function init(args)
  C.init(args)
end

function request()
  return wrk.format("GET", "/", C.headers)
end
