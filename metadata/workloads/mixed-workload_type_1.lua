-- wrk2 script for Hotel Reservation (AIOpsLab: hotelReservation/wrk2/scripts/hotel-reservation/
-- mixed-workload_type_1.lua). Every call of request() picks one of four requests:
--   60%   GET  /hotels           search hotels near a point for a stay in April 2015
--   39%   GET  /recommendations  recommend hotels by distance, rate or price
--   0.5%  POST /user             log in as one of the seeded users Cornell_0..Cornell_500
--   0.5%  POST /reservation      book one room
-- The request line carries an absolute URI on localhost:5000 (as the upstream script does); wrk2
-- sends it to the host and port given on its command line (the frontend Service). POST requests
-- carry their parameters in the query string and have no body.

local base = "http://localhost:5000"

local SEARCH_SHARE = 0.6
local RECOMMEND_SHARE = 0.39
local USER_SHARE = 0.005
-- the remaining 0.005 are reservations

local function two_digits(n)
  return string.format("%02d", n)
end

-- Somewhere around San Francisco, where the seeded hotels are.
local function random_point()
  local lat = 38.0235 + (math.random(0, 481) - 240.5) / 1000.0
  local lon = -122.095 + (math.random(0, 325) - 157.0) / 1000.0
  return tostring(lat), tostring(lon)
end

-- User Cornell_<n> has the password <n> written ten times.
local function random_user()
  local id = math.random(0, 500)
  return "Cornell_" .. tostring(id), string.rep(tostring(id), 10)
end

local function search_hotels()
  local in_day = math.random(9, 23)
  local out_day = math.random(in_day + 1, 24)
  local lat, lon = random_point()
  local path = base .. "/hotels?inDate=2015-04-" .. two_digits(in_day) ..
    "&outDate=2015-04-" .. two_digits(out_day) .. "&lat=" .. lat .. "&lon=" .. lon
  return wrk.format("GET", path, {}, nil)
end

local function recommend()
  local coin = math.random()
  local require_by
  if coin < 0.33 then
    require_by = "dis"
  elseif coin < 0.66 then
    require_by = "rate"
  else
    require_by = "price"
  end
  local lat, lon = random_point()
  local path = base .. "/recommendations?require=" .. require_by .. "&lat=" .. lat .. "&lon=" .. lon
  return wrk.format("GET", path, {}, nil)
end

local function login()
  local username, password = random_user()
  local path = base .. "/user?username=" .. username .. "&password=" .. password
  return wrk.format("POST", path, {}, nil)
end

local function reserve()
  local in_day = math.random(9, 23)
  local out_day = in_day + math.random(1, 5)
  local hotel_id = math.random(1, 80)
  local username, password = random_user()
  -- The upstream script sends the literal text "nil" for lat and lon (it concatenates
  -- variables it never set); the frontend ignores both parameters on /reservation.
  local path = base .. "/reservation?inDate=2015-04-" .. two_digits(in_day) ..
    "&outDate=2015-04-" .. two_digits(out_day) .. "&lat=nil&lon=nil" ..
    "&hotelId=" .. tostring(hotel_id) .. "&customerName=" .. username ..
    "&username=" .. username .. "&password=" .. password .. "&number=1"
  return wrk.format("POST", path, {}, nil)
end

-- wrk runs this script once per thread, each in its own Lua state: give every thread its own
-- seed so that the threads do not send identical sequences.
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
  local coin = math.random()
  if coin < SEARCH_SHARE then
    return search_hotels()
  elseif coin < SEARCH_SHARE + RECOMMEND_SHARE then
    return recommend()
  elseif coin < SEARCH_SHARE + RECOMMEND_SHARE + USER_SHARE then
    return login()
  else
    return reserve()
  end
end
