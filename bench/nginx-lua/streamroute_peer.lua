-- Copyright (c) 2026 The streamroute authors
-- SPDX-License-Identifier: BSD-2-Clause
--
-- streamroute_peer.lua -- the route look-up of the benchmark's third
-- system, NGINX + Lua + Redis: the origin a team would build instead of
-- streamroute.  Loaded by bench/nginx-lua/nginx.conf.in.
--
--   access phase:   path check (400), route from a 1 s per-worker LRU
--                   cache or a Redis GET (404 unknown, 503 Redis down)
--   balancer phase: ngx.balancer.set_current_peer(ip, port)
--
-- Redis is spoken to directly (lua-resty-redis is not in Debian): one GET
-- in RESP over ngx.socket.tcp, with timeouts and the cosocket keepalive
-- pool.  Media servers write "SET <key> <ip>:<port> EX <ttl>".

local lrucache = require "resty.lrucache"
local balancer = require "ngx.balancer"

local stats = ngx.shared.sr_stats   -- media fetches (nginx.conf)
local re_match = ngx.re.match
local now = ngx.now
local exit = ngx.exit
local log, ERR, WARN = ngx.log, ngx.ERR, ngx.WARN

local _M = {}

local conf = {
    redis_host = "127.0.0.1",
    redis_port = 6379,
    timeout_ms = 250,       -- connect, send and read (redis_timeout)
    pool_size = 32,         -- idle connections kept per worker
    idle_ms = 60000,
    route_ttl = 1,          -- seconds (route_ttl)
    negative_ttl = 1,       -- an unknown stream is asked again after 1 s
    retry_after = 1,        -- after a Redis failure, fail fast this long
    cache_items = 10000,
}

local routes           -- per worker: key -> {ip, port} or false (unknown)
local redis_down = false      -- per worker: the last GET failed
local redis_down_until = 0    -- no GET before then

function _M.configure(t)
    for k, v in pairs(t) do
        conf[k] = v
    end
end

function _M.init_worker()
    local c, err = lrucache.new(conf.cache_items)
    if not c then
        error("lrucache: " .. tostring(err))
    end
    routes = c
end

-- The peer closed the connection (a restart, its idle timeout).
local function gone(err)
    return err == "closed" or err:find("reset", 1, true) ~= nil
end

-- One GET on a pooled (or new) connection: the value, false when the key
-- does not exist, or nil, an error and whether to retry (a pooled
-- connection that Redis had closed).
local function get_once(key)
    local sock = ngx.socket.tcp()
    sock:settimeouts(conf.timeout_ms, conf.timeout_ms, conf.timeout_ms)
    local ok, err = sock:connect(conf.redis_host, conf.redis_port)
    if not ok then
        return nil, "connect: " .. err, false
    end
    local reused = sock:getreusedtimes() > 0
    ok, err = sock:send({"*2\r\n$3\r\nGET\r\n$", #key, "\r\n", key, "\r\n"})
    if not ok then
        sock:close()
        return nil, "send: " .. err, reused and gone(err)
    end
    local line
    line, err = sock:receive("*l")
    if not line then
        sock:close()
        return nil, "read: " .. err, reused and gone(err)
    end
    local val
    if line == "$-1" then
        val = false
    elseif line:byte(1) == 36 then      -- "$<len>"
        local n = tonumber(line:sub(2))
        if not n or n < 0 or n > 512 then
            sock:close()
            return nil, "bad reply " .. line, false
        end
        local data
        data, err = sock:receive(n + 2)
        if not data then
            sock:close()
            return nil, "read: " .. err, false
        end
        val = data:sub(1, n)
    else
        -- "-ERR ...", "-NOAUTH ...": not worth keeping the connection
        sock:close()
        return nil, "redis: " .. line, false
    end
    sock:setkeepalive(conf.idle_ms, conf.pool_size)
    return val
end

-- GET <key>.  The key has been checked ([A-Za-z0-9._-]{1,128}) and goes
-- as a length-prefixed bulk string anyway.  A pooled connection may have
-- been closed by Redis (restart, idle timeout): one retry on a new one.
local function redis_get(key)
    local v, err, retry = get_once(key)
    if v == nil and retry then
        v, err = get_once(key)
    end
    return v, err
end

-- "ip:port" -> {ip, port}, or nil for anything else (answered 503).
local function parse_route(v)
    local m = re_match(v, [[^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$]], "jo")
    if not m then
        return nil
    end
    local port = tonumber(m[2])
    if port < 1 or port > 65535 then
        return nil
    end
    return {m[1], port}
end

-- The stream key of a request URI (raw, before NGINX decodes and
-- normalises it), or nil: the same syntax as streamroute.key() with an
-- empty prefix.
local function stream_key(uri)
    if #uri > 2048 then
        return nil
    end
    local m = re_match(uri,
        [[^/([A-Za-z0-9._-]{1,128})((?:/[A-Za-z0-9._~-]+)+)(?:\?.*)?$]], "jo")
    if not m or #m[2] > 1024 then
        return nil
    end
    local key = m[1]
    if key == "." or key == ".." or re_match(m[2], [[/\.\.?(?:/|$)]], "jo") then
        return nil
    end
    return key
end

function _M.access()
    local key = stream_key(ngx.var.request_uri)
    if not key then
        return exit(400)
    end
    local route, stale = routes:get(key)
    if route == nil then
        local v, err
        if now() >= redis_down_until then
            if redis_down then
                -- this request probes; the others keep failing fast
                -- rather than each waiting for a hung Redis
                redis_down_until = now() + conf.retry_after
            end
            v, err = redis_get(key)
            if v == nil then
                log(WARN, "redis GET ", key, ": ", err)
                redis_down = true
                redis_down_until = now() + conf.retry_after
            elseif redis_down then
                redis_down = false
                redis_down_until = 0
            end
        end
        if v == nil then
            if not stale then
                -- no route known: the balancer answers 503 unless the
                -- response comes from the cache
                ngx.ctx.noroute = true
                return
            end
            -- Redis is down: keep routing a known stream with its last
            -- route
            route = stale
        elseif v == false then
            routes:set(key, false, conf.negative_ttl)
            return exit(404)
        else
            route = parse_route(v)
            if not route then
                log(ERR, "bad route for ", key, ": ", v)
                return exit(503)
            end
            routes:set(key, route, conf.route_ttl)
        end
    elseif route == false then
        return exit(404)
    end
    ngx.ctx.route = route
end

function _M.balancer()
    local route = ngx.ctx.route
    if not route then
        -- proxy_cache_background_update's subrequest skips the access
        -- phase and has its own (empty) ngx.ctx: route from the cache
        -- the main request just filled
        if ngx.ctx.noroute then
            return exit(ngx.ERROR)    -- 500, turned into 503 (nginx.conf)
        end
        local key = stream_key(ngx.var.request_uri)
        local stale
        if key then
            route, stale = routes:get(key)
            route = route or stale
        end
        if not route then
            return exit(ngx.ERROR)
        end
    end
    local ok, err = balancer.set_current_peer(route[1], route[2])
    if not ok then
        log(ERR, "set_current_peer: ", err)
        return exit(ngx.ERROR)
    end
    stats:incr("fetches", 1, 0)
end

return _M
