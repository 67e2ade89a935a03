-- One wrk script for every scenario, configured by environment variables:
--   BENCH_PATH        request path
--   BENCH_POOL        file of request lines: "<authorization header>\t<body>" (either may be
--                     empty); the threads share it out and send each line in turn
--   BENCH_SINGLE_USE  "1": a line may be sent once (codes, refresh tokens, assertions)
--   BENCH_AUTH        Authorization header used when a line carries none
--   BENCH_TYPE        Content-Type of the body
--   BENCH_STATUS      the expected status code
--   BENCH_EXPECT      Lua patterns: a body must match every "&&"-joined part of one of the
--                     "||"-separated alternatives
--   BENCH_CLOSE       "1": every request asks for Connection: close (no keep-alive)
-- done() prints one line "BENCH_RESULT {json}" with throughput, latency and answer counts.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function split(s, sep)
  local out, start = {}, 1
  while true do
    local i, j = string.find(s, sep, start, true)
    if not i then
      table.insert(out, string.sub(s, start))
      return out
    end
    table.insert(out, string.sub(s, start, i - 1))
    start = j + 1
  end
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  single_use = os.getenv("BENCH_SINGLE_USE") == "1"
  -- Single-use lines are shared out between threads; reusable ones are all read by each
  -- thread, which starts at its own offset.
  lines = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_POOL")) do
    if not single_use or n % nthreads == id then
      local tab = string.find(line, "\t", 1, true)
      table.insert(lines, { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) })
    end
    n = n + 1
  end
  expected_status = tonumber(os.getenv("BENCH_STATUS") or "200")
  alternatives = {}
  for _, alternative in ipairs(split(os.getenv("BENCH_EXPECT") or "", "||")) do
    table.insert(alternatives, split(alternative, "&&"))
  end
  path = os.getenv("BENCH_PATH")
  fixed_auth = os.getenv("BENCH_AUTH") or ""
  content_type = os.getenv("BENCH_TYPE") or "application/x-www-form-urlencoded"
  close = os.getenv("BENCH_CLOSE") == "1"
  nxt, responses, wrong, non2xx, exhausted = 0, 0, 0, 0, 0
  if not single_use then
    nxt = math.floor(id * #lines / nthreads)
  end
  sample = ""
end

function request()
  nxt = nxt + 1
  if nxt > #lines then
    if single_use then
      exhausted = exhausted + 1
    end
    nxt = 1
  end
  local line = lines[nxt]
  local auth = line[1] ~= "" and line[1] or fixed_auth
  local headers = { ["Content-Type"] = content_type }
  if close then
    headers["Connection"] = "close"
  end
  if auth ~= "" then
    headers["Authorization"] = auth
  end
  return wrk.format("POST", path, headers, line[2])
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  local ok = status == expected_status
  if ok then
    ok = false
    for _, parts in ipairs(alternatives) do
      local all = true
      for _, p in ipairs(parts) do
        if not string.find(body, p) then
          all = false
          break
        end
      end
      if all then
        ok = true
        break
      end
    end
  end
  if not ok then
    wrong = wrong + 1
    if sample == "" then
      sample = tostring(status) .. " " .. string.sub(body, 1, 200)
    end
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local responses_, wrong_, non2xx_, exhausted_, sample_ = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    responses_ = responses_ + t:get("responses")
    wrong_ = wrong_ + t:get("wrong")
    non2xx_ = non2xx_ + t:get("non2xx")
    exhausted_ = exhausted_ + t:get("exhausted")
    if sample_ == "" then
      sample_ = t:get("sample")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"responses":%d,"wrong":%d,"non2xx":%d,'
      .. '"exhausted":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"socket_errors":%d,"sample":%s}\n',
    summary.requests, summary.duration, responses_, wrong_, non2xx_, exhausted_,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect + e.read + e.write + e.timeout, quote(sample_)))
end
