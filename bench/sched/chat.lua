-- wrk script: one-token chat completions through weft-scheduler.
-- WEFT_KEY is the API key; the nodes answer instantly (testnode --fast).
wrk.method = "POST"
-- WEFT_STREAM=1 streams the answer (server-sent events).
local stream = os.getenv("WEFT_STREAM") == "1" and ',"stream":true' or ''
wrk.body = '{"model":"test-model","messages":[{"role":"user","content":"hi"}],"max_tokens":1' ..
           stream .. '}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WEFT_KEY")
