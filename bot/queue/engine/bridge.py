"""The one bridge from the engine thread to the event loop, for both backends: a job submitted to the
thread, its reports relayed to the loop as they come, its outcome awaited, and a cancel handed back.

The thread calls back on its own thread; each report is passed to the loop with
`call_soon_threadsafe`, so the loop only ever sees whole, copied messages (`WorkUpdate`, `Outcome`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from bot.queue.engine.thread import EngineThread
from bot.queue.messages import Outcome, WorkFrame, WorkItem, WorkProgress, WorkRetry, WorkUpdate


class EngineRun:
    """One job on the engine thread, followed from the event loop: `start` it, then read `next_update`
    until it returns None. A cancel before `start` is kept: the engine then gives up at once."""

    def __init__(self, engine: EngineThread, item: WorkItem) -> None:
        self.engine = engine
        self.item = item
        self.outcome: Outcome | None = None
        """Set once the thread is done with the job (not when `EngineThread.stop` interrupted it)."""
        self._cancel = threading.Event()
        self._inbox: asyncio.Queue[WorkUpdate | Outcome] = asyncio.Queue()

    def start(self) -> None:
        """Submit the job to the engine thread (on the event loop, which its reports go to)."""
        loop = asyncio.get_running_loop()

        def send(message: WorkUpdate | Outcome) -> None:
            # RuntimeError: the loop closed while the engine was still finishing; nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._inbox.put_nowait, message)

        self.engine.submit(self.item, cancel=self._cancel, on_update=send, on_done=send)

    @property
    def job_id(self) -> str:
        return self.item.job_id

    def cancel(self) -> None:
        """Stop the job: the engine gives up within one iteration, and the outcome is `WorkCancelled`."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    async def next_update(self) -> WorkUpdate | None:
        """The engine's next report; None once the job is over, its `outcome` then set.

        Safe to cancel (e.g. under `asyncio.wait_for`): a report not yet taken stays for the next call.
        """
        if self.outcome is not None:
            return None
        message = await self._inbox.get()
        if isinstance(message, WorkProgress | WorkRetry | WorkFrame):
            return message
        self.outcome = message
        return None
