-- POST one metric edit per request to a random metric (row ids 1..CSIP_METRICS).
dofile(os.getenv("CSIP_LOAD_DIR") .. "/report.lua")
local metrics = tonumber(os.getenv("CSIP_METRICS"))
local token = os.getenv("CSIP_TOKEN")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed or 1)
end

function request()
  local row = math.random(1, metrics)
  local value = math.random(0, 100000) / 100
  local body = string.format(
    '{"operations":[{"op":"set","table":"Platform_Health_Metrics","row_id":%d,"column":"Current_Value","value":%.2f}]}',
    row, value)
  return wrk.format("POST", "/api/v1/transactions",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
