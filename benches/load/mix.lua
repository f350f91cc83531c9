-- Reads and writes from the same connections: each request is a metric
-- edit with probability CSIP_WRITE_SHARE (default 0.1), else a GET of
-- CSIP_VIEW. One RESULT line for all of them.
dofile(os.getenv("CSIP_LOAD_DIR") .. "/report.lua")
local metrics = tonumber(os.getenv("CSIP_METRICS"))
local token = os.getenv("CSIP_TOKEN")
local view = os.getenv("CSIP_VIEW")
local share = tonumber(os.getenv("CSIP_WRITE_SHARE") or "0.1")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed or 1)
end

function request()
  if math.random() < share then
    local body = string.format(
      '{"operations":[{"op":"set","table":"Platform_Health_Metrics","row_id":%d,"column":"Current_Value","value":%.2f}]}',
      math.random(1, metrics), math.random(0, 100000) / 100)
    return wrk.format("POST", "/api/v1/transactions",
      { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", view, { ["Authorization"] = "Bearer " .. token })
end
