"""Stopping at any moment: a process whose engine thread is loading, warming up, idle or mid-job exits 0.

Each run is a real process with the real engine (CPU, 64 px), stopped with SIGINT (the Docker
image's stop signal) or SIGTERM when it reaches a stage. A thread left inside PyTorch at exit
would abort it ("terminate called without an active exception", status 134).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Runs the in-process queue and the engine thread as `stylebot run` does, without Discord: the
# ledger's part is a recorder that prints each event, so the test can stop the process at a stage.
SCRIPT = textwrap.dedent("""
    import asyncio, logging, signal, sys
    import torch
    torch.set_num_threads(1)
    from pathlib import Path
    from stylecore import Engine, StyleOptions
    from bot.queue.messages import WorkItem
    from bot.queue.in_process import InProcessQueue
    from bot.queue.engine.thread import EngineThread

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s", force=True)

    class Events:
        async def on_event(self, event):
            print(type(event).__name__, flush=True)

    async def main(with_job):
        # As `stylebot run` does: SIGTERM cancels the main task, like SIGINT.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
        queue = InProcessQueue(EngineThread(Engine(device="cpu"), warm_up=True))
        await queue.start(Events())
        print("started", flush=True)
        try:
            if with_job:
                options = StyleOptions(size=64, iterations=10_000, multiscale=False, progress_every=1).validated()
                await queue.put(WorkItem("job1", Path(sys.argv[2]), (Path(sys.argv[3]),), options, 10**7, 10**8))
            await asyncio.Event().wait()
        finally:
            await queue.close()
            print("closed", flush=True)

    try:
        asyncio.run(main(sys.argv[1] == "job"))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
""")


def run_until(marker: str, *, with_job: bool, stop: signal.Signals) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SCRIPT,
            "job" if with_job else "idle",
            str(EXAMPLES / "cat.png"),
            str(EXAMPLES / "starry_night.jpg"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
        # As Docker starts it. A shell's background job (`pytest ... &`) inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: the stop would never arrive.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = []
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    stopped_at = time.monotonic()
    process.send_signal(stop)
    try:
        rest, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        rest, _ = process.communicate()
    return process.returncode, "".join(seen) + rest, time.monotonic() - stopped_at


@pytest.mark.parametrize(
    ("stage", "marker", "with_job", "stop"),
    [
        ("during the model load", "started", False, signal.SIGINT),
        ("during the warm-up", "engine loaded", False, signal.SIGINT),  # logged before it warms up
        ("idle", "engine warmed up", False, signal.SIGTERM),
        ("mid-job", "JobUpdated", True, signal.SIGINT),
    ],
)
def test_a_stop_at_any_stage_exits_cleanly_within_seconds(stage, marker, with_job, stop):
    code, output, took = run_until(marker, with_job=with_job, stop=stop)

    assert marker in output, output
    assert "terminate called" not in output
    assert code == 0, output
    assert "closed" in output and took < 20, (stage, took)
    if with_job:
        assert "JobFinished" not in output  # interrupted, not finished: it stays queued for the next start
