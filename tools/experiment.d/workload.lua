-- workload.lua: wrk script for tools/experiment.
-- Arguments (after --): MODE (close | keepalive | mixed), HEAVY_SHARE
-- (0..1, mixed only), HEAVY_N (iterations of a heavy /cpu request).
-- Each response's X-Handoff-Worker / X-Handoff-Request headers (asked for
-- with X-Handoff-Debug) tell which worker served it and whether it was the
-- first on its connection. done() prints one JSON line for the driver.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1] or "keepalive"
   heavy_share = tonumber(args[2] or "0")
   heavy_n = args[3] or "10000000"
   reqs = {}   -- worker pid -> requests
   conns = {}  -- worker pid -> connections (first request seen on them)
   heavy = 0
   local headers = { ["X-Handoff-Debug"] = "1" }
   if mode ~= "keepalive" then
      headers["Connection"] = "close"
   end
   light_req = wrk.format("GET", "/", headers)
   heavy_req = wrk.format("GET", "/cpu?n=" .. heavy_n, headers)
   math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
   if mode == "mixed" and math.random() < heavy_share then
      heavy = heavy + 1
      return heavy_req
   end
   return light_req
end

function response(status, headers, body)
   local pid = headers["X-Handoff-Worker"]
   if pid == nil then
      return
   end
   reqs[pid] = (reqs[pid] or 0) + 1
   if headers["X-Handoff-Request"] == "1" then
      conns[pid] = (conns[pid] or 0) + 1
   end
end

local function merge(into, t)
   for k, v in pairs(t) do
      into[k] = (into[k] or 0) + v
   end
end

function done(summary, latency, requests)
   local all_reqs, all_conns, heavy_total = {}, {}, 0
   for _, t in ipairs(threads) do
      merge(all_reqs, t:get("reqs"))
      merge(all_conns, t:get("conns"))
      heavy_total = heavy_total + (t:get("heavy") or 0)
   end
   local function obj(t)
      local parts = {}
      for k, v in pairs(t) do
         table.insert(parts, string.format('"%s":%d', k, v))
      end
      return "{" .. table.concat(parts, ",") .. "}"
   end
   local e = summary.errors
   io.write(string.format(
      'EXPERIMENT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
      '"p999_us":%d,"max_us":%d,"errors":%d,"heavy":%d,"reqs":%s,"conns":%s}\n',
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(99), latency:percentile(99.9), latency.max,
      e.connect + e.read + e.write + e.status + e.timeout, heavy_total,
      obj(all_reqs), obj(all_conns)))
end
