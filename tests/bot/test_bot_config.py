"""Configuration: the example file documents every key, loads unchanged, and bad input is named."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config, schema

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_loads_unchanged_and_states_the_defaults():
    assert load_config(EXAMPLE, environ={}) == Config()


def test_the_example_has_exactly_the_keys_the_code_knows():
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))

    assert {section: tuple(values) for section, values in example.items()} == schema()


def test_every_key_in_the_example_is_commented_with_its_default():
    comment: list[str] = []
    undocumented = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif match := re.match(r"(\w+) = ", line):
            if not any("efault" in text for text in comment):
                undocumented.append(match[1])
            comment = []
        else:
            comment = []
    assert undocumented == []


def test_environment_overrides_win_and_are_parsed_by_type(tmp_path):
    path = write(tmp_path, "[limits]\nmax_size = 512\n")

    config = load_config(
        path,
        environ={
            "STYLEBOT_LIMITS_MAX_SIZE": "768",
            "STYLEBOT_BOT_SYNC_GUILD_IDS": "111, 222",
            "STYLEBOT_METRICS_ENABLED": "yes",
            "STYLEBOT_DEFAULTS_LEARNING_RATE": "2.5",
            "STYLEBOT_STORAGE_DATA_DIR": "/data",
            "DISCORD_TOKEN": "not a setting, and not our prefix",
        },
    )

    assert config.limits.max_size == 768
    assert config.bot.sync_guild_ids == (111, 222)
    assert config.metrics.enabled is True
    assert config.defaults.learning_rate == 2.5
    assert config.database_path == Path("/data/stylebot.sqlite3")
    assert load_config(None, environ={"STYLEBOT_DEFAULTS_LEARNING_RATE": "auto"}).defaults.learning_rate is None


def test_every_problem_is_reported_in_one_message(tmp_path):
    path = write(
        tmp_path,
        """
[limits]
max_sise = 512
max_iterations = 0
queue_max = "many"

[engine]
precision = "fp64"

[storage]
data_dir = ""

[bots]
log_level = "INFO"
""",
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"STYLEBOT_LIMIT_MAX_SIZE": "1", "STYLEBOT_BOT_PROGRESS_INTERVAL": "soon"})

    problems = str(caught.value).splitlines()
    assert f"{path}: [limits] max_sise is not a known key (did you mean 'max_size'?)" in problems
    assert f"{path}: [limits] max_iterations must be from 1 to 10000, not 0" in problems
    assert f"{path}: [limits] queue_max must be an integer from 1 to 10000, not 'many'" in problems
    assert f"{path}: [engine] precision must be one of 'auto', 'fp32', 'bf16', not 'fp64'" in problems
    assert f"{path}: [storage] data_dir must not be empty" in problems
    assert f"{path}: [bots] is not a known section (did you mean 'bot'?)" in problems
    assert any(p.startswith("environment: STYLEBOT_LIMIT_MAX_SIZE does not name a setting") for p in problems)
    assert "environment: STYLEBOT_BOT_PROGRESS_INTERVAL must be a number from 0 to 600, not 'soon'" in problems
    assert len(problems) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits\nmax_size = 1", "is not valid TOML"),
        ("limits = 3", "limits must be a [limits] table"),
        ("[metrics]\nenabled = 1", "[metrics] enabled must be true or false, not 1"),
        ('[bot]\nsync_guild_ids = [1, "2"]', "[bot] sync_guild_ids must be a list of integers"),
        ('[engine]\ndevice = "gpu"', "[engine] device is not a valid value: 'gpu'"),
        ("[health]\ninterval_s = 60.0\nmax_age_s = 30.0", "max_age_s (30) must be longer than interval_s (60)"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text), environ={})


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
