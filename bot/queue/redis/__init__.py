"""The Redis backend of the job queue, in three parts:

- `bot_side`: `RedisQueue`, the bot's `JobQueue`: its fair waiting line, the dispatcher that hands a job
  to the jobs stream when a worker is free, the reader of the workers' events, the roll of workers,
  what dead workers leave, and the audit of jobs Redis lost;
- `worker_side`: `stylebot worker` (`process.run_worker`, `RedisWorker`): claims, the job runner on the
  engine thread, outcomes stored with the entry acknowledged, the worker's heartbeat;
- `wire`: what both sides share: keys, Lua scripts, the records and event envelopes that cross Redis,
  the worker's status record, the connection.

The worker side never imports the bot side (an import-linter contract), and this package imports
nothing, so that a worker importing it loads no part of the bot.
"""
