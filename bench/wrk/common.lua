-- Shared by the API benchmark's wrk scripts (run by bench/api_bench.py).
--
-- Usage: wrk ... -s bench/wrk/<scenario>.lua URL -- DATA_LUA
-- DATA_LUA is written by api_bench.py after seeding; it returns
--   { token = "tsk_...", accept_encoding = "",  -- or "gzip": sent when not empty
--     projects = { {id = 1, columns = {1, 2, 3}}, ... },
--     task_ids = {...}, task_project = {...} }  -- task_project[i]: index into projects
-- done() prints one line "BENCH_JSON {...}" that api_bench.py parses.

local C = {}

local thread_count = 0

-- setup() runs in wrk's main Lua state, once per thread: give each thread an id.
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
end

-- Called from each scenario's init(args), in the thread's own Lua state.
function C.init(args)
  local path = args[1]
  if path == nil then
    error("pass the data file after --: wrk ... URL -- DATA_LUA")
  end
  C.data = dofile(path)
  C.headers = {
    ["Authorization"] = "Bearer " .. C.data.token,
    ["Accept"] = "application/json",
  }
  C.json_headers = {
    ["Authorization"] = "Bearer " .. C.data.token,
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/json",
  }
  if C.data.accept_encoding ~= nil and C.data.accept_encoding ~= "" then
    C.headers["Accept-Encoding"] = C.data.accept_encoding
    C.json_headers["Accept-Encoding"] = C.data.accept_encoding
  end
  C.thread_id = thread_id or 1
  math.randomseed(os.time() * 100 + C.thread_id)
  C.counter = 0
end

function C.random_project()
  local projects = C.data.projects
  return projects[math.random(#projects)]
end

-- A random seeded task and its project.
function C.random_task()
  local i = math.random(#C.data.task_ids)
  return C.data.task_ids[i], C.data.projects[C.data.task_project[i]]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end

return C
