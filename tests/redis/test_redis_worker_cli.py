"""`stylebot worker` as a new user runs it: wrong set-ups exit 2 with one line, a stop at any moment exits 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

STYLEBOT = [sys.executable, "-c", "import sys; from bot.__main__ import main; sys.exit(main())"]


def config(tmp_path: Path, queue: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'{queue}\n[storage]\ndata_dir = "{tmp_path / "data"}"\n[engine]\nwarm_up = false\ndevice = "cpu"\n',
        encoding="utf-8",
    )
    return path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_needs_the_redis_backend(tmp_path):
    done = subprocess.run(
        [*STYLEBOT, "worker", "--config", str(config(tmp_path, ""))], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert done.stderr == 'stylebot: a worker needs [queue] backend = "redis" (and the bot configured the same)\n'


@pytest.mark.parametrize("when", ["while PyTorch loads", "while Redis is unreachable"])
def test_a_worker_stopped_at_any_moment_exits_0_and_never_shows_the_password(tmp_path, when):
    queue = f'[queue]\nbackend = "redis"\nredis_url = "redis://:s3cret@127.0.0.1:{closed_port()}/0"'
    process = subprocess.Popen(
        [*STYLEBOT, "worker", "--config", str(config(tmp_path, queue))], stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines = []
    # Loading: it says so, then imports PyTorch for seconds. Running: it logs each attempt to reach Redis.
    marker = "loading the engine" if when == "while PyTorch loads" else "Redis unreachable"
    for line in process.stderr:
        lines.append(line)
        if marker in line:
            break
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=30)[1]

    assert process.returncode == 0, rest
    output = "".join(lines) + rest
    assert "Traceback" not in output and "s3cret" not in output
    if when == "while Redis is unreachable":
        assert "redis://:***@127.0.0.1" in output
