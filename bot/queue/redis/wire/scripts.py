"""Lua scripts: the steps that must be atomic, so a crash between two commands cannot break a guarantee."""

from __future__ import annotations

#: Store a job's one outcome and acknowledge its jobs-stream entry, in one step.
#: KEYS: result hash, jobs stream, events stream, job hash.
#: ARGV: entry id ('' for none), group, ttl seconds, announce ('1': add the finished event),
#:       n (number of result field/value items), the n items, then the finished event's field/value items.
#: The result is written only if none exists (the first finish wins: a reclaimed job that a slow
#: worker also finishes is seen once), and acknowledged only in the same step as it is stored
#: (at least once: a crash before this leaves the entry pending, to be reclaimed).
FINISH = """
local first = redis.call('EXISTS', KEYS[1]) == 0
local n = tonumber(ARGV[5])
if first then
  local fields = {}
  for i = 6, 5 + n do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  if ARGV[4] == '1' then
    local event = {}
    for i = 6 + n, #ARGV do event[#event + 1] = ARGV[i] end
    redis.call('XADD', KEYS[3], '*', unpack(event))
  end
  if redis.call('EXISTS', KEYS[4]) == 1 then
    -- the inputs (and a clip's finished frames) are no longer needed: free their memory now rather than at the TTL
    local drop = {}
    for _, name in ipairs(redis.call('HKEYS', KEYS[4])) do
      local prefix = string.sub(name, 1, 6)
      if name == 'content' or name == 'init' or prefix == 'style:' or prefix == 'frame:' then drop[#drop + 1] = name end
    end
    if #drop > 0 then redis.call('HDEL', KEYS[4], unpack(drop)) end
    redis.call('HSET', KEYS[4], 'status', 'done')
  end
end
if ARGV[1] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])
  redis.call('XDEL', KEYS[2], ARGV[1])
end
if first then return 1 end
return 0
"""

#: Keep a running job's entry from looking idle, only while this worker still owns it.
#: KEYS: jobs stream. ARGV: group, consumer, entry id. Returns 1 if still owned, 0 if another worker took it.
#: XCLAIM with JUSTID resets the idle time without counting a delivery; the XPENDING filter by
#: consumer stops a worker that was presumed dead (and reclaimed) from stealing the entry back.
KEEPALIVE = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

#: Hand a job back on a clean stop: make its entry idle enough to be reclaimed at once, and take
#: back the delivery this worker used (a stop is not the job's fault, so it does not count toward
#: max_deliveries). KEYS: jobs stream. ARGV: group, consumer, entry id, idle ms.
HANDBACK = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then return 0 end
local deliveries = tonumber(pending[1][4])
local back = deliveries - 1
if back < 0 then back = 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'RETRYCOUNT', back, 'JUSTID')
return 1
"""


def reclaimable_now_ms(reclaim_after_s: float) -> int:
    """An idle time (HANDBACK's ARGV) past `reclaim_after_s`: any worker's next XAUTOCLAIM takes the entry."""
    return int(reclaim_after_s * 1000) + 1000


#: A worker's heartbeat is gone while the job it read from the stream is still 'dispatched' (it died
#: before starting it): hand the entry back as HANDBACK does, at once rather than after reclaim_after_s.
#: A started job keeps the reclaim rule (its worker may only be slow). KEYS: jobs stream, job hash,
#: the worker's heartbeat. ARGV: HANDBACK's, the consumer being the dead worker.
RESCUE = (
    """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('HGET', KEYS[2], 'status') ~= 'dispatched' then return 0 end
"""
    + HANDBACK
)

#: Take a dead worker's name out of the workers' group, once it holds no entry: the entries it read
#: are handed back (RESCUE) or reclaimed by other workers first, since DELCONSUMER drops what it holds.
#: KEYS: jobs stream, the worker's heartbeat. ARGV: group, consumer.
#: Returns 1 when it is gone from the group (or there is no stream), 0 while it still holds entries,
#: -1 when its heartbeat is back (a worker cut off for a while, not dead).
FORGET = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

#: Hand a job to the workers: its hash (parameters and images) and its stream entry in one step, the
#: entry's id kept in the hash so that the bot can tell later whether Redis still has it (JOB_STATE).
#: KEYS: job hash, jobs stream. ARGV: ttl seconds, job id, then the hash's field/value items.
DISPATCH = """
local entry = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'status', 'dispatched', 'entry', entry, unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return entry
"""

#: What Redis knows of a job the bot follows: 'result' (finished: its event is on its way), else its
#: hash's status while its stream entry is still there, else 'lost' (no hash, or its entry is gone).
#: KEYS: result hash, job hash, jobs stream.
JOB_STATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'result' end
local status = redis.call('HGET', KEYS[2], 'status')
if not status then return 'lost' end
local entry = redis.call('HGET', KEYS[2], 'entry')
if entry and #redis.call('XRANGE', KEYS[3], entry, entry) == 0 then return 'lost' end
return status
"""
