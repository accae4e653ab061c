"""The bot's side of the Redis backend: `redis_queue.RedisQueue` and the loops it runs."""
