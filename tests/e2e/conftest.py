"""Run the installed ``gambiarra-client`` as a real subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def command() -> list[str]:
    """The installed console script next to this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("gambiarra-client")
    found = str(beside) if beside.exists() else shutil.which("gambiarra-client")
    assert found, "gambiarra-client is not installed in this environment"
    return [found]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus any GAMBIARRA_* a developer may have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMBIARRA_")}
    env.update(extra)
    env["PYTHONIOENCODING"] = "utf-8"
    return env
