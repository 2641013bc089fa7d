-- benches/load/jwt-rotate-once.lua: gateway-jwt-many's cold first pass (benches/load.sh).
-- jwt-rotate.lua's rotation, and each wrk thread times its first pass through its slice of
-- the tokens: the wall clock (date +%s.%N) at its first request and when its slice-th
-- response arrives, written with the count of non-200 answers to <dir>/cold-<thread>.txt;
-- then the thread stops. wrk itself runs on until -d (its own req/s is meaningless here):
-- benches/load/measure.sh stops it once every thread has written its file.
--   wrk ... -s benches/load/jwt-rotate-once.lua <url> -- <tokens file> <wrk threads> <dir>
-- Run from the repository root (the rotation is loaded by a relative path).

dofile("benches/load/jwt-rotate.lua")

local function now()
   local p = io.popen("date +%s.%N")
   local t = p:read("*l")
   p:close()
   return t
end

local rotate = request
local started = nil
local answered, failed = 0, 0

function request()
   if not started then started = now() end
   return rotate()
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 then failed = failed + 1 end
   if answered == slice then
      local f = io.open(run_args[3] .. "/cold-" .. id .. ".txt", "w")
      f:write(started, " ", now(), " ", answered, " ", failed, "\n")
      f:close()
      wrk.thread:stop()
   end
end
