-- bench/wrk/bench.lua -- request patterns for bench/run.sh.
--
--   wrk ... -s bench.lua URL -- <mode> <run id> <streams> <rendition> [keyprefix] [nfiles]
--
-- mode "hit":  cycles over a fixed set of segment URLs (nfiles per stream),
--              warmed before the measurement;
-- mode "miss": every request is a new segment URL, streams round-robin;
-- mode "poll": each connection is a player: GET <stream>/<rendition>/index.m3u8,
--              then waits 1 s (wrk's delay hook) before its next poll.
-- Streams are <keyprefix><n>, n in [0, streams).  The last line printed is a
-- JSON summary (prefix "WRKJSON ") that run.sh reads.

local threads = {}
local counter = 1

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1] or "hit"
   runid = args[2] or "0"
   streams = tonumber(args[3] or "10")
   rendition = args[4] or "small"
   keyprefix = args[5] or "s"
   nfiles = tonumber(args[6] or "10")
   -- each thread starts at a different stream
   counter = tid * 7919 + 1
end

function request()
   counter = counter + 1
   local s = counter % streams
   local path
   if mode == "miss" then
      path = string.format("/%s%d/%s/%s-%d-%d.ts", keyprefix, s, rendition, runid, tid, counter)
   elseif mode == "poll" then
      path = string.format("/%s%d/%s/index.m3u8", keyprefix, s, rendition)
   else
      local f = math.floor(counter / streams) % nfiles
      path = string.format("/%s%d/%s/hit-%d.ts", keyprefix, s, rendition, f)
   end
   return wrk.format("GET", path)
end

function delay()
   if mode == "poll" then
      return 1000
   end
   return 0
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end
