"""Light entry points stay light: the bot's config and health check must not import PyTorch."""

from __future__ import annotations

import subprocess
import sys


def test_options_errors_and_bot_config_do_not_import_torch() -> None:
    code = "import sys, stylecore.options, stylecore.errors, bot.config, bot.ops.health; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_top_level_names_still_resolve() -> None:
    import stylecore

    assert stylecore.Engine.__name__ == "Engine"
    assert issubclass(stylecore.Cancelled, stylecore.StyleCoreError)
    # Every advertised name resolves, and the lazy table and __all__ agree.
    assert all(getattr(stylecore, name) is not None for name in stylecore.__all__)
    assert set(stylecore.__all__) == set(stylecore._EXPORTS)
