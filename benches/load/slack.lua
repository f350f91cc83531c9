-- Signed Slack slash commands: each request a /mulesoft-health (or, with
-- probability CSIP_SLACK_UPDATE_SHARE, a /mulesoft-update of one of the
-- account's metrics), signed as Slack signs it — HMAC-SHA256 of
-- "v0:{timestamp}:{body}" with CSIP_SLACK_SIGNING_SECRET, the timestamp the
-- current time. The account is CSIP_SLACK_ACCOUNT, the caller
-- CSIP_SLACK_USER, the metric CSIP_SLACK_METRIC. SHA-256 and HMAC are
-- written here in LuaJIT's bit operations (wrk has no crypto library); the
-- server refusing a signature would show as non-2xx answers.
dofile(os.getenv("CSIP_LOAD_DIR") .. "/report.lua")
local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit = bit.rshift, bit.lshift, bit.ror, bit.tobit

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function sha256(msg)
  local bits = #msg * 8
  msg = msg .. "\128" .. string.rep("\0", (55 - #msg) % 64) .. string.char(
    0, 0, 0, 0,
    band(rshift(bits, 24), 255), band(rshift(bits, 16), 255),
    band(rshift(bits, 8), 255), band(bits, 255))
  local H = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  for i = 1, 8 do H[i] = tobit(H[i]) end
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do
      local a, b, c, d = msg:byte(chunk + i * 4, chunk + i * 4 + 3)
      w[i] = tobit(bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d))
    end
    for i = 16, 63 do
      local s0 = bxor(ror(w[i - 15], 7), ror(w[i - 15], 18), rshift(w[i - 15], 3))
      local s1 = bxor(ror(w[i - 2], 17), ror(w[i - 2], 19), rshift(w[i - 2], 10))
      w[i] = tobit(w[i - 16] + s0 + w[i - 7] + s1)
    end
    local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
    for i = 0, 63 do
      local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
      local ch = bxor(band(e, f), band(bnot(e), g))
      local t1 = tobit(h + S1 + ch + tobit(K[i + 1]) + w[i])
      local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
      local maj = bxor(band(a, b), band(a, c), band(b, c))
      local t2 = tobit(S0 + maj)
      h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
    end
    H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
    H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
  end
  local out = {}
  for i = 1, 8 do
    local x = H[i]
    out[i] = string.char(band(rshift(x, 24), 255), band(rshift(x, 16), 255),
                         band(rshift(x, 8), 255), band(x, 255))
  end
  return table.concat(out)
end

local function hmac_sha256(key, msg)
  if #key > 64 then key = sha256(key) end
  key = key .. string.rep("\0", 64 - #key)
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local k = key:byte(i)
    ipad[i] = string.char(bxor(k, 0x36))
    opad[i] = string.char(bxor(k, 0x5c))
  end
  return sha256(table.concat(opad) .. sha256(table.concat(ipad) .. msg))
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function encode(s)
  return (s:gsub("[^%w%-_%.%*]", function(c)
    if c == " " then return "+" end
    return string.format("%%%02X", c:byte())
  end))
end

local secret = os.getenv("CSIP_SLACK_SIGNING_SECRET")
-- Slack's documented example, checked once: a wrong hash fails loudly here.
local example = "v0:1531420618:token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
assert(hex(hmac_sha256("8f742231b10e8888abcd99yyyzzz85a5", example))
  == "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
  "the Lua HMAC-SHA256 does not give Slack's documented signature")

local account = os.getenv("CSIP_SLACK_ACCOUNT")
local user = os.getenv("CSIP_SLACK_USER")
local metric = os.getenv("CSIP_SLACK_METRIC")
local share = tonumber(os.getenv("CSIP_SLACK_UPDATE_SHARE") or "0")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed or 1)
  n = 0
  -- Trigger ids unique across runs: the outbox drops a repeated one.
  run = os.time()
end

function request()
  n = n + 1
  local command, text
  if math.random() < share then
    command = "/mulesoft-update"
    text = string.format('"%s" "%s" %d', account, metric, math.random(0, 100))
  else
    command = "/mulesoft-health"
    text = account
  end
  local body = "token=x&team_id=T1&team_domain=t&channel_id=C1&channel_name=cs&user_id=" .. encode(user)
    .. "&user_name=load&command=" .. encode(command) .. "&text=" .. encode(text)
    .. "&response_url=" .. encode("http://127.0.0.1:9/response")
    .. "&trigger_id=" .. string.format("load.%d.%d.%d", run, seed or 1, n)
  local stamp = tostring(os.time())
  local signature = "v0=" .. hex(hmac_sha256(secret, "v0:" .. stamp .. ":" .. body))
  return wrk.format("POST", "/slack/commands", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Slack-Request-Timestamp"] = stamp,
    ["X-Slack-Signature"] = signature,
  }, body)
end
