"""What the bot and its Redis workers share: key names, Lua scripts, how jobs, outcomes and events cross
Redis (`records`, `envelopes`), the worker's status record (`worker_info`), and connecting (`connection`)."""
