-- wrk script of the Portico benchmark. BENCH_MODE picks the traffic:
--   post    POST /e/bench, a 300-byte JSON body, a random seeded token   (also the ceiling's load)
--   flood   POST /e/bench with unknown (well-formed) and malformed tokens
--   get     GET /e/bench?limit=100 with a random seeded token
--   page    (the ceiling) GET /e/bench?bytes=BENCH_PAGE_BYTES, a page from memory
--   viewer  GET /api/v1/calls?token=ID&limit=50 with the admin API key, a random seeded token id
--   viewer_day  the same within BENCH_DAY_SINCE..BENCH_DAY_UNTIL (one day)
--   search  GET /api/v1/calls?limit=50&q=BENCH_Q (text in payload)
--   token_list  GET /ui/tokens?q=… (the admin's token list, a search term matching about
--           ten of the seeded bench-NNNNN names) with the session cookie BENCH_COOKIE
--   health  GET /ui/health (the Health page: worst first, the silent ones, a search,
--           a later page of the failing ones) with the session cookie BENCH_COOKIE
-- BENCH_DIR holds what `bench-seed api` wrote. Requests are formatted once, in init, so
-- the generator spends its time sending, not building strings.

local mode = os.getenv("BENCH_MODE") or "post"
local dir = os.getenv("BENCH_DIR") or "."
local requests = {}
local counter = 0

local function lines(name)
  local out = {}
  local f = io.open(dir .. "/" .. name, "r")
  if f == nil then return out end
  for line in f:lines() do
    if #line > 0 then out[#out + 1] = line end
  end
  f:close()
  return out
end

local function pick(list)
  return list[math.random(#list)]
end

-- BENCH_PAD=varied: the pad is 220 random letters and digits instead of a run of x
local varied = os.getenv("BENCH_PAD") == "varied"
local pad_alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

local function body()
  local pad = string.rep("x", 220)
  if varied then
    local t = {}
    for j = 1, 220 do
      local k = math.random(#pad_alphabet)
      t[j] = pad_alphabet:sub(k, k)
    end
    pad = table.concat(t)
  end
  return '{"sensor":"bench","reading":' .. math.random(1000000) .. ',"pad":"' .. pad .. '"}'
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  local n = 4000
  if mode == "post" then
    local tokens = lines("tokens.txt")
    if #tokens == 0 then tokens = { "none" } end
    for i = 1, n do
      local b = body()
      requests[i] = wrk.format("POST", "/e/bench", {
        ["Authorization"] = "Bearer " .. pick(tokens),
        ["Content-Type"] = "application/json",
      }, b)
    end
  elseif mode == "flood" then
    local unknown = lines("unknown.txt")
    local alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for i = 1, n do
      local token
      if i % 2 == 0 then
        token = pick(unknown)
      else
        -- malformed: a wrong checksum, a wrong length or a character outside the alphabet
        local t = {}
        local len = ({ 64, 63, 70 })[i % 3 + 1]
        for j = 1, len do
          local k = math.random(#alphabet)
          t[j] = alphabet:sub(k, k)
        end
        if i % 5 == 0 then t[10] = "-" end
        token = table.concat(t)
      end
      requests[i] = wrk.format("POST", "/e/bench", {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
      }, body())
    end
  elseif mode == "get" then
    local tokens = lines("tokens.txt")
    for i = 1, n do
      requests[i] = wrk.format("GET", "/e/bench?limit=100", {
        ["Authorization"] = "Bearer " .. pick(tokens),
      })
    end
  elseif mode == "page" then
    -- the ceiling only: a page of BENCH_PAGE_BYTES from memory
    local bytes = os.getenv("BENCH_PAGE_BYTES") or "32768"
    for i = 1, n do
      requests[i] = wrk.format("GET", "/e/bench?bytes=" .. bytes)
    end
  elseif mode == "viewer" or mode == "viewer_day" then
    local ids = lines("ids.txt")
    local key = lines("api_key.txt")[1]
    local range = ""
    if mode == "viewer_day" then
      range = "&since=" .. os.getenv("BENCH_DAY_SINCE") .. "&until=" .. os.getenv("BENCH_DAY_UNTIL")
    end
    for i = 1, n do
      requests[i] = wrk.format("GET", "/api/v1/calls?limit=50&token=" .. pick(ids) .. range, {
        ["Authorization"] = "Bearer " .. key,
      })
    end
  elseif mode == "search" then
    -- the viewer's "text in payload": BENCH_Q (URL-encoded), no other filter
    local key = lines("api_key.txt")[1]
    for i = 1, n do
      requests[i] = wrk.format("GET", "/api/v1/calls?limit=50&q=" .. os.getenv("BENCH_Q"), {
        ["Authorization"] = "Bearer " .. key,
      })
    end
  elseif mode == "token_list" then
    local cookie = os.getenv("BENCH_COOKIE")
    for i = 1, n do
      requests[i] = wrk.format("GET", "/ui/tokens?q=" .. string.format("0%03d", math.random(0, 999)), {
        ["Cookie"] = cookie,
      })
    end
  elseif mode == "health" then
    local cookie = os.getenv("BENCH_COOKIE")
    local paths = {"/ui/health", "/ui/health?state=silent", "/ui/health?state=failing&page=2"}
    for i = 1, n do
      local path = paths[(i % 4) + 1] or ("/ui/health?q=bench-0" .. string.format("%03d", math.random(0, 999)))
      requests[i] = wrk.format("GET", path, {["Cookie"] = cookie})
    end
  end
end

function request()
  counter = counter + 1
  if counter > #requests then counter = 1 end
  return requests[counter]
end

statuses = {}
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      codes[#codes + 1] = code .. ":" .. count
    end
  end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d errors=%d statuses=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(codes, ",")))
end
