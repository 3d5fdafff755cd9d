-- Buy attempts on one flash sale, for wrk (https://github.com/wg/wrk), as the flash scenario's light generator.
-- wrk -t2 -c64 -d10s --latency -s flash-buy.lua http://host:port/api/flash-sales/SALE/purchases -- TOKENS_FILE RUN
-- TOKENS_FILE holds one bearer token per line (minted by the bench); each request takes the next token in a
-- spread like the .NET generator's and a fresh Idempotency-Key (RUN-thread-n). The last line printed is
-- "flash-wrk ok=.. refused=.. failed=.. seconds=.. p50_ms=.. p99_ms=..": 201s, 409s, anything else.

local threads = {}
local next_thread = 0

function setup(thread)
   thread:set("thread_id", next_thread)
   next_thread = next_thread + 1
   table.insert(threads, thread)
end

local tokens = {}
local body = '{"quantity":1}'
local n = 0
ok, refused, failed = 0, 0, 0

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then tokens[#tokens + 1] = line end
   end
   key_prefix = args[2] .. "-" .. thread_id .. "-"
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   local token = tokens[((thread_id * 7919 + n * 31) % #tokens) + 1]
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Idempotency-Key"] = key_prefix .. n
   return wrk.format()
end

function response(status, headers, body)
   if status == 201 then
      ok = ok + 1
   elseif status == 409 then
      refused = refused + 1
   else
      failed = failed + 1
   end
end

function done(summary, latency, requests)
   local o, r, f = 0, 0, 0
   for _, thread in ipairs(threads) do
      o = o + thread:get("ok")
      r = r + thread:get("refused")
      f = f + thread:get("failed")
   end
   local e = summary.errors
   -- Requests that never got an answer (connect, read, write, timeout) failed too.
   f = f + e.connect + e.read + e.write + e.timeout
   io.write(string.format("flash-wrk ok=%d refused=%d failed=%d seconds=%.3f p50_ms=%.2f p99_ms=%.2f\n",
      o, r, f, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
