-- wrk script: requests the paths listed in the file given after `--`, in order, round robin.
-- With BANDO_BEARER set in the environment, every request carries that bearer token.
local paths = {}
local n = 0
function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
end
local bearer = os.getenv("BANDO_BEARER")
function request()
  n = n + 1
  local headers = { ["Accept-Encoding"] = "gzip" }
  if bearer and bearer ~= "" then
    headers["Authorization"] = "Bearer " .. bearer
  end
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
