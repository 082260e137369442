-- wrk script: node heartbeats, each connection one request every
-- WEFT_HB_MS (default 5000) ms, node tokens taken in turn from WEFT_TOKENS.
local tokens = {}
local next_i = 1
local period = tonumber(os.getenv("WEFT_HB_MS") or "5000")
local body = '{"budget_w":250,"policy_state":"on","deferrable":true,"interactive":true,' ..
             '"pv_w":3200,"load_w":700,"grid_w":-2100,"battery_w":400,"soc":81,"jobs":[]}'

function init(args)
  for line in io.lines(os.getenv("WEFT_TOKENS")) do tokens[#tokens + 1] = line end
  next_i = math.random(#tokens)
end

function delay()
  return period
end

function request()
  local t = tokens[next_i]
  next_i = next_i % #tokens + 1
  return wrk.format("POST", "/v1/node/heartbeat",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t},
                    body)
end
