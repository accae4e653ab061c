"""The SQLite schema, and a job's row to and from the `Job` model."""

from __future__ import annotations

import json
from dataclasses import asdict

import aiosqlite

from bot.core.job import CardRef, Job, JobState, ResultInfo
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
