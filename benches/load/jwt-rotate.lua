-- benches/load/jwt-rotate.lua: the wrk script of gateway-jwt-many (benches/load.sh). Every
-- request carries the next bearer token of a file, so the gateway's validated-token cache
-- answers from as many entries as there are tokens, not from one.
--   wrk ... -s benches/load/jwt-rotate.lua <url> -- <tokens file> <wrk threads>
-- Thread i of n takes the i-th n-th of the tokens (one pass of all threads together sends
-- every token once) and cycles through it. The requests are formatted once in init, so a
-- request costs wrk a table lookup. benches/load/jwt-rotate-once.lua adds the first-pass
-- timing.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   local tokens = {}
   for line in io.lines(args[1]) do
      if line ~= "" then tokens[#tokens + 1] = line end
   end
   local threads = tonumber(args[2]) or 1
   local first = math.floor(#tokens * id / threads) + 1
   local last = math.floor(#tokens * (id + 1) / threads)
   requests = {}
   for i = first, last do
      wrk.headers["Authorization"] = "Bearer " .. tokens[i]
      requests[#requests + 1] = wrk.format()
   end
   wrk.headers["Authorization"] = nil
   slice = #requests
   sent = 0
   run_args = args
end

function request()
   sent = sent + 1
   return requests[(sent - 1) % slice + 1]
end
