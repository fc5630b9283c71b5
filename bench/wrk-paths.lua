-- wrk script: requests the paths listed in the file given after `--`, in order, round robin.
local paths = {}
local n = 0
function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], { ["Accept-Encoding"] = "gzip" })
end
