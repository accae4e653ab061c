"""A job's files under the data directory: its inputs, its result and timelapse.

Layout under `data_dir/jobs/<job id>/`:
    content                  the content image as uploaded (already checked)
    style<N>                 the style images, in order
    init                     an upscale's starting image (its parent's result)
    frames/NNNN.png          a clip's output frames finished so far, while it runs: a run interrupted by a
                             stop goes on from them at the next start
    stylized-…               the encoded result, kept for Upscale ×2 until retention
    timelapse-…              the run as an animated image, for the Timelapse button
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from bot.core.job import Job


class JobFiles:
    """Where each file of a job lives, and writing them so that a reader never sees half a file."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "jobs"

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def content_path(self, job: Job) -> Path:
        return self.job_dir(job.id) / "content"

    def style_paths(self, job: Job) -> tuple[Path, ...]:
        return tuple(self.job_dir(job.id) / f"style{index}" for index in range(1, len(job.style_names) + 1))

    def init_path(self, job: Job) -> Path:
        return self.job_dir(job.id) / "init"

    def frame_path(self, job: Job, index: int) -> Path:
        return self.job_dir(job.id) / "frames" / f"{index:04d}.png"

    def finished_frames(self, job: Job) -> tuple[Path, ...]:
        """A clip's finished frames kept, in order from the first, up to the first missing one (blocking)."""
        paths: list[Path] = []
        while (path := self.frame_path(job, len(paths))).exists():
            paths.append(path)
        return tuple(paths)

    async def drop_frames(self, job: Job) -> None:
        """Forget a clip's finished frames: its result is kept, or they are of a size no longer run."""
        await asyncio.to_thread(shutil.rmtree, self.job_dir(job.id) / "frames", True)

    def result_path(self, job: Job) -> Path | None:
        return self.job_dir(job.id) / job.result.file_name if job.result else None

    def timelapse_path(self, job: Job) -> Path | None:
        file_name = job.result.timelapse_file if job.result else None
        return self.job_dir(job.id) / file_name if file_name else None

    async def write_output(self, path: Path | None, data: bytes) -> None:
        """Write a result, timelapse or finished frame file (`result_path`, `timelapse_path`, `frame_path`)."""
        assert path is not None, "job.result must be set first"
        await asyncio.to_thread(write_file, path, data)

    async def read_output(self, path: Path | None) -> bytes | None:
        """A result or timelapse file; None once retention removed it."""
        try:
            return await asyncio.to_thread(path.read_bytes) if path else None
        except FileNotFoundError:
            return None

    def write_inputs(self, job: Job, content: bytes | Path, styles: list[bytes | Path], init: Path | None) -> None:
        """A new job's inputs (blocking): bytes are written, paths (a parent's files) are linked."""
        directory = self.job_dir(job.id)
        directory.mkdir(parents=True, exist_ok=False)
        for target, source in zip((self.content_path(job), *self.style_paths(job)), (content, *styles), strict=True):
            if isinstance(source, Path):
                _link_or_copy(source, target)
            else:
                write_file(target, source)
        if init is not None:
            _link_or_copy(init, self.init_path(job))

    async def delete(self, job_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.job_dir(job_id), True)


def write_file(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename it: a crash leaves the old file or none, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not supported: a copy costs only disk
        shutil.copyfile(source, target)
