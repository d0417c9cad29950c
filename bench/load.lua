-- wrk script for bench/load.sh: cycles through the URLs a user session produces, and prints
-- requests/s, latency percentiles (ms) and errors (socket errors and non-2xx answers).
-- A line "HX /path" is requested as htmx does (an HX-Request header), for a page's fragments.
local paths = {}
local htmx = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("LOAD_URLS")) do
    if #line > 0 then
      local path = line:match("^HX (.*)$")
      paths[#paths + 1] = path or line
      htmx[#paths] = path ~= nil
    end
  end
end

function request()
  i = (i % #paths) + 1
  if htmx[i] then
    return wrk.format("GET", paths[i], {["HX-Request"] = "true"})
  end
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "requests %d in %.1f s: %.1f req/s; latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; errors %d (non-2xx %d, timeouts %d)\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors, summary.errors.status, summary.errors.timeout))
end
