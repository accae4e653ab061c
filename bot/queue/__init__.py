"""The job queue: its interface (`interface`: `JobQueue`, `JobEvents`, the waits and refusals), the messages
that cross it (`messages`), and its backends: `in_process` (this process's engine thread) and `redis`
(`stylebot worker` processes). `engine` holds the engine thread both backends run jobs on.

`IDLE_WAIT` and `ENGINE_WAIT`, the reasons its long waits give a test harness, are importable from here.
"""

from __future__ import annotations

from bot.queue.interface import ENGINE_WAIT, IDLE_WAIT

__all__ = ["ENGINE_WAIT", "IDLE_WAIT"]
