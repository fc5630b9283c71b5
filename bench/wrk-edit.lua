-- wrk script: PATCHes of parcels through OGC API – Features Part 4, one parcel per wrk thread
-- (run with -t N -c N): each thread sets place_name again and again, each write carrying the
-- ETag the previous answer gave (the first one reads it with a GET). The parcel ids come from
-- the file given after `--` (one per line), the token from BANDO_BEARER. Any answer other than
-- 200/204 is counted by wrk as non-2xx and makes the thread read the tag again.
-- With EDIT_KIND=geometry each line is `id<TAB>geometry A<TAB>geometry B` (CRS84 GeoJSON) and
-- each thread PATCHes its parcel's geometry to A, B, A, … (a vertex moved and moved back):
-- snapping to the neighbours, the overlap and gap rules and the shared vertices run each time.
local geometry_mode = os.getenv("EDIT_KIND") == "geometry"
local ids = {}
local threads = {}
local next_thread = 0
function setup(thread)
  threads[#threads + 1] = thread
  if #ids == 0 then
    for line in io.lines(os.getenv("EDIT_IDS")) do
      ids[#ids + 1] = line
    end
  end
  next_thread = next_thread + 1
  local line = ids[((next_thread - 1) % #ids) + 1]
  if geometry_mode then
    local id, a, b = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    thread:set("parcel", id)
    thread:set("shape_a", a)
    thread:set("shape_b", b)
  else
    thread:set("parcel", line)
  end
end
local bearer = os.getenv("BANDO_BEARER")
local tag = nil
local n = 0
function request()
  local path = "/collections/parcels/items/" .. parcel
  local headers = { ["Authorization"] = "Bearer " .. bearer }
  if tag == nil then
    return wrk.format("GET", path, headers)
  end
  n = n + 1
  headers["Content-Type"] = "application/merge-patch+json"
  headers["If-Match"] = tag
  headers["Edit-Reason"] = "bench"
  headers["Edit-Document"] = "QD%2012%2F2026"
  if geometry_mode then
    local shape = (n % 2 == 1) and shape_b or shape_a
    return wrk.format("PATCH", path, headers, '{"geometry":' .. shape .. '}')
  end
  return wrk.format("PATCH", path, headers,
    string.format('{"properties":{"place_name":"bench %s %d"}}', parcel, n))
end
refused = {}
function response(status, headers, body)
  if status ~= 200 and status ~= 204 then
    refused[status] = (refused[status] or 0) + 1
  end
  local t = headers["ETag"] or headers["etag"]
  if (status == 200 or status == 204) and t then
    tag = t
  else
    tag = nil
  end
end
-- The refused writes by status, over every thread (printed after wrk's summary).
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("refused") or {}) do
      total[status] = (total[status] or 0) + n
    end
  end
  for status, n in pairs(total) do
    io.write(string.format("refused %d: %d\n", status, n))
  end
end
