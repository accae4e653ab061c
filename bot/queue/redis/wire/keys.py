"""Every Redis key, stream, group and channel the bot and its workers share, under one prefix.

One prefix per bot (`[queue] key_prefix`), so several bots can share a Redis server.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How long a job's inputs and result stay in Redis: longer than a job waits in the stream and runs.
JOB_TTL_S = 24 * 3600
#: The workers' consumer group on the jobs stream, and the bot's on the events stream.
WORKERS_GROUP = "workers"
BOT_GROUP = "bot"
#: The one bot reads the events stream under this consumer name; a restarted bot takes over its
#: pending (delivered, not yet acknowledged) events because the name stays the same.
BOT_CONSUMER = "bot"


@dataclass(frozen=True)
class Keys:
    prefix: str

    @property
    def jobs(self) -> str:
        """Stream: one entry per dispatched job (`job` = id); workers read it in group WORKERS_GROUP."""
        return f"{self.prefix}:jobs"

    @property
    def events(self) -> str:
        """Stream: what workers report (started, progress, retry, finished); the bot reads it in BOT_GROUP."""
        return f"{self.prefix}:events"

    @property
    def workers(self) -> str:
        """Sorted set: worker id -> last beat (epoch s); the details live in `worker(id)`, which expires."""
        return f"{self.prefix}:workers"

    @property
    def cancel_channel(self) -> str:
        """Pub/sub: a job id published here stops that job on whichever worker runs it."""
        return f"{self.prefix}:cancel"

    def job(self, job_id: str) -> str:
        """Hash: the job's parameters, its input images (bytes), its status and attempt counter, and a clip's
        finished output frames (`records.frame_field`); expires."""
        return f"{self.prefix}:job:{job_id}"

    def result(self, job_id: str) -> str:
        """Hash: the job's one outcome, written with NX semantics: the first finish wins."""
        return f"{self.prefix}:result:{job_id}"

    def cancel(self, job_id: str) -> str:
        """String: present when the job was cancelled (the pub/sub message can be missed; this cannot)."""
        return f"{self.prefix}:cancel:{job_id}"

    def worker(self, worker_id: str) -> str:
        """String (JSON, with a TTL): one worker's heartbeat."""
        return f"{self.prefix}:worker:{worker_id}"
