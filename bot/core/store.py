"""Persistence: server settings, presets, jobs and pending style picks in SQLite (the schema, and a job's row
to and from `Job`); preset images and the photos of pending picks beside it.

Layout under `data_dir`:
    <database>                    SQLite (settings, presets, jobs, pending picks)
    jobs/<job id>/                a job's images (`job_files`)
    presets/<guild id>/<file>     preset images
    picks/<pick id>               the photo of a style picker waiting for its pick
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.core.job import CardRef, Job, JobState, ResultInfo
from bot.core.job_files import JobFiles, write_file
from bot.core.params import JobParams, Rerun

SCHEMA = """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (guild_id, key)
);
CREATE TABLE IF NOT EXISTS presets (
    guild_id INTEGER NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE,
    file TEXT NOT NULL,
    added_by INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (guild_id, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    content_name TEXT NOT NULL,
    style_names TEXT NOT NULL,
    created_at REAL NOT NULL,
    filesize_limit INTEGER NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    result TEXT,
    delivered INTEGER NOT NULL DEFAULT 0,
    parent_id TEXT,
    variant TEXT,
    cancelled_by INTEGER,
    card TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS pending_picks (
    id TEXT PRIMARY KEY,
    owner_id INTEGER NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    content_name TEXT NOT NULL,
    options TEXT NOT NULL
);
"""


def job_from_row(row: aiosqlite.Row) -> Job:
    result = json.loads(row["result"]) if row["result"] else None
    card = json.loads(row["card"]) if row["card"] else None
    return Job(
        id=row["id"],
        owner_id=row["owner_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        params=JobParams.from_json(json.loads(row["params"])),
        content_name=row["content_name"],
        style_names=tuple(json.loads(row["style_names"])),
        created_at=row["created_at"],
        filesize_limit=row["filesize_limit"],
        state=JobState(row["state"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
        result=ResultInfo(**result) if result else None,
        delivered=bool(row["delivered"]),
        parent_id=row["parent_id"],
        variant=Rerun(row["variant"]) if row["variant"] else None,
        cancelled_by=row["cancelled_by"],
        card=CardRef(**card) if card else None,
        seq=row["seq"],
    )


def card_json(card: CardRef | None) -> str | None:
    return json.dumps(asdict(card)) if card else None


@dataclass(frozen=True)
class Preset:
    guild_id: int
    name: str
    path: Path
    added_by: int
    created_at: float


@dataclass(frozen=True)
class PendingPick:
    """A job waiting for its member to pick a style: the photo (a file: `Store.pick_photo`) and every other
    option they gave, kept so the pick works after a restart."""

    id: str
    owner_id: int
    guild_id: int | None
    channel_id: int
    created_at: float
    """Epoch seconds of the command that showed the picker."""
    content_name: str
    options: dict[str, Any]
    """The member's options as given (`param_check.UserOptions`, as a dict)."""


def new_pick_id() -> str:
    return secrets.token_hex(8)


class Store:
    """One SQLite connection (aiosqlite runs it on its own thread) plus the files beside it (`files`)."""

    def __init__(self, data_dir: str | os.PathLike[str], database: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.database = self.data_dir / database
        self.files = JobFiles(self.data_dir)
        self.picks = self.data_dir / "picks"
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        await asyncio.to_thread(self._make_dirs)
        self._db = await aiosqlite.connect(self.database)
        self._db.row_factory = aiosqlite.Row
        await self._db.executescript(SCHEMA)
        await self._db.commit()

    def _make_dirs(self) -> None:
        for path in (
            self.data_dir,
            self.data_dir / "jobs",
            self.data_dir / "presets",
            self.picks,
            self.database.parent,
        ):
            path.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("Store.open() was not awaited")
        return self._db

    # -- server settings -------------------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> dict[str, Any]:
        async with self.db.execute("SELECT key, value FROM guild_settings WHERE guild_id = ?", (guild_id,)) as rows:
            return {row["key"]: json.loads(row["value"]) async for row in rows}

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        await self.db.execute(
            "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value",
            (guild_id, key, json.dumps(value)),
        )
        await self.db.commit()

    async def reset_guild_settings(self, guild_id: int, key: str | None = None) -> None:
        if key is None:
            await self.db.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
        else:
            await self.db.execute("DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key))
        await self.db.commit()

    # -- presets ---------------------------------------------------------------------------------

    async def presets(self, guild_id: int) -> list[Preset]:
        async with self.db.execute(
            "SELECT * FROM presets WHERE guild_id = ? ORDER BY name COLLATE NOCASE", (guild_id,)
        ) as rows:
            return [self._preset(row) async for row in rows]

    async def preset(self, guild_id: int, name: str) -> Preset | None:
        async with self.db.execute(
            "SELECT * FROM presets WHERE guild_id = ? AND name = ?", (guild_id, name.strip())
        ) as rows:
            row = await rows.fetchone()
        return self._preset(row) if row else None

    async def add_preset(self, guild_id: int, name: str, data: bytes, added_by: int, now: float) -> bool:
        """False when the server already has a preset of that name (case-insensitive)."""
        if await self.preset(guild_id, name) is not None:
            return False
        relative = f"presets/{guild_id}/{secrets.token_hex(8)}"
        await asyncio.to_thread(write_file, self.data_dir / relative, data)
        await self.db.execute(
            "INSERT INTO presets (guild_id, name, file, added_by, created_at) VALUES (?, ?, ?, ?, ?)",
            (guild_id, name, relative, added_by, now),
        )
        await self.db.commit()
        return True

    async def remove_preset(self, guild_id: int, name: str) -> bool:
        preset = await self.preset(guild_id, name)
        if preset is None:
            return False
        await self.db.execute("DELETE FROM presets WHERE guild_id = ? AND name = ?", (guild_id, preset.name))
        await self.db.commit()
        await asyncio.to_thread(preset.path.unlink, missing_ok=True)
        return True

    def _preset(self, row: aiosqlite.Row) -> Preset:
        return Preset(row["guild_id"], row["name"], self.data_dir / row["file"], row["added_by"], row["created_at"])

    # -- pending style picks ---------------------------------------------------------------------

    def pick_photo(self, pick_id: str) -> Path:
        return self.picks / pick_id

    async def add_pick(self, pick: PendingPick, photo: bytes) -> None:
        """Keep a picker's request: the photo first, so a kept row always has its photo."""
        await asyncio.to_thread(write_file, self.pick_photo(pick.id), photo)
        await self.db.execute(
            "INSERT INTO pending_picks (id, owner_id, guild_id, channel_id, created_at, content_name, options) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                pick.id,
                pick.owner_id,
                pick.guild_id,
                pick.channel_id,
                pick.created_at,
                pick.content_name,
                json.dumps(pick.options),
            ),
        )
        await self.db.commit()

    async def pick(self, pick_id: str) -> PendingPick | None:
        async with self.db.execute("SELECT * FROM pending_picks WHERE id = ?", (pick_id,)) as rows:
            row = await rows.fetchone()
        if row is None:
            return None
        return PendingPick(
            row["id"],
            row["owner_id"],
            row["guild_id"],
            row["channel_id"],
            row["created_at"],
            row["content_name"],
            json.loads(row["options"]),
        )

    async def delete_pick(self, pick_id: str) -> None:
        """Forget a picker's request and its photo (picked, or expired)."""
        await self.db.execute("DELETE FROM pending_picks WHERE id = ?", (pick_id,))
        await self.db.commit()
        await asyncio.to_thread(self.pick_photo(pick_id).unlink, missing_ok=True)

    async def delete_picks_before(self, when: float) -> int:
        """Forget the requests of pickers shown before `when`; how many there were."""
        async with self.db.execute("SELECT id FROM pending_picks WHERE created_at < ?", (when,)) as rows:
            expired = [row["id"] async for row in rows]
        for pick_id in expired:
            await self.delete_pick(pick_id)
        return len(expired)

    # -- jobs ------------------------------------------------------------------------------------

    async def add_job(
        self, job: Job, content: bytes | Path, styles: list[bytes | Path], init: Path | None = None
    ) -> Job:
        """Persist a new job with its inputs: bytes are written, paths (a parent's files) are linked."""
        await asyncio.to_thread(self.files.write_inputs, job, content, styles, init)
        cursor = await self.db.execute(
            "INSERT INTO jobs (id, owner_id, guild_id, channel_id, state, params, content_name, style_names, "
            "created_at, filesize_limit, parent_id, variant, card) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.owner_id,
                job.guild_id,
                job.channel_id,
                job.state.value,
                json.dumps(job.params.to_json()),
                job.content_name,
                json.dumps(job.style_names),
                job.created_at,
                job.filesize_limit,
                job.parent_id,
                job.variant.value if job.variant else None,
                card_json(job.card),
            ),
        )
        await self.db.commit()
        job.seq = cursor.lastrowid
        return job

    async def save_job(self, job: Job) -> None:
        """Write the job's state as the ledger changes it (state, times, result); not its card."""
        await self.db.execute(
            "UPDATE jobs SET state = ?, started_at = ?, finished_at = ?, error = ?, result = ?, cancelled_by = ? "
            "WHERE id = ?",
            (
                job.state.value,
                job.started_at,
                job.finished_at,
                job.error,
                json.dumps(asdict(job.result)) if job.result else None,
                job.cancelled_by,
                job.id,
            ),
        )
        await self.db.commit()

    async def save_card(self, job_id: str, card: CardRef) -> None:
        """Where the job's card lives now (`CardPlacement` records it as the card moves)."""
        await self.db.execute("UPDATE jobs SET card = ? WHERE id = ?", (card_json(card), job_id))
        await self.db.commit()

    async def mark_delivered(self, job_id: str) -> None:
        """The result reached Discord."""
        await self.db.execute("UPDATE jobs SET delivered = 1 WHERE id = ?", (job_id,))
        await self.db.commit()

    async def job(self, job_id: str) -> Job | None:
        async with self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as rows:
            row = await rows.fetchone()
        return job_from_row(row) if row else None

    async def active_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        return await self._jobs("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq")

    async def undelivered_results(self) -> list[Job]:
        return await self._jobs("SELECT * FROM jobs WHERE state = 'done' AND delivered = 0 ORDER BY seq")

    async def finished_before(self, when: float) -> list[Job]:
        return await self._jobs(
            "SELECT * FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < ? ORDER BY seq",
            (when,),
        )

    async def delete_job(self, job_id: str) -> None:
        """Forget a finished job and its files (retention)."""
        await self.files.delete(job_id)
        await self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        await self.db.commit()

    async def _jobs(self, query: str, args: tuple[Any, ...] = ()) -> list[Job]:
        async with self.db.execute(query, args) as rows:
            return [job_from_row(row) async for row in rows]
