-- wrk script: one-token chat completions through weft-scheduler.
-- WEFT_KEY is the API key; the nodes answer instantly (testnode --fast).
wrk.method = "POST"
wrk.body = '{"model":"test-model","messages":[{"role":"user","content":"hi"}],"max_tokens":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WEFT_KEY")
