"""A program written against the public API type-checks under ``mypy --strict``,
and mistakes in it are caught: the API's types are real, not ``Any``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONSUMER = """\
from __future__ import annotations

from collections.abc import AsyncIterator

import anyio

import gambiarra
from gambiarra import RunnerRequest, SessionEvent, TokenChunk


async def eco(request: RunnerRequest) -> AsyncIterator[str | TokenChunk]:
    yield f"{request.prompt} ({request.seconds_left()})"
    yield TokenChunk("hmm", reasoning=True)


def on_event(event: SessionEvent) -> None:
    match event:
        case gambiarra.Tokens(text=text, count=count):
            print(text, count + 1)
        case gambiarra.RoundEnded(outcome=gambiarra.Outcome.FAILED):
            print(event.error, event.tokens_per_second)
        case gambiarra.Connected(first=False, resent=resent):
            print(resent)
        case _:
            print(type(event).__name__)


async def main() -> int:
    settings: gambiarra.Settings = gambiarra.make_settings("practice", runner="mock")
    await gambiarra.practice(settings, prompt="oi", runner=eco, listener=on_event)
    async with gambiarra.Session(settings, practice=True) as session:
        async for event in session:
            if isinstance(event, gambiarra.SessionEnded):
                return event.exit_code
    try:
        await gambiarra.play(settings, screen="json", world=False)
    except gambiarra.GambiarraError as error:
        return int(error.exit_code)
    runners = [r.name for r in gambiarra.available_runners() if not r.builtin]
    return len(runners) + len(gambiarra.OPTIONS) + len(gambiarra.COMMANDS["play"])


anyio.run(main)
"""

MISTAKES = """
async def wrong() -> None:
    settings = gambiarra.make_settings()
    await gambiarra.play(settings, screen="tv")
    count: str = gambiarra.Tokens(round=1, text="a").count
    gambiarra.RunnerRequest(round=1, prompt="p")
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "consumer.py"
    program.write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         str(program)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip


def test_a_program_using_the_public_api_passes_mypy_strict(tmp_path: Path) -> None:
    result = mypy(tmp_path, CONSUMER)
    assert result.returncode == 0, result.stdout + result.stderr


def test_misuse_of_the_public_api_is_caught(tmp_path: Path) -> None:
    result = mypy(tmp_path, CONSUMER.replace("anyio.run(main)\n", MISTAKES))
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 3, result.stdout
    assert "Literal['tv']" in errors[0]
    assert 'has type "int", variable has type "str"' in errors[1]
    assert '"max_tokens", "temperature", "model" in call to "RunnerRequest"' in errors[2]
