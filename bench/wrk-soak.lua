-- wrk script for bench/soak.sh: one client per wrk thread (run it with as many threads as
-- connections), requesting the paths of the file given after `--` round robin from a
-- per-thread start. Environment:
--   SOAK_CLIENTS   first three octets of the clients' addresses, sent as X-Forwarded-For
--                  (the server trusts 127.0.0.1 as a proxy): thread N is <prefix>.N
--   SOAK_ONE       when set, every thread sends this one address instead (one abusive client
--                  on many connections)
--   SOAK_DELAY_MS  pause between a connection's requests (a person at a map, not a loop)
-- At the end it prints "statuses: 200=… 429=…" over every thread.
local threads = {}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end

local paths = {}
local n = 0
local address
statuses = {}

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  n = (id * 7919) % #paths
  local one = os.getenv("SOAK_ONE")
  if one == nil or one == "" then
    one = nil
  end
  address = one or ((os.getenv("SOAK_CLIENTS") or "10.0.0") .. "." .. id)
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {
    ["Accept-Encoding"] = "gzip",
    ["X-Forwarded-For"] = address,
  })
end

local pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      total[k] = (total[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(total) do
    parts[#parts + 1] = k .. "=" .. v
  end
  table.sort(parts)
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
