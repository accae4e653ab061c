"""`stylebot worker`: `process.run_worker` runs one `redis_worker.RedisWorker` (one engine thread) until stopped."""
