-- wrk2 script for Social Network (AIOpsLab: socialNetwork/wrk2/scripts/social-network/
-- compose-post.lua). Every request composes one post:
--   POST /wrk2-api/post/compose, Content-Type application/x-www-form-urlencoded, body
--   username=username_<i>&user_id=<i>&text=<text>&media_ids=[...]&media_types=[...]&post_type=0
-- with <i> uniform in 0 .. max_user_index-1 (environment variable max_user_index, default 962),
-- <text> = 256 random letters and digits, then 1..6 mentions " @username_<j>" (j ~= i) and 1..6
-- links " http://<64 random letters and digits>", and 1..5 media ids of 18 digits, all "png".
-- The body is sent as is (not percent-encoded), like the upstream script. The request line
-- carries an absolute URI on localhost:8080; wrk2 sends it to the host and port given on its
-- command line (the nginx-thrift Service).

local path = "http://localhost:8080/wrk2-api/post/compose"
local max_user_index = tonumber(os.getenv("max_user_index")) or 962

local ALNUM = "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM1234567890"
local DIGITS = "1234567890"

local function random_from(alphabet, length)
  local chars = {}
  for k = 1, length do
    local at = math.random(1, #alphabet)
    chars[k] = alphabet:sub(at, at)
  end
  return table.concat(chars)
end

local function other_user(user_index)
  while true do
    local candidate = math.random(0, max_user_index - 1)
    if candidate ~= user_index then
      return candidate
    end
  end
end

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local index = tonumber(thread_index) or 0
  math.randomseed(os.time() + 7919 * index)
  math.random(); math.random(); math.random()
end

function request()
  local user_index = math.random(0, max_user_index - 1)
  local mentions = math.random(0, 5) + 1
  local links = math.random(0, 5) + 1
  local media = math.random(0, 4) + 1

  local text = { random_from(ALNUM, 256) }
  for _ = 1, mentions do
    text[#text + 1] = " @username_" .. tostring(other_user(user_index))
  end
  for _ = 1, links do
    text[#text + 1] = " http://" .. random_from(ALNUM, 64)
  end

  local ids, types = {}, {}
  for k = 1, media do
    ids[k] = '"' .. random_from(DIGITS, 18) .. '"'
    types[k] = '"png"'
  end

  local body = "username=username_" .. tostring(user_index) ..
    "&user_id=" .. tostring(user_index) ..
    "&text=" .. table.concat(text) ..
    "&media_ids=[" .. table.concat(ids, ",") .. "]" ..
    "&media_types=[" .. table.concat(types, ",") .. "]" ..
    "&post_type=0"

  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  return wrk.format("POST", path, headers, body)
end
