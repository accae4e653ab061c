"""A store on a full disk, for the fault tests of every backend: saving a job's end fails while the fault lasts."""

from __future__ import annotations

import errno
import os

from bot.core.job import Job
from bot.core.store import Store


class Disk:
    """The fault: how many more saves of a job's end fail. Shared by a bot's store and the store of the bot
    that replaces it after a restart."""

    def __init__(self, failures: int) -> None:
        self.failures = failures


class FullDiskStore(Store):
    """Fails saving a job's end (done, failed, cancelled) while `disk.failures` lasts, as a full disk does:
    the state before it stays saved."""

    def __init__(self, *args: object, disk: Disk, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Store's own arguments, passed through
        self.disk = disk

    async def save_job(self, job: Job) -> None:
        if not job.state.active and self.disk.failures > 0:
            self.disk.failures -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        await super().save_job(job)
